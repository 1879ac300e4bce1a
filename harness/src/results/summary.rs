//! `summary.json`: the headline metrics of one run, with unit-suffixed names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use syncbench_node::config::NodeMode;
use syncbench_node::config::StoreKind;
use syncbench_node::CompactionMode;

use crate::latency::LatencySummary;
use crate::record::acks::AckCounts;
use crate::record::ceilings::{efficiency, Bound, Ceilings, DiskUse};
use crate::record::outcome::{CrashClass, Outcome};
use crate::results::ratchet::{RatchetSummary, WindowPeaks};
use crate::settings::Allocator;
use crate::units::{fmt_bytes, round1, round3, MIB};
use crate::verify::SampleCheck;

/// ## Format
/// One pretty-printed JSON object, field names with units; written by a run, read back
/// (only through this type) by `report`, comparisons, `gate` and `ab`. Fields added
/// after the first committed runs default when absent, so those runs still read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub outcome: Outcome,
    pub crash_class: Option<CrashClass>,
    /// Why a completed session is not `ok` (outcome `protocol_violation`).
    pub protocol_violation: Option<String>,
    /// What stalled, when the outcome is `stalled` (absent otherwise, and in runs
    /// recorded before stalls were detected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall: Option<crate::record::outcome::Stall>,
    pub exit_code: Option<i32>,
    pub exit_signal: Option<String>,
    pub workload: String,
    /// Fingerprint of the resolved workload (what generates the blocks), so runs of
    /// different specs under one name are never compared as alike.
    #[serde(default)]
    pub workload_spec_hash: String,
    pub alloc: Allocator,
    pub compaction: CompactionMode,
    pub compaction_concurrency: u64,
    pub arena_max: Option<u32>,
    /// What the node announced it does with blocks: `store`, `sink`, `null_writer`.
    pub node_mode: Option<NodeMode>,
    pub wall_s: f64,
    pub ingest_s: f64,
    pub blocks: u64,
    pub blocks_expected: u64,
    /// Blocks sent and acknowledgements, as the driver counted them.
    #[serde(default)]
    pub acks: AckCounts,
    /// Acknowledged blocks read back from the store after the run (`--verify-sample`);
    /// absent when not attempted (the session failed, `--verify-sample 0`, or the node
    /// announced it stores nothing).
    pub verify_sample: Option<SampleCheck>,
    pub bytes_ingested: u64,
    pub throughput_blocks_per_s: f64,
    pub throughput_mib_per_s: f64,
    /// The node's own peak resident set (VmHWM): the later of the sampler's last read and
    /// the node's final read of itself. Never `wait4`'s `ru_maxrss`, which Linux carries
    /// over from the harness across fork + exec. 0 when neither was available.
    pub rss_peak_bytes: u64,
    /// Where `rss_peak_bytes` came from: `node_final_read`, `samples` or `unavailable`.
    #[serde(default)]
    pub rss_peak_source: String,
    /// Highest VmRSS among the samples.
    pub rss_peak_sampled_bytes: u64,
    /// RSS the node stayed at or below for half / 95 % of its life (time-weighted).
    pub rss_p50_bytes: Option<u64>,
    pub rss_p95_bytes: Option<u64>,
    /// ∫ RSS dt over the node's life, in MiB·s per GiB ingested.
    pub rss_mib_s_per_gib: Option<f64>,
    /// Peak live heap: the node's own 2 ms sampling (or the stats events' maximum).
    pub heap_live_peak_bytes: Option<i64>,
    /// Live heap after the session (pipeline drained, compactions done): what stays
    /// allocated — leaks show here exactly.
    pub heap_live_end_bytes: Option<i64>,
    /// The node's RssAnon minus its live heap after the session (both read by the node
    /// at the same moment, in `node_summary`): memory the process holds that the
    /// program does not (allocator retention, fragmentation, size-class rounding,
    /// stacks). Absent when the node did not report both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retained_end_bytes: Option<i64>,
    /// The lowest sampled RSS after each completed compaction (until the next one
    /// completed) in brief: how many, the first and last, and their least-squares
    /// slopes per compaction and per GiB ingested. The floors are `ratchet.csv`.
    /// Absent when no sample followed a completed compaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_ratchet: Option<RatchetSummary>,
    /// The highest sampled RSS of each compaction window after the first tenth of the
    /// run's bytes (lowest, median, highest): a long run's peak should stay flat.
    /// Absent with fewer than 3 such windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_window_peaks: Option<WindowPeaks>,
    /// VmRSS minus the live heap at each of the node's stats events (RSS of the latest
    /// sample at or before it): median, maximum and last over the run. Absent when the
    /// node did not count its heap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retained_p50_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retained_max_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retained_last_bytes: Option<i64>,
    /// glibc's arena count over the run (the node's stats events): first, highest, last.
    /// Absent for other allocators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arenas_first: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arenas_max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arenas_last: Option<u64>,
    pub alloc_count: Option<u64>,
    pub alloc_bytes_total: Option<u64>,
    /// `--store` (absent for the native store, and in runs recorded before the choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<syncbench_node::config::StoreKind>,
    /// `--store rocksdb`: RocksDB's own memory accounting over the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineFigures>,
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// Storage writes of the node (`/proc/<pid>/io` `write_bytes`, read after it exited).
    pub bytes_written: u64,
    /// Storage reads of the node (`read_bytes`; compaction reads WALs back), from the
    /// same place as `bytes_written`; 0 in runs recorded before it was kept.
    #[serde(default)]
    pub bytes_read: u64,
    /// Where `bytes_written` and `bytes_read` came from: `node_exit` (the exited node,
    /// exact), `node_final_read` (its own last read) or `last_sample`.
    #[serde(default)]
    pub bytes_written_source: String,
    /// Bytes the node wrote to its store by its own count (WAL payloads + segments):
    /// deterministic, unlike `bytes_written` whose last sample may miss the end.
    pub store_bytes_written: Option<u64>,
    /// True if the node's WAL and segment I/O bypassed the page cache (O_DIRECT), false
    /// where the filesystem refused it; absent if the node opened no WAL.
    pub direct_io: Option<bool>,
    pub compactions: u64,
    pub compaction_s_total: f64,
    /// Times the node's writer stopped taking blocks because more sealed shards waited
    /// for compaction than `--max-compaction-backlog` allows, and the seconds it waited
    /// in all (the node's `ingest_stall` events; 0 in runs recorded before them).
    #[serde(default)]
    pub ingest_stalls: u64,
    #[serde(default)]
    pub ingest_stall_s_total: f64,
    pub latency_us: BTreeMap<String, LatencySummary>,
    /// `samples`, `sample_interval_ms`, `sampler_cost_us_mean`, `sampler_cpu_pct_of_core`
    /// (flattened: the same fields, in the same place, as before they were grouped).
    #[serde(flatten)]
    pub sampler: SamplerFigures,
    /// Present while, or because, the run's other files were not all written: what
    /// failed (e.g. a full disk, with the file's path). Absent in a complete run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// `--heap-profile`: the profiles kept under heap/ and the top sites at the peak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_profile: Option<crate::record::heap_profile::HeapProfileSummary>,
    /// How close the node came to this machine's ceilings (absent with `--no-ceilings`).
    #[serde(flatten, deserialize_with = "ceilings_if_measured")]
    pub ceilings: Option<CeilingSummary>,
}

/// The ceiling fields, present only if a ceiling was measured (all fields of
/// [`CeilingSummary`] may be absent, so "no ceilings" cannot be told by a failed parse).
fn ceilings_if_measured<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<CeilingSummary>, D::Error> {
    let c = CeilingSummary::deserialize(d)?;
    let measured = c.disk_ceiling_mib_per_s.is_some() || c.cpu_ceiling_mib_per_s.is_some() || c.efficiency.is_some();
    Ok(measured.then_some(c))
}

/// The ceiling fields of `summary.json` (see `run::ceiling`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CeilingSummary {
    /// Mean of the before and after disk probes (MiB/s of fdatasync'd writes).
    pub disk_ceiling_mib_per_s: Option<f64>,
    pub disk_ceiling_before_mib_per_s: Option<f64>,
    pub disk_ceiling_after_mib_per_s: Option<f64>,
    /// Storage bytes written by the node ÷ payload bytes ingested (WAL + segments).
    pub write_amplification: Option<f64>,
    /// Mean read bandwidth of the disk probes (1 MiB O_DIRECT reads of their files),
    /// and storage bytes read by the node ÷ payload bytes ingested (compaction reading
    /// the WALs back). Absent in runs recorded before the probe read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_read_ceiling_mib_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_amplification: Option<f64>,
    pub cpu_ceiling_blocks_per_s: Option<f64>,
    pub cpu_ceiling_mib_per_s: Option<f64>,
    /// How many CPU probes succeeded (the ceiling is the fastest).
    #[serde(default)]
    pub cpu_ceiling_probes: usize,
    /// The mix: write and read bandwidth of the disk probes writing and reading at once,
    /// reads held to half the bytes written (mean of before and after). Absent in runs
    /// recorded before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_mixed_write_mib_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_mixed_read_mib_per_s: Option<f64>,
    /// The disk's limit for the node as measured by the mix — `(mixed write + mixed
    /// read) ÷ (write_amplification + read_amplification)` — present when the node's
    /// reads-to-writes ratio is close to the mix's; and as modelled from the separate
    /// probes — `1 ÷ (write_amplification ÷ disk_ceiling + read_amplification ÷
    /// disk_read_ceiling)`. Both absent in runs recorded before them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_limit_mixed_mib_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_limit_model_mib_per_s: Option<f64>,
    /// Achieved throughput ÷ min(disk limit, CPU ceiling), where the disk limit is the
    /// mixed one when present, else the modelled one (in runs recorded before
    /// 2026-12-05 always the model, with writes alone before the read figures).
    pub efficiency: Option<f64>,
    /// Achieved throughput ÷ min(modelled disk limit, CPU ceiling): the efficiency as
    /// runs before the mix computed it, for comparison with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub efficiency_model: Option<f64>,
    /// Which ceiling was the lower one: `disk` or `cpu`.
    pub efficiency_bound: Option<Bound>,
    pub efficiency_bound_mib_per_s: Option<f64>,
}

/// What the sampler took and what it cost.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamplerFigures {
    pub samples: u64,
    pub sample_interval_ms: u64,
    /// Mean time the sampler spent per sample, and as a share of one core.
    pub sampler_cost_us_mean: f64,
    pub sampler_cpu_pct_of_core: f64,
}

impl Summary {
    /// Fills the ceiling fields from the run's probes (no-op if none ran).
    pub fn with_ceilings(mut self, c: &Ceilings) -> Summary {
        if c.disk_before.is_none() && c.disk_after.is_none() && c.cpu.is_none() && c.errors.is_empty() {
            return self;
        }
        let per_ingested = |bytes: u64| {
            (self.bytes_ingested > 0 && bytes > 0).then(|| round3(bytes as f64 / self.bytes_ingested as f64))
        };
        let disk = DiskUse {
            write_mib_per_s: c.disk_mib_per_s(),
            read_mib_per_s: c.disk_read_mib_per_s(),
            mixed_mib_per_s: c.disk_mixed_mib_per_s(),
            write_amplification: per_ingested(self.bytes_written),
            read_amplification: per_ingested(self.bytes_read),
        };
        let cpu_mib = c.cpu.as_ref().map(|p| p.mib_per_s);
        // A sink does none of the node's work: its throughput measures the driver, and
        // set against the node's ceilings it would read as an efficiency of several 100 %.
        let stores = self.node_mode != Some(NodeMode::Sink);
        let e = efficiency(self.throughput_mib_per_s, disk, cpu_mib).filter(|_| stores);
        let modelled = DiskUse { mixed_mib_per_s: None, ..disk };
        let e_model = efficiency(self.throughput_mib_per_s, modelled, cpu_mib).filter(|_| stores);
        self.ceilings = Some(CeilingSummary {
            disk_ceiling_mib_per_s: disk.write_mib_per_s,
            disk_ceiling_before_mib_per_s: c.disk_before.as_ref().map(|p| p.mib_per_s),
            disk_ceiling_after_mib_per_s: c.disk_after.as_ref().map(|p| p.mib_per_s),
            write_amplification: disk.write_amplification,
            disk_read_ceiling_mib_per_s: disk.read_mib_per_s,
            read_amplification: disk.read_amplification,
            disk_mixed_write_mib_per_s: disk.mixed_mib_per_s.map(|(w, _)| w),
            disk_mixed_read_mib_per_s: disk.mixed_mib_per_s.map(|(_, r)| r),
            disk_limit_mixed_mib_per_s: disk.mixed_limit_mib_per_s().map(round1),
            disk_limit_model_mib_per_s: disk.model_limit_mib_per_s().map(round1),
            cpu_ceiling_blocks_per_s: c.cpu.as_ref().map(|p| p.blocks_per_s),
            cpu_ceiling_mib_per_s: cpu_mib,
            cpu_ceiling_probes: c.cpu_attempts.len(),
            efficiency: e.map(|e| e.ratio),
            efficiency_model: e_model.map(|e| e.ratio),
            efficiency_bound: e.map(|e| e.bound),
            efficiency_bound_mib_per_s: e.map(|e| e.bound_mib_per_s),
        });
        self
    }
}

impl Summary {
    /// The compact text printed at the end of `syncbench ingest`.
    pub fn human(&self, run_dir: &str) -> String {
        let mut lines = self.human_run_lines();
        lines.extend(self.human_memory_lines());
        lines.extend(self.human_time_lines());
        lines.push(self.acks_line());
        if let Some(direct) = self.direct_io {
            let how = if direct { "direct (O_DIRECT: page cache bypassed)" } else { "buffered (O_DIRECT refused)" };
            lines.push(format!("store I/O    {how}"));
        }
        if let Some(c) = &self.ceilings {
            lines.push(c.human(self.throughput_mib_per_s));
        }
        if let Some(h) = &self.heap_profile {
            lines.extend(heap_lines(h, run_dir));
        }
        lines.push(format!("results      {run_dir}/ (charts in {run_dir}/charts/)"));
        lines.join("\n")
    }

    /// Outcome, configuration, blocks, throughput, a stall or a protocol violation.
    fn human_run_lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "outcome      {}{}",
            self.outcome,
            self.crash_class.map(|c| format!(" ({})", c.as_str())).unwrap_or_default()
        )];
        let arena = match (self.alloc, self.arena_max) {
            (Allocator::Glibc, Some(n)) => format!(" · MALLOC_ARENA_MAX={n}"),
            (Allocator::Glibc, None) => " · MALLOC_ARENA_MAX unset".to_owned(),
            _ => String::new(),
        };
        let mode = match self.node_mode {
            Some(m) if m != NodeMode::Store => format!(" · node mode {} (stores nothing)", m.as_str()),
            _ => String::new(),
        };
        let store = match self.store {
            Some(StoreKind::Rocksdb) => format!("RocksDB store, {} background jobs", self.compaction_concurrency + 1),
            _ => format!("{} compaction, concurrency {}", self.compaction, self.compaction_concurrency),
        };
        lines.push(format!(
            "config       {}{arena} · {store} · workload {} ({} blocks){mode}",
            self.alloc, self.workload, self.blocks_expected
        ));
        if let Some(e) = &self.engine {
            lines.push(format!(
                "engine       RocksDB accounts p50 {}, peak {} (memtables ≤ {}, block cache ≤ {}); {} flush and {} compaction periods",
                fmt_bytes(e.accounted_p50_bytes as f64),
                fmt_bytes(e.accounted_peak_bytes as f64),
                fmt_bytes(e.memtables_peak_bytes as f64),
                fmt_bytes(e.block_cache_peak_bytes as f64),
                e.flush_periods,
                e.compaction_periods
            ));
        }
        lines.push(format!(
            "blocks       {} of {} ({})",
            self.blocks,
            self.blocks_expected,
            fmt_bytes(self.bytes_ingested as f64)
        ));
        lines.push(format!(
            "throughput   {:.0} blocks/s, {:.1} MiB/s over {:.1} s",
            self.throughput_blocks_per_s, self.throughput_mib_per_s, self.ingest_s
        ));
        if let Some(s) = &self.stall {
            lines.push(format!(
                "stall        {} at {:.1} s for {:.1} s (--stall-timeout)",
                s.kind.as_str(),
                s.at_ms as f64 / 1e3,
                s.duration_ms as f64 / 1e3
            ));
        }
        if let Some(v) = &self.protocol_violation {
            lines.push(format!("violation    {v}"));
        }
        lines
    }

    /// Peak RSS and live heap, RSS over time, retention, the ratchet and window peaks.
    fn human_memory_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        lines.push(format!(
            "peak RSS     {} (node's VmHWM, {}; sampled {}); peak live heap {}",
            if self.rss_peak_bytes > 0 { fmt_bytes(self.rss_peak_bytes as f64) } else { "n/a".into() },
            self.rss_peak_source.replace('_', " "),
            fmt_bytes(self.rss_peak_sampled_bytes as f64),
            self.heap_live_peak_bytes.map_or("n/a".into(), |b| fmt_bytes(b as f64))
        ));
        if let (Some(p50), Some(p95)) = (self.rss_p50_bytes, self.rss_p95_bytes) {
            lines.push(format!(
                "RSS in time  p50 {}, p95 {}, {:.0} MiB·s per GiB ingested",
                fmt_bytes(p50 as f64),
                fmt_bytes(p95 as f64),
                self.rss_mib_s_per_gib.unwrap_or(0.0)
            ));
        }
        if let (Some(r), Some(h)) = (self.retained_end_bytes, self.heap_live_end_bytes) {
            let r = if r < 0 { "none".to_owned() } else { fmt_bytes(r as f64) };
            lines.push(format!("retained     {r} at the end (RssAnon minus the live heap, {})", fmt_bytes(h as f64)));
        }
        if let Some(r) = &self.rss_ratchet {
            lines.push(r.human());
        }
        if let Some(p) = &self.rss_window_peaks {
            lines.push(p.human());
        }
        lines
    }

    /// Ingest and flush latency, compactions and the ingest stalls they caused.
    fn human_time_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(l) = self.latency_us.get("ingest").filter(|l| l.count > 0) {
            lines.push(format!(
                "ingest       p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                l.p50 as f64 / 1e3,
                l.p99 as f64 / 1e3,
                l.max as f64 / 1e3
            ));
        }
        if let Some(l) = self.latency_us.get("flush") {
            lines.push(format!("flush        p50 {:.1} ms, p99 {:.1} ms", l.p50 as f64 / 1e3, l.p99 as f64 / 1e3));
        }
        lines.push(format!("compactions  {} ({:.1} s total)", self.compactions, self.compaction_s_total));
        if self.ingest_stalls > 0 {
            lines.push(format!(
                "stalls       {} ({:.1} s): ingest waited for compaction's backlog (--max-compaction-backlog)",
                self.ingest_stalls, self.ingest_stall_s_total
            ));
        }
        lines
    }
}

/// The human summary's heap-profile lines: where the peak profile was taken and its
/// top three sites.
fn heap_lines(h: &crate::record::heap_profile::HeapProfileSummary, run_dir: &str) -> Vec<String> {
    let Some(p) = &h.peak else {
        return vec![format!(
            "heap profile no peak profile ({} converted, errors: {})",
            h.files.len(),
            h.errors.join("; ")
        )];
    };
    let near = p.share_of_run_peak.map_or_else(String::new, |s| format!(", {:.0} % of the run's largest", s * 100.0));
    let mut lines = vec![format!(
        "heap at peak live heap {}{near}; profiled {} (sampled every {}): {run_dir}/heap/peak.svg",
        fmt_bytes(p.heap_live_bytes as f64),
        fmt_bytes(p.profiled_live_bytes as f64),
        fmt_bytes(h.sample_interval_bytes as f64)
    )];
    lines.extend(h.errors.iter().map(|e| format!("  warning: {e}")));
    for (i, site) in p.top_sites.iter().take(3).enumerate() {
        let via = site.via.as_deref().map_or_else(String::new, |v| format!(" via {v}"));
        lines.push(format!(
            "  {}. {:>4.1} %  {}  {}{via}",
            i + 1,
            site.share * 100.0,
            fmt_bytes(site.bytes as f64),
            site.function
        ));
    }
    lines
}

impl Summary {
    /// One line per run of a suite: where, outcome, throughput, peak RSS, time.
    pub fn one_line(&self, run_dir: &str) -> String {
        format!(
            "{run_dir}: {}, {:.1} MiB/s, peak RSS {}, {:.1} s",
            self.outcome,
            self.throughput_mib_per_s,
            fmt_bytes(self.rss_peak_bytes as f64),
            self.wall_s
        )
    }

    /// What the driver checked of the node's acknowledgements and store.
    fn acks_line(&self) -> String {
        let a = &self.acks;
        let read_back = match (&self.verify_sample, self.node_mode) {
            (Some(v), _) => format!("; {} read back from the store, {} bad", v.blocks, v.problem_count()),
            (None, Some(m)) if m != NodeMode::Store => {
                format!("; not read back (the node runs as {} and stores nothing)", m.as_str())
            }
            (None, _) => "; not read back".to_owned(),
        };
        format!(
            "acks         {} of {} sent acknowledged ({} duplicate, {} unknown){read_back}",
            a.acked, a.sent, a.duplicate, a.unknown
        )
    }
}

impl CeilingSummary {
    fn human(&self, achieved: f64) -> String {
        let f = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.0}"));
        let bound = match self.efficiency_bound {
            Some(Bound::Disk) => "disk",
            Some(Bound::Cpu) => "CPU",
            None => "n/a",
        };
        let amp = |a: Option<f64>| a.map_or("n/a".to_owned(), |a| format!("{a:.2}"));
        let reads = match self.disk_read_ceiling_mib_per_s {
            Some(r) => format!(", read {r:.0} MiB/s, read amp {}", amp(self.read_amplification)),
            None => String::new(),
        };
        let mix = match (self.disk_mixed_write_mib_per_s, self.disk_mixed_read_mib_per_s) {
            (Some(w), Some(r)) => format!("; at once write {w:.0} + read {r:.0} MiB/s"),
            _ => String::new(),
        };
        // Which disk limit the efficiency used, and the other one's verdict.
        let disk_note = match (self.efficiency_bound, self.disk_limit_mixed_mib_per_s) {
            (Some(Bound::Disk), Some(_)) => format!(
                ": the measured mix; against the model ({} MiB/s) {}",
                f(self.disk_limit_model_mib_per_s),
                self.efficiency_model.map_or("n/a".to_owned(), |e| format!("{:.0} %", e * 100.0))
            ),
            (Some(Bound::Disk), None) if self.disk_read_ceiling_mib_per_s.is_some() => {
                ": modelled from separate write and read probes".to_owned()
            }
            (Some(Bound::Disk), None) => ": modelled from the writes alone".to_owned(),
            _ => String::new(),
        };
        format!(
            "ceilings     disk write {} MiB/s (before {}, after {}), write amp {}{reads}{mix} ; CPU {} MiB/s (--null-writer, best of {})\n\
             efficiency   {}",
            f(self.disk_ceiling_mib_per_s),
            f(self.disk_ceiling_before_mib_per_s),
            f(self.disk_ceiling_after_mib_per_s),
            amp(self.write_amplification),
            f(self.cpu_ceiling_mib_per_s),
            self.cpu_ceiling_probes,
            match (self.efficiency, self.efficiency_bound_mib_per_s) {
                (Some(e), Some(limit)) => {
                    format!("{:.0} % ({achieved:.0} of {limit:.0} MiB/s, {bound}-bound{disk_note})", e * 100.0)
                }
                _ => "n/a (no ceiling applies: a node that stores nothing, or the disk probe did not run: see ceilings.errors)".to_owned(),
            },
        )
    }
}

#[cfg(test)]
impl Summary {
    /// A summary of a run that ingested nothing, with `fields` set (tests build
    /// summaries from the fields they are about).
    pub fn for_test(fields: serde_json::Value) -> Summary {
        let mut v = serde_json::json!({
            "outcome": "ok", "crash_class": null, "protocol_violation": null, "exit_code": 0,
            "exit_signal": null, "workload": "smoke", "alloc": "glibc", "compaction": "streaming",
            "compaction_concurrency": 1, "arena_max": null, "node_mode": "store", "wall_s": 0.0, "ingest_s": 0.0,
            "blocks": 0, "blocks_expected": 0, "bytes_ingested": 0, "throughput_blocks_per_s": 0.0,
            "throughput_mib_per_s": 0.0, "rss_peak_bytes": 0, "rss_peak_sampled_bytes": 0, "cpu_user_s": 0.0,
            "cpu_sys_s": 0.0, "bytes_written": 0, "compactions": 0, "compaction_s_total": 0.0,
            "latency_us": {}, "samples": 0, "sample_interval_ms": 100, "sampler_cost_us_mean": 0.0,
            "sampler_cpu_pct_of_core": 0.0,
        });
        if let (Some(base), serde_json::Value::Object(set)) = (v.as_object_mut(), fields) {
            base.extend(set);
        }
        serde_json::from_value(v).expect("a valid test summary")
    }
}

pub fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        bytes as f64 / MIB / secs
    } else {
        0.0
    }
}

/// RocksDB's account of its memory over a run (`stats` events' `engine`), and its jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineFigures {
    /// Median and highest of memtables + block cache + table readers.
    pub accounted_p50_bytes: u64,
    pub accounted_peak_bytes: u64,
    pub memtables_peak_bytes: u64,
    pub block_cache_peak_bytes: u64,
    pub table_readers_peak_bytes: u64,
    /// Memtable flush and compaction periods seen (see the node's `engine_job_*`).
    pub flush_periods: u64,
    pub compaction_periods: u64,
}

impl EngineFigures {
    /// From the engine figures of a run's stats events; `None` without any.
    pub fn of(
        points: &[syncbench_node::events::EngineMemory],
        flush_periods: u64,
        compaction_periods: u64,
    ) -> Option<EngineFigures> {
        if points.is_empty() {
            return None;
        }
        let mut accounted: Vec<u64> = points.iter().map(|e| e.accounted_bytes()).collect();
        accounted.sort_unstable();
        let peak = |f: fn(&syncbench_node::events::EngineMemory) -> u64| points.iter().map(f).max().unwrap_or(0);
        Some(EngineFigures {
            accounted_p50_bytes: accounted[accounted.len() / 2],
            accounted_peak_bytes: accounted[accounted.len() - 1],
            memtables_peak_bytes: peak(|e| e.memtables_bytes),
            block_cache_peak_bytes: peak(|e| e.block_cache_bytes),
            table_readers_peak_bytes: peak(|e| e.table_readers_bytes),
            flush_periods,
            compaction_periods,
        })
    }
}

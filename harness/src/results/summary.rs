//! `summary.json`: the headline metrics of one run, with unit-suffixed names.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::latency::LatencySummary;
use crate::run::ceiling::{efficiency, Bound, Ceilings};
use crate::run::crash::{CrashClass, Outcome};
use crate::units::{fmt_bytes, round3, MIB};

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub outcome: Outcome,
    pub crash_class: Option<CrashClass>,
    pub exit_code: Option<i32>,
    pub exit_signal: Option<String>,
    pub workload: String,
    pub alloc: String,
    pub compaction: String,
    pub compaction_concurrency: u64,
    pub arena_max: Option<u32>,
    pub wall_s: f64,
    pub ingest_s: f64,
    pub blocks: u64,
    pub blocks_expected: u64,
    pub bytes_ingested: u64,
    pub throughput_blocks_per_s: f64,
    pub throughput_mib_per_s: f64,
    /// Kernel VmHWM of the node (exact, from `wait4`'s `ru_maxrss`).
    pub rss_peak_bytes: u64,
    /// Highest VmRSS among the samples.
    pub rss_peak_sampled_bytes: u64,
    /// Peak live heap: the node's own 2 ms sampling (or the stats events' maximum).
    pub heap_live_peak_bytes: Option<i64>,
    /// Live heap after the session (pipeline drained, compactions done): what stays
    /// allocated — leaks show here exactly.
    pub heap_live_end_bytes: Option<i64>,
    pub alloc_count: Option<u64>,
    pub alloc_bytes_total: Option<u64>,
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// Storage writes of the node (`/proc/<pid>/io` write_bytes at the last sample).
    pub bytes_written: u64,
    /// Bytes the node wrote to its store by its own count (WAL payloads + segments):
    /// deterministic, unlike `bytes_written` whose last sample may miss the end.
    pub store_bytes_written: Option<u64>,
    /// True if the node's WAL and segment I/O bypassed the page cache (O_DIRECT), false
    /// where the filesystem refused it; absent if the node opened no WAL.
    pub direct_io: Option<bool>,
    pub compactions: u64,
    pub compaction_s_total: f64,
    pub latency_us: BTreeMap<String, LatencySummary>,
    pub samples: u64,
    pub sample_interval_ms: u64,
    /// Mean time the sampler spent per sample, and as a share of one core.
    pub sampler_cost_us_mean: f64,
    pub sampler_cpu_pct_of_core: f64,
    /// How close the node came to this machine's ceilings (absent with `--no-ceilings`).
    #[serde(flatten)]
    pub ceilings: Option<CeilingSummary>,
}

/// The ceiling fields of `summary.json` (see `run::ceiling`).
#[derive(Debug, Clone, Serialize)]
pub struct CeilingSummary {
    /// Mean of the before and after disk probes (MiB/s of fdatasync'd writes).
    pub disk_ceiling_mib_per_s: Option<f64>,
    pub disk_ceiling_before_mib_per_s: Option<f64>,
    pub disk_ceiling_after_mib_per_s: Option<f64>,
    /// Storage bytes written by the node ÷ payload bytes ingested (WAL + segments).
    pub write_amplification: Option<f64>,
    pub cpu_ceiling_blocks_per_s: Option<f64>,
    pub cpu_ceiling_mib_per_s: Option<f64>,
    /// How many CPU probes succeeded (the ceiling is the fastest).
    pub cpu_ceiling_probes: usize,
    /// Achieved throughput ÷ min(disk ceiling ÷ write amplification, CPU ceiling).
    pub efficiency: Option<f64>,
    /// Which ceiling was the lower one: `disk` or `cpu`.
    pub efficiency_bound: Option<Bound>,
    pub efficiency_bound_mib_per_s: Option<f64>,
}

impl Summary {
    /// Fills the ceiling fields from the run's probes (no-op if none ran).
    pub fn with_ceilings(mut self, c: &Ceilings) -> Summary {
        if c.disk_before.is_none() && c.disk_after.is_none() && c.cpu.is_none() && c.errors.is_empty() {
            return self;
        }
        let write_amplification = (self.bytes_ingested > 0 && self.bytes_written > 0)
            .then(|| round3(self.bytes_written as f64 / self.bytes_ingested as f64));
        let disk = c.disk_mib_per_s();
        let cpu_mib = c.cpu.as_ref().map(|p| p.mib_per_s);
        let e = efficiency(self.throughput_mib_per_s, disk, write_amplification, cpu_mib);
        self.ceilings = Some(CeilingSummary {
            disk_ceiling_mib_per_s: disk,
            disk_ceiling_before_mib_per_s: c.disk_before.as_ref().map(|p| p.mib_per_s),
            disk_ceiling_after_mib_per_s: c.disk_after.as_ref().map(|p| p.mib_per_s),
            write_amplification,
            cpu_ceiling_blocks_per_s: c.cpu.as_ref().map(|p| p.blocks_per_s),
            cpu_ceiling_mib_per_s: cpu_mib,
            cpu_ceiling_probes: c.cpu_attempts.len(),
            efficiency: e.map(|e| e.ratio),
            efficiency_bound: e.map(|e| e.bound),
            efficiency_bound_mib_per_s: e.map(|e| e.bound_mib_per_s),
        });
        self
    }
}

impl Summary {
    /// The compact text printed at the end of `syncbench ingest`.
    pub fn human(&self, run_dir: &str) -> String {
        let mut lines = vec![format!(
            "outcome      {}{}",
            serde_json::to_value(self.outcome).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            self.crash_class
                .and_then(|c| serde_json::to_value(c).ok())
                .and_then(|v| v.as_str().map(|s| format!(" ({s})")))
                .unwrap_or_default()
        )];
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
        lines.push(format!(
            "peak RSS     {} (VmHWM; sampled {}); peak live heap {}",
            fmt_bytes(self.rss_peak_bytes as f64),
            fmt_bytes(self.rss_peak_sampled_bytes as f64),
            self.heap_live_peak_bytes.map_or("n/a".into(), |b| fmt_bytes(b as f64))
        ));
        if let Some(l) = self.latency_us.get("ingest") {
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
        if let Some(direct) = self.direct_io {
            let how = if direct { "direct (O_DIRECT: page cache bypassed)" } else { "buffered (O_DIRECT refused)" };
            lines.push(format!("store I/O    {how}"));
        }
        if let Some(c) = &self.ceilings {
            lines.push(c.human(self.throughput_mib_per_s));
        }
        lines.push(format!("results      {run_dir}/ (charts in {run_dir}/charts/)"));
        lines.join("\n")
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
        format!(
            "ceilings     disk {} MiB/s (before {}, after {}) ÷ write amp {} ; CPU {} MiB/s (--null-writer, best of {})\n\
             efficiency   {} ({achieved:.0} of {} MiB/s, {bound}-bound)",
            f(self.disk_ceiling_mib_per_s),
            f(self.disk_ceiling_before_mib_per_s),
            f(self.disk_ceiling_after_mib_per_s),
            self.write_amplification.map_or("n/a".to_owned(), |w| format!("{w:.2}")),
            f(self.cpu_ceiling_mib_per_s),
            self.cpu_ceiling_probes,
            self.efficiency.map_or("n/a".to_owned(), |e| format!("{:.0} %", e * 100.0)),
            f(self.efficiency_bound_mib_per_s),
        )
    }
}

pub fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        bytes as f64 / MIB / secs
    } else {
        0.0
    }
}

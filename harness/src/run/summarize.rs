//! `Summary::from_run`: a run's headline figures, computed from what the run collected
//! (samples, the node's events and exit, the driver's counts, the ceilings). Computed
//! here, where the run is; `results/` only writes the summary and reads it back.

use std::collections::BTreeMap;

use syncbench_node::events::NodeSummary;

use super::crash;
use super::events::Observed;
use super::record::{Collected, Plan};
use crate::latency::LatencySummary;
use crate::record::outcome::{CrashClass, Outcome};
use crate::record::sample::Sample;
use crate::results::summary::{mib_per_s, SamplerFigures, Summary};
use crate::results::{memory, ratchet};
use crate::units::round3;

impl Summary {
    /// The summary of a run: `obs` is what the node reported, `latency_us` the
    /// whole-run histograms' summaries, `floors` the run's [`ratchet::floors`] (the
    /// same rows `ratchet.csv` gets). The outcome is [`crash::outcome_of`]'s.
    pub fn from_run(
        plan: &Plan,
        c: &Collected,
        obs: &Observed,
        latency_us: BTreeMap<String, LatencySummary>,
        floors: &[ratchet::Floor],
    ) -> Summary {
        let o = plan.opts;
        let Derived { verdict, ingest_s, peak, io, memory, sampler, n, kept } = Derived::of(plan, c, obs);
        Summary {
            outcome: verdict.0,
            crash_class: verdict.1,
            protocol_violation: verdict.2,
            stall: c.stall,
            exit_code: c.exit.and_then(|e| e.code),
            exit_signal: c.exit.and_then(|e| e.signal).map(crate::signals::signal_name),
            workload: o.workload.name.clone(),
            workload_spec_hash: plan.spec_hash.clone(),
            alloc: o.alloc,
            compaction: o.compaction,
            compaction_concurrency: o.compaction_concurrency,
            arena_max: o.arena_max.limit(),
            node_mode: obs.node_mode(),
            wall_s: round3(c.wall.as_secs_f64()),
            ingest_s: round3(ingest_s),
            blocks: c.acked,
            blocks_expected: c.driver.as_ref().map_or(o.workload.blocks, |d| d.acks.workload_blocks()),
            acks: c.driver.as_ref().map(|d| d.acks.counts()).unwrap_or_default(),
            verify_sample: c.verification.clone(),
            bytes_ingested: c.acked_bytes,
            throughput_blocks_per_s: round3(if ingest_s > 0.0 { c.acked as f64 / ingest_s } else { 0.0 }),
            throughput_mib_per_s: round3(mib_per_s(c.acked_bytes, ingest_s)),
            rss_peak_bytes: peak.0,
            rss_peak_source: peak.1.to_owned(),
            rss_peak_sampled_bytes: c.samples.iter().map(|s| s.mem.rss).max().unwrap_or(0),
            rss_p50_bytes: memory.p50,
            rss_p95_bytes: memory.p95,
            rss_mib_s_per_gib: memory.mib_s_per_gib,
            cpu_user_s: c.exit.map_or(0.0, |e| e.user_ms as f64 / 1e3),
            cpu_sys_s: c.exit.map_or(0.0, |e| e.sys_ms as f64 / 1e3),
            bytes_written: io.written,
            bytes_read: io.read,
            bytes_written_source: io.source.to_owned(),
            latency_us,
            sampler,
            heap_live_peak_bytes: n.heap_live_peak_bytes,
            heap_live_end_bytes: n.heap_live_end_bytes,
            retained_end_bytes: retained_end(obs.node_summary.as_ref()),
            rss_ratchet: ratchet::summarize(floors, c.acked_bytes),
            rss_window_peaks: ratchet::window_peaks(floors, c.acked_bytes),
            retained_p50_bytes: kept.p50_bytes,
            retained_max_bytes: kept.max_bytes,
            retained_last_bytes: kept.last_bytes,
            arenas_first: kept.arenas_first,
            arenas_max: kept.arenas_max,
            arenas_last: kept.arenas_last,
            alloc_count: n.alloc_count,
            alloc_bytes_total: n.alloc_bytes_total,
            store_bytes_written: n.store_bytes_written,
            direct_io: n.direct_io,
            compactions: n.compactions,
            compaction_s_total: n.compaction_s_total,
            store: (o.store != syncbench_node::config::StoreKind::Native).then_some(o.store),
            engine: crate::results::summary::EngineFigures::of(
                &obs.stats.iter().filter_map(|s| s.engine).collect::<Vec<_>>(),
                obs.engine_jobs.0,
                obs.engine_jobs.1,
            ),
            ingest_stalls: obs.stalls.count,
            ingest_stall_s_total: round3(obs.stalls.waited_ms / 1e3),
            incomplete: None,
            heap_profile: c.heap_profile.clone(),
            ceilings: None,
        }
        .with_ceilings(&c.ceilings)
    }
}

/// The figures the summary is assembled from, beside the outcome and the driver's.
struct Derived {
    /// The outcome, the crash class and a protocol violation ([`crash::outcome_of`]).
    verdict: (Outcome, Option<CrashClass>, Option<String>),
    /// Seconds the driver spent ingesting.
    ingest_s: f64,
    /// The node's peak RSS and where it comes from.
    peak: (u64, &'static str),
    io: FinalIo,
    memory: TimeWeighted,
    sampler: SamplerFigures,
    n: NodeFigures,
    kept: ratchet::Retention,
}

impl Derived {
    fn of(plan: &Plan, c: &Collected, obs: &Observed) -> Derived {
        let node_summary = obs.node_summary.as_ref();
        let (cost_mean, cost_pct) = sampler_cost(&c.samples, plan.opts.sample_interval);
        Derived {
            verdict: crash::outcome_of(c, node_summary, obs.node_mode()),
            ingest_s: c.driver.as_ref().map_or(0.0, |d| d.ingest_duration.as_secs_f64()),
            peak: node_peak(&c.samples, node_summary),
            io: final_io(c, node_summary),
            memory: TimeWeighted::of(&c.samples, plan.opts.sample_interval, c.acked_bytes),
            sampler: SamplerFigures {
                samples: c.samples.len() as u64,
                sample_interval_ms: plan.opts.sample_interval.as_millis() as u64,
                sampler_cost_us_mean: cost_mean,
                sampler_cpu_pct_of_core: cost_pct,
            },
            n: NodeFigures::of(obs),
            kept: ratchet::retention(&c.samples, &obs.stats),
        }
    }
}

/// The summary fields the node's own events give.
struct NodeFigures {
    heap_live_peak_bytes: Option<i64>,
    heap_live_end_bytes: Option<i64>,
    alloc_count: Option<u64>,
    alloc_bytes_total: Option<u64>,
    /// WAL payloads (the node's count) plus the segments compactions wrote.
    store_bytes_written: Option<u64>,
    direct_io: Option<bool>,
    compactions: u64,
    compaction_s_total: f64,
}

impl NodeFigures {
    fn of(obs: &Observed) -> NodeFigures {
        let n = obs.node_summary.as_ref();
        let last = obs.stats.last();
        let done: Vec<u64> = obs.compactions.iter().filter_map(|s| Some(s.end_ms? - s.start_ms)).collect();
        let segments: u64 = obs.compactions.iter().filter(|s| s.end_ms.is_some()).map(|s| s.bytes_out).sum();
        NodeFigures {
            heap_live_peak_bytes: obs.heap_live_peak_bytes(),
            heap_live_end_bytes: n.and_then(|n| n.heap_live_bytes),
            alloc_count: n.and_then(|n| n.alloc_count).or(last.map(|s| s.alloc_count)),
            alloc_bytes_total: n.and_then(|n| n.alloc_bytes_total).or(last.map(|s| s.alloc_bytes_total)),
            store_bytes_written: n.and_then(|n| n.wal_payload_bytes_written).map(|wal| wal + segments),
            direct_io: n.and_then(|n| n.direct_io),
            compactions: done.len() as u64,
            compaction_s_total: round3(done.iter().sum::<u64>() as f64 / 1e3),
        }
    }
}

/// The node's RssAnon minus its live heap, both read by the node after the session
/// (its `node_summary`): one moment, no sampling skew.
fn retained_end(node_summary: Option<&NodeSummary>) -> Option<i64> {
    let n = node_summary?;
    Some(n.self_report?.rss_anon_bytes? as i64 - n.heap_live_bytes?)
}

/// The node's own peak resident set and where it was read: the node's final report
/// of its VmHWM, or the sampler's last VmHWM, whichever is later (VmHWM only grows).
fn node_peak(samples: &[Sample], node_summary: Option<&NodeSummary>) -> (u64, &'static str) {
    let sampled = samples.iter().map(|s| s.mem.hwm).max().filter(|&b| b > 0);
    let reported = node_summary.and_then(|n| n.self_report?.vm_hwm_bytes).filter(|&b| b > 0);
    match (reported, sampled) {
        (Some(r), s) if r >= s.unwrap_or(0) => (r, "node_final_read"),
        (_, Some(s)) => (s, "samples"),
        _ => (0, "unavailable"),
    }
}

/// Storage bytes the node wrote, read as late as possible: from the exited node
/// (zombie), else the node's final self-report, else the last sample.
fn final_io(c: &Collected, node_summary: Option<&NodeSummary>) -> FinalIo {
    if let Some(e) = c.exit.filter(|e| e.io_write_bytes.is_some()) {
        let (written, read) = (e.io_write_bytes.unwrap_or(0), e.io_read_bytes.unwrap_or(0));
        return FinalIo { written, read, source: "node_exit" };
    }
    if let Some(r) = node_summary.and_then(|n| n.self_report).filter(|r| r.io_write_bytes.is_some()) {
        let (written, read) = (r.io_write_bytes.unwrap_or(0), r.io_read_bytes.unwrap_or(0));
        return FinalIo { written, read, source: "node_final_read" };
    }
    let last = c.samples.last();
    let (written, read) = last.map_or((0, 0), |s| (s.io_write_bytes, s.io_read_bytes));
    FinalIo { written, read, source: "last_sample" }
}

/// The node's storage I/O over the session and where it was read.
struct FinalIo {
    written: u64,
    read: u64,
    source: &'static str,
}

/// Fewest samples the time-weighted RSS figures are computed from (0.5 s at 100 ms).
const MIN_TIME_WEIGHTED_SAMPLES: usize = 5;

/// RSS weighted by time over the node's life (see `results::memory`).
struct TimeWeighted {
    p50: Option<u64>,
    p95: Option<u64>,
    mib_s_per_gib: Option<f64>,
}

impl TimeWeighted {
    fn of(samples: &[Sample], interval: std::time::Duration, ingested: u64) -> TimeWeighted {
        // A handful of samples weigh each one by whole intervals: too coarse to report.
        if samples.len() < MIN_TIME_WEIGHTED_SAMPLES {
            return TimeWeighted { p50: None, p95: None, mib_s_per_gib: None };
        }
        let points: Vec<(u64, u64)> = samples.iter().map(|s| (s.t_ms, s.mem.rss)).collect();
        let last = interval.as_millis() as u64;
        let gib = ingested as f64 / (1u64 << 30) as f64;
        let integral = memory::integral_mib_s(&points, last);
        TimeWeighted {
            p50: memory::time_weighted_quantile(&points, 0.5, last),
            p95: memory::time_weighted_quantile(&points, 0.95, last),
            mib_s_per_gib: (gib > 0.0 && !points.is_empty()).then(|| round3(integral / gib)),
        }
    }
}

/// Mean CPU time per sample (µs) and as a percentage of one core.
fn sampler_cost(samples: &[Sample], interval: std::time::Duration) -> (f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    let mean = samples.iter().map(|s| s.sample_cost_us as f64).sum::<f64>() / samples.len() as f64;
    (round3(mean), round3(mean * 100.0 / interval.as_micros() as f64))
}

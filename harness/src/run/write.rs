//! Writes a run's files: config.json, samples.csv, latency/, summary.json, charts/,
//! and crash/ when the node died.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::ceiling::Ceilings;
use super::crash::{self, Evidence, Outcome};
use super::driver::DriverEnd;
use super::events::NodeObservations;
use super::{envinfo, Collected, Plan};
use crate::charts::{self, RunChartData};
use crate::latency::{self, summarize, Interval};
use crate::options::ArenaMax;
use crate::results::load::RunFiles;
use crate::results::summary::{mib_per_s, Summary};
use crate::results::{memory, samples_csv, write_atomic, write_json};
use crate::units::round3;
use hdrhistogram::Histogram;

/// Node arguments with this machine's paths replaced by placeholders.
fn portable_args(plan: &Plan, args: &[OsString]) -> Vec<String> {
    let socket = plan.socket_dir.join("node.sock");
    args.iter()
        .map(|a| {
            if *a == socket.as_os_str() {
                "<socket>".into()
            } else if *a == plan.data_dir.as_os_str() {
                "<data-dir>".into()
            } else {
                a.to_string_lossy().into_owned()
            }
        })
        .collect()
}

pub fn config_json(
    plan: &Plan,
    args: &[OsString],
    env: &[(String, String)],
    extra: Option<(Value, Value)>,
    ceilings: &Ceilings,
    clock: Option<&crate::time::RunClock>,
) -> Result<()> {
    let o = plan.opts;
    let w = &o.workload;
    let (node_reported, mem_limit) = extra.unwrap_or((Value::Null, Value::Null));
    let ceilings = plan.opts.ceilings.then(|| serde_json::to_value(ceilings).unwrap_or(Value::Null));
    let config = json!({
        "run": plan.run_dir.file_name().map(|n| n.to_string_lossy().into_owned()),
        "started_at": crate::time::iso8601(plan.start),
        "command": crate::units::command_line(),
        "workload": {
            "arg": o.workload_arg, "name": w.name, "spec_hash": plan.spec_hash,
            "description": w.description, "blocks": w.blocks,
            "start_height": w.start_height, "shard_size": w.shard_size, "seed": w.seed,
            "arrival_window": w.arrival.window, "rate_limit_mib_per_s": w.arrival.rate_limit_mib_per_s,
            "describe": plan.description,
        },
        "node": {
            "alloc": o.alloc, "binary": plan.node_bin.file_name().map(|n| n.to_string_lossy().into_owned()),
            "arena_max": o.arena_max, "alloc_conf": o.alloc_conf, "compaction": o.compaction,
            "compaction_concurrency": o.compaction_concurrency, "writer_batch": o.writer_batch,
            "args": portable_args(plan, args), "env": env.iter().cloned().collect::<BTreeMap<_, _>>(),
            "reported": node_reported,
        },
        "time_zero": clock.map(crate::time::RunClock::describe),
        "sampling": {"interval_ms": o.sample_interval.as_millis() as u64},
        "ceilings": ceilings,
        "limits": {"timeout_s": o.timeout.as_secs_f64(), "mem_limit": mem_limit},
        "environment": envinfo::snapshot(),
    });
    write_json(&plan.run_dir.join("config.json"), &config)
}

/// `summary.json` `incomplete` while the run's other files are being written.
const INCOMPLETE: &str = "the other files of this run were being written when this summary was; they may be missing";

pub fn outputs(
    plan: &Plan,
    args: &[OsString],
    env: &[(String, String)],
    c: &Collected,
    obs: &NodeObservations,
) -> Result<Summary> {
    let dir = &plan.run_dir;
    let (stats, compactions, node_start, node_summary, tail) = obs
        .snapshot(|s| {
            (s.stats.clone(), s.compactions.clone(), s.node_start.clone(), s.node_summary.clone(), s.tail.clone())
        })
        .unwrap_or_default();
    let histograms = decode_histograms(c)?;
    let latency_us = histograms.iter().map(|(name, h)| (name.clone(), summarize(h))).collect();
    let mode = obs.snapshot(|s| s.node_mode().map(str::to_owned)).flatten();
    let mut summary =
        summarize_run(plan, c, &stats, &compactions, (node_summary.as_ref(), mode.as_deref()), latency_us);
    // The summary first, atomically and marked incomplete until every other file is
    // written: a full disk or a crash mid-way never leaves a summary that vouches for
    // files that are missing or cut short.
    summary.incomplete = Some(INCOMPLETE.into());
    write_json(&dir.join("summary.json"), &summary)?;
    let rest = (|| -> Result<()> {
        write_atomic(&dir.join("samples.csv"), samples_csv(&c.samples, &stats).as_bytes())?;
        write_latency(plan, c, &histograms)?;
        let extra = Some((node_start.unwrap_or(Value::Null), c.mem_limit.clone()));
        config_json(plan, args, env, extra, &c.ceilings, Some(&c.clock))?;
        if summary.outcome != Outcome::Ok {
            write_crash(plan, c, &summary, tail.into_iter().collect())?;
        }
        // Drawn from the files just written, exactly as `syncbench report` redraws them.
        RunFiles::load(dir)
            .and_then(|r| charts::render_run(&RunChartData::from_files(&r), &dir.join("charts"), plan.opts.png))
            .context("rendering charts")?;
        summary.incomplete = None;
        write_json(&dir.join("summary.json"), &summary)
    })();
    if let Err(e) = rest {
        // Say why in the summary if the disk still lets us (it says "incomplete" anyway).
        summary.incomplete = Some(format!("{e:#}"));
        let _ = write_json(&dir.join("summary.json"), &summary);
        return Err(e.context(format!("the run directory {} is incomplete", dir.display())));
    }
    Ok(summary)
}

/// The whole-run histograms: the driver's ingest latency, then the node's.
fn decode_histograms(c: &Collected) -> Result<Vec<(String, Histogram<u64>)>> {
    let Some(d) = &c.driver else { return Ok(Vec::new()) };
    let mut whole = vec![("ingest".to_owned(), d.ingest.clone())];
    for (name, bytes) in &d.node_histograms {
        whole.push((name.clone(), latency::decode(bytes)?));
    }
    Ok(whole)
}

/// Writes latency/*.hgrm and latency/histograms.hlog.
fn write_latency(plan: &Plan, c: &Collected, whole: &[(String, Histogram<u64>)]) -> Result<()> {
    let dir = plan.run_dir.join("latency");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let Some(d) = &c.driver else { return Ok(()) };
    for (name, h) in whole {
        write_atomic(&dir.join(format!("{name}.hgrm")), latency::hgrm(h).as_bytes())?;
    }
    let intervals: Vec<Interval> = d
        .intervals
        .iter()
        .filter_map(|(start, length, bytes)| {
            Some(Interval { start: *start, length: *length, histogram: latency::decode(bytes).ok()? })
        })
        .collect();
    let mut hlog = Vec::new();
    latency::write_hlog(&mut hlog, c.clock.zero_wall, &intervals, whole.get(1..).unwrap_or_default(), c.wall)?;
    write_atomic(&dir.join("histograms.hlog"), &hlog)
}

fn summarize_run(
    plan: &Plan,
    c: &Collected,
    stats: &[super::events::StatsPoint],
    compactions: &[super::events::CompactionSpan],
    node: (Option<&Value>, Option<&str>),
    latency_us: BTreeMap<String, latency::LatencySummary>,
) -> Summary {
    let o = plan.opts;
    let (node_summary, node_mode) = node;
    let (outcome, crash_class, violation) = outcome_of(c, node_summary, node_mode);
    let ingest_s = c.driver.as_ref().map_or(0.0, |d| d.ingest_duration.as_secs_f64());
    let ns = |k: &str| node_summary.and_then(|v| v.get(k)).and_then(Value::as_u64);
    let last = stats.last();
    let done: Vec<_> = compactions.iter().filter_map(|s| Some(s.end_ms? - s.start_ms)).collect();
    let peak = node_peak(&c.samples, node_summary);
    let (bytes_written, bytes_written_source) = final_bytes_written(c, node_summary);
    let memory = TimeWeighted::of(&c.samples, o.sample_interval, c.acked_bytes);
    let (cost_mean, cost_pct) = sampler_cost(&c.samples, o.sample_interval);
    Summary {
        outcome,
        crash_class,
        protocol_violation: violation,
        exit_code: c.exit.and_then(|e| e.code),
        exit_signal: c.exit.and_then(|e| e.signal).map(crash::signal_name),
        workload: o.workload.name.clone(),
        workload_spec_hash: plan.spec_hash.clone(),
        alloc: o.alloc.to_string(),
        compaction: o.compaction.as_str().to_owned(),
        compaction_concurrency: o.compaction_concurrency,
        arena_max: match o.arena_max {
            ArenaMax::Default => None,
            ArenaMax::Max(n) => Some(n),
        },
        node_mode: node_mode.map(str::to_owned),
        wall_s: round3(c.wall.as_secs_f64()),
        ingest_s: round3(ingest_s),
        blocks: c.acked,
        blocks_expected: o.workload.blocks,
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
        heap_live_peak_bytes: stats
            .iter()
            .map(|s| s.heap_live_bytes)
            .chain(node_summary.and_then(|v| v["heap_live_peak_bytes"].as_i64()))
            .max(),
        heap_live_end_bytes: node_summary.and_then(|v| v["heap_live_bytes"].as_i64()),
        alloc_count: ns("alloc_count").or(last.map(|s| s.alloc_count)),
        alloc_bytes_total: ns("alloc_bytes_total").or(last.map(|s| s.alloc_bytes_total)),
        cpu_user_s: c.exit.map_or(0.0, |e| e.user_ms as f64 / 1e3),
        cpu_sys_s: c.exit.map_or(0.0, |e| e.sys_ms as f64 / 1e3),
        bytes_written,
        bytes_written_source: bytes_written_source.to_owned(),
        store_bytes_written: ns("wal_payload_bytes_written")
            .map(|wal| wal + compactions.iter().filter(|s| s.end_ms.is_some()).map(|s| s.bytes_out).sum::<u64>()),
        direct_io: node_summary.and_then(|v| v["direct_io"].as_bool()),
        compactions: done.len() as u64,
        compaction_s_total: round3(done.iter().sum::<u64>() as f64 / 1e3),
        latency_us,
        samples: c.samples.len() as u64,
        sample_interval_ms: o.sample_interval.as_millis() as u64,
        sampler_cost_us_mean: cost_mean,
        sampler_cpu_pct_of_core: cost_pct,
        incomplete: None,
        ceilings: None,
    }
    .with_ceilings(&c.ceilings)
}

/// Outcome, crash class and protocol violation (if any) of a run.
fn outcome_of(
    c: &Collected,
    node_summary: Option<&Value>,
    node_mode: Option<&str>,
) -> (Outcome, Option<crash::CrashClass>, Option<String>) {
    let done = c.driver.as_ref().is_some_and(|d| d.end == DriverEnd::Done);
    let evidence = Evidence {
        exit: c.exit,
        stderr_tail: &c.stderr_tail,
        timed_out: c.timed_out,
        watchdog_fired: c.watchdog_fired,
        cgroup_oom_kills: c.oom_kills,
        kernel_oom_line: c.kernel_oom_line.clone(),
        session_complete: done,
        interrupted: c.interrupted,
    };
    let (outcome, class) = crash::classify(&evidence);
    let violation = protocol_violation(c, done, node_summary, node_mode);
    match (outcome, violation) {
        (Outcome::Ok, Some(v)) => (Outcome::ProtocolViolation, None, Some(v)),
        (o, v) => (o, class, v),
    }
}

/// Checks what the node acknowledged against what was sent, what it says it stored
/// and what its store holds.
fn protocol_violation(c: &Collected, done: bool, node_summary: Option<&Value>, mode: Option<&str>) -> Option<String> {
    let d = c.driver.as_ref()?;
    let counts = d.acks.counts();
    if let Some(v) = counts.violation(done) {
        return Some(v);
    }
    let expected = d.acks.workload_blocks();
    if done && counts.acked < expected {
        return Some(format!("the node reported Done after {} of the workload's {expected} blocks", counts.acked));
    }
    let durable = node_summary.and_then(|v| v.get("blocks_durable")).and_then(Value::as_u64);
    if let (Some(durable), Some("store")) = (durable, mode) {
        if durable != counts.acked {
            return Some(format!("the node reports {durable} blocks durable but acknowledged {}", counts.acked));
        }
    }
    let v = c.verification.as_ref()?;
    v.problems.first().map(|first| {
        let n = v.problem_count();
        format!("{n} of {} acknowledged blocks read back failed, first: {first}", v.blocks)
    })
}

/// The node's own peak resident set and where it was read: the node's final report
/// of its VmHWM, or the sampler's last VmHWM, whichever is later (VmHWM only grows).
fn node_peak(samples: &[super::sampler::Sample], node_summary: Option<&Value>) -> (u64, &'static str) {
    let sampled = samples.iter().map(|s| s.mem.hwm).max().filter(|&b| b > 0);
    let reported = node_summary.and_then(|v| v["self"]["vm_hwm_bytes"].as_u64()).filter(|&b| b > 0);
    match (reported, sampled) {
        (Some(r), s) if r >= s.unwrap_or(0) => (r, "node_final_read"),
        (_, Some(s)) => (s, "samples"),
        _ => (0, "unavailable"),
    }
}

/// Storage bytes the node wrote, read as late as possible: from the exited node
/// (zombie), else the node's final self-report, else the last sample.
fn final_bytes_written(c: &Collected, node_summary: Option<&Value>) -> (u64, &'static str) {
    if let Some(b) = c.exit.and_then(|e| e.io_write_bytes) {
        return (b, "node_exit");
    }
    if let Some(b) = node_summary.and_then(|v| v["self"]["io_write_bytes"].as_u64()) {
        return (b, "node_final_read");
    }
    (c.samples.last().map_or(0, |s| s.io_write_bytes), "last_sample")
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
    fn of(samples: &[super::sampler::Sample], interval: std::time::Duration, ingested: u64) -> TimeWeighted {
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
fn sampler_cost(samples: &[super::sampler::Sample], interval: std::time::Duration) -> (f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    let mean = samples.iter().map(|s| s.sample_cost_us as f64).sum::<f64>() / samples.len() as f64;
    (round3(mean), round3(mean * 100.0 / interval.as_micros() as f64))
}

fn write_crash(plan: &Plan, c: &Collected, summary: &Summary, events_tail: Vec<String>) -> Result<()> {
    let classification = json!({
        "outcome": summary.outcome, "crash_class": summary.crash_class,
        "exit_code": summary.exit_code, "exit_signal": summary.exit_signal,
        "core_dumped": c.exit.map(|e| e.core_dumped), "node_pid": c.pid,
        "timed_out": c.timed_out, "watchdog_fired": c.watchdog_fired,
        "cgroup_oom_kills": c.oom_kills, "kernel_oom_line": c.kernel_oom_line,
        "driver_end": c.driver.as_ref().map(|d| format!("{:?}", d.end)),
        "blocks_acked": c.acked, "rss_peak_bytes": summary.rss_peak_bytes,
        "protocol_violation": summary.protocol_violation, "acks": summary.acks,
    });
    let csv = samples_csv(&c.samples[c.samples.len().saturating_sub(50)..], &[]);
    // Built from the resolved options, not argv: a run inside a matrix gets its own
    // cell's command, and every workload override is explicit.
    let reproduce = format!(
        "#!/bin/sh\n# Reproduce this run from the repository root:\ncargo run --release -- {}\n",
        plan.opts.to_command_line().iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ")
    );
    let bundle = crash::Bundle {
        classification,
        last_samples_csv: csv,
        events_tail,
        stderr_tail: &c.stderr_tail,
        cgroup: c.cgroup_evidence.clone(),
        reproduce,
        exit_seen_at: c.exit.map(|e| e.seen_at),
    };
    crash::write_bundle(&plan.run_dir, &bundle)
}

fn shell_quote(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=,:".contains(c)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

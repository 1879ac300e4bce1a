//! Writes a run's files: config.json, samples.csv, ratchet.csv, latency/, summary.json,
//! charts/, and crash/ when the node did not end `ok`. What goes into them is computed
//! elsewhere (`results::summary`, `results::ratchet`, `run::crash`).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde_json::json;

use super::ceiling::Ceilings;
use super::crash::{self, Outcome};
use super::envinfo;
use super::events::{NodeObservations, Observed};
use super::record::{Collected, Plan};
use crate::charts::{self, RunChartData};
use crate::latency::{self, summarize, Interval};
use crate::results::config_file::{ConfigFile, EnvironmentRecord, Limits, NodeRecord, Sampling, WorkloadRecord};
use crate::results::load::RunFiles;
use crate::results::ratchet;
use crate::results::summary::Summary;
use crate::results::{samples_csv, write_atomic, write_json};
use hdrhistogram::Histogram;

/// The node's arguments with this machine's paths replaced by placeholders.
fn portable_args(plan: &Plan) -> Vec<String> {
    let mut node = plan.node.clone();
    (node.socket, node.data) = ("<socket>".into(), "<data-dir>".into());
    node.heap_profile_dir = node.heap_profile_dir.map(|_| format!("<run-dir>/{}", super::HEAP_DIR).into());
    node.to_args().iter().map(|a| a.to_string_lossy().into_owned()).collect()
}

/// What the run knows once the node ran (absent before): what the node reported of
/// itself, and the memory limit as set up.
pub struct Reported {
    pub node_start: Option<syncbench_node::events::NodeStart>,
    pub mem_limit: serde_json::Value,
}

pub fn config_json(
    plan: &Plan,
    reported: Option<Reported>,
    ceilings: &Ceilings,
    clock: Option<&crate::time::RunClock>,
) -> Result<()> {
    let o = plan.opts;
    let w = &o.workload;
    let reported = reported.unwrap_or(Reported { node_start: None, mem_limit: serde_json::Value::Null });
    let config = ConfigFile {
        run: plan.run_dir.file_name().map(|n| n.to_string_lossy().into_owned()),
        started_at: crate::time::iso8601(plan.start),
        command: crate::units::command_line(),
        cell: Some(o.cell_label()),
        workload: WorkloadRecord {
            arg: crate::units::portable_arg(&o.workload_arg),
            name: w.name.clone(),
            spec_hash: Some(plan.spec_hash.clone()),
            description: w.description.clone(),
            blocks: w.blocks,
            start_height: w.start_height,
            shard_size: w.shard_size,
            seed: w.seed,
            arrival_window: w.arrival.window,
            rate_limit_mib_per_s: w.arrival.rate_limit_mib_per_s,
            duration_s: o.duration.map(|d| d.as_secs_f64()),
            describe: serde_json::to_value(&plan.description)?,
        },
        node: NodeRecord {
            alloc: o.alloc,
            binary: plan.node_bin.file_name().map(|n| n.to_string_lossy().into_owned()),
            arena_max: o.arena_max,
            alloc_conf: o.alloc_conf.clone(),
            store: o.store,
            engine_malloc: o.engine_malloc,
            compaction: o.compaction,
            compaction_concurrency: o.compaction_concurrency,
            writer_batch: o.writer_batch,
            args: portable_args(plan),
            env: plan.env.set.iter().cloned().collect::<BTreeMap<_, _>>(),
            env_removed: plan.env.removed.clone(),
            reported: reported.node_start,
        },
        time_zero: clock.map(crate::time::RunClock::describe),
        sampling: Sampling { interval_ms: o.sample_interval.as_millis() as u64 },
        ceilings: o.ceilings.then(|| ceilings.clone()),
        limits: Limits { timeout_s: o.timeout.as_secs_f64(), mem_limit: reported.mem_limit },
        environment: serde_json::from_value::<EnvironmentRecord>(serde_json::to_value(envinfo::snapshot())?)?,
    };
    write_json(&plan.run_dir.join("config.json"), &config)
}

/// `summary.json` `incomplete` while the run's other files are being written.
const INCOMPLETE: &str = "the other files of this run were being written when this summary was; they may be missing";

pub fn outputs(plan: &Plan, c: &Collected, obs: &NodeObservations) -> Result<Summary> {
    let dir = &plan.run_dir;
    let observed = obs.snapshot(Observed::clone).unwrap_or_default();
    let histograms = decode_histograms(c)?;
    let latency_us = histograms.iter().map(|(name, h)| (name.clone(), summarize(h))).collect();
    // One computation of the floors for both the summary's figures and ratchet.csv.
    let floors = ratchet::floors(&c.samples, &observed.compactions);
    let mut summary = Summary::from_run(plan, c, &observed, latency_us, &floors);
    // The summary first, atomically and marked incomplete until every other file is
    // written: a full disk or a crash mid-way never leaves a summary that vouches for
    // files that are missing or cut short.
    summary.incomplete = Some(INCOMPLETE.into());
    write_json(&dir.join("summary.json"), &summary)?;
    let rest = (|| -> Result<()> {
        write_atomic(&dir.join("samples.csv"), samples_csv(&c.samples, &observed.stats).as_bytes())?;
        if let Some(csv) = ratchet::csv(&floors) {
            write_atomic(&dir.join(ratchet::RATCHET_CSV), csv.as_bytes())?;
        }
        write_latency(plan, c, &histograms)?;
        let reported = Reported { node_start: observed.node_start.clone(), mem_limit: c.mem_limit.clone() };
        config_json(plan, Some(reported), &c.ceilings, Some(&c.clock))?;
        if summary.outcome != Outcome::Ok {
            write_crash(plan, c, &summary, observed.tail.iter().cloned().collect())?;
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
        // A result file that cannot be written fails the run (exit 1), whatever was in
        // its way: the command line was fine.
        let why = format!("{:#}", e.context(format!("the run directory {} is incomplete", dir.display())));
        return Err(crate::error::RunFailed(why).into());
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
    crate::util::fsx::real_dir(&dir)?;
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
    let reproduce = reproduce_script(plan)?;
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

/// `crash/reproduce.sh`. Built from the resolved options, not argv: a run inside a
/// matrix gets its own cell's command, and every workload override is explicit. A
/// workload given as a spec file is copied beside the script (with its trace, when
/// small), so the script runs from any directory; a node binary given by a path
/// outside the working directory is asked for (`NODE_BIN`), never written down.
fn reproduce_script(plan: &Plan) -> Result<String> {
    let o = plan.opts;
    let crash = plan.run_dir.join("crash");
    crate::util::fsx::real_dir(&crash)?;
    let mut lines = vec!["#!/bin/sh".to_owned(), "# Reproduce this run from the repository root.".to_owned()];
    let builtin = syncbench_workloads::BUILTIN.iter().any(|(n, _)| *n == o.workload_arg);
    let workload = if builtin {
        o.workload_arg.clone()
    } else {
        lines.push(copy_spec(&o.workload_arg, &crash)?);
        "\"$(dirname \"$0\")/workload.toml\"".to_owned()
    };
    let node_bin = o.node_bin.as_ref().map(|b| match portable_relative(b) {
        Some(rel) => shell_quote(&rel),
        None => {
            lines.push("# The run used a node binary outside its working directory: set NODE_BIN to yours.".into());
            "\"${NODE_BIN:?set NODE_BIN to the node binary}\"".to_owned()
        }
    });
    let args = o.to_command_line("\u{0}WORKLOAD", node_bin.as_deref().map(|_| "\u{0}NODE_BIN"));
    let quoted: Vec<String> = args
        .iter()
        .map(|a| match a.as_str() {
            "\u{0}WORKLOAD" => workload.clone(),
            "\u{0}NODE_BIN" => node_bin.clone().unwrap_or_default(),
            a => shell_quote(a),
        })
        .collect();
    lines.push(format!("cargo run --release -- {}", quoted.join(" ")));
    Ok(lines.join("\n") + "\n")
}

/// Largest trace copied into a crash bundle (bigger ones are named, not copied).
const TRACE_COPY_MAX_BYTES: u64 = 8 << 20;
/// Largest spec file read for the copy.
const SPEC_MAX_BYTES: u64 = 1 << 20;

/// Copies the workload spec at `arg` to `crash/workload.toml`, byte for byte (its
/// fingerprint stays the same), and a small trace it names by a relative path inside
/// its own directory to the same relative path under `crash/`; returns a comment line
/// for the script.
fn copy_spec(arg: &str, crash: &std::path::Path) -> Result<String> {
    let path = std::path::Path::new(arg);
    let text = crate::util::fsx::read_bounded(path, SPEC_MAX_BYTES, "workload spec")?;
    crate::util::fsx::write_atomic(&crash.join("workload.toml"), text.as_bytes())?;
    let mut note = "# The workload spec is copied beside this script (workload.toml).".to_owned();
    let spec: toml::Table = text.parse().context("re-reading the workload spec")?;
    let trace = spec.get("trace").and_then(|t| t.get("path")).and_then(|p| p.as_str()).map(std::path::PathBuf::from);
    let Some(trace) = trace else { return Ok(note) };
    let inside = trace.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    let source = path.parent().unwrap_or(std::path::Path::new(".")).join(&trace);
    let small = std::fs::metadata(&source).is_ok_and(|m| m.len() <= TRACE_COPY_MAX_BYTES);
    if inside && small {
        let bytes = crate::util::fsx::read_bounded_bytes(&source, TRACE_COPY_MAX_BYTES, "trace")?;
        let target = crash.join(&trace);
        let mut dir = crash.to_owned();
        for part in trace.parent().into_iter().flat_map(|p| p.components()) {
            dir.push(part);
            crate::util::fsx::real_dir(&dir)?;
        }
        crate::util::fsx::write_atomic(&target, &bytes)?;
        note.push_str(" Its trace is copied too.");
    } else {
        let name = trace.file_name().unwrap_or_default().to_string_lossy().into_owned();
        note.push_str(&format!(" Its trace ({name}) is not: put it where workload.toml's [trace] path says."));
    }
    Ok(note)
}

/// `p` as a path relative to the working directory, if it is one or lies inside it.
fn portable_relative(p: &std::path::Path) -> Option<String> {
    if p.is_relative() {
        return Some(p.display().to_string());
    }
    let cwd = std::env::current_dir().ok()?;
    p.strip_prefix(cwd).ok().map(|r| r.display().to_string())
}

fn shell_quote(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=,:".contains(c)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

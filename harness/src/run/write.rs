//! Writes a run's files: config.json, samples.csv, ratchet.csv, latency/, summary.json,
//! charts/, and crash/ when the node did not end `ok`. What goes into them is computed
//! elsewhere (`results::summary`, `results::ratchet`, `run::crash`).

use std::collections::BTreeMap;
use std::fs;

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
    env: &[(String, String)],
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
            arg: o.workload_arg.clone(),
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
            compaction: o.compaction,
            compaction_concurrency: o.compaction_concurrency,
            writer_batch: o.writer_batch,
            args: portable_args(plan),
            env: env.iter().cloned().collect::<BTreeMap<_, _>>(),
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

pub fn outputs(plan: &Plan, env: &[(String, String)], c: &Collected, obs: &NodeObservations) -> Result<Summary> {
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
        config_json(plan, env, Some(reported), &c.ceilings, Some(&c.clock))?;
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

//! `syncbench matrix`: many configurations, repeated and interleaved, compared with
//! confidence intervals (DESIGN §5–§7).
//!
//! # Layout
//! - this module: the plan (cells, skipped cells, order) and the runner.
//! - [`order`]: interleaved run order (seeded rounds, never the same cell twice in a row).
//! - [`stats`]: medians, bootstrap intervals, verdicts.
//! - [`comparison`]: `comparison.json` / `comparison.md` from the runs' summaries.
//!
//! ## Suite directory
//! ```text
//! <suite>/suite.json            definition, environment, skipped cells, order actually run
//! <suite>/runs/<cell>-r<k>/     one full run directory per (cell, repetition)
//! <suite>/comparison.{json,md}  per metric and cell: median, 95 % CI, ratio to baseline
//! ```

pub mod comparison;
pub mod order;
pub mod stats;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Result;
use serde::Serialize;
use serde_json::json;
use syncbench_node::CompactionMode;

use crate::cli::MatrixArgs;
use crate::error::{input, InputError, RunFailed};
use crate::options::{cell_label, resolve_workload, Allocator, ArenaMax, IngestOptions, RunSettings};

/// Largest matrix accepted (cells × repetitions): bounded like everything else.
const MAX_RUNS: usize = 2_000;

/// One configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub name: String,
    pub alloc: Allocator,
    pub arena_max: ArenaMax,
    pub compaction: CompactionMode,
    pub compaction_concurrency: u64,
}

/// A cell left out of the matrix, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub cell: String,
    pub reason: String,
}

/// One run as it happened.
#[derive(Debug, Clone, Serialize)]
struct RunEntry {
    cell: String,
    rep: u32,
    run_dir: String,
    outcome: String,
    wall_s: Option<f64>,
}

/// The cartesian product of the axes; cells that cannot differ from another are
/// returned separately with the reason (unless `no_skip`).
pub fn cells(a: &MatrixArgs) -> Result<(Vec<Cell>, Vec<Skipped>)> {
    let arenas = a
        .arena_max
        .iter()
        .map(|s| ArenaMax::parse(s).map_err(|e| input(format!("--arena-max: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    if let Some(&cc) = a.compaction_concurrency.iter().find(|&&c| !(1..=64).contains(&c)) {
        return Err(input(format!("--compaction-concurrency: expected values in 1..=64, got {cc}")));
    }
    let (mut kept, mut skipped) = (Vec::new(), Vec::new());
    for &alloc in &a.alloc {
        for &arena_max in &arenas {
            for &mode in &a.compaction {
                for &cc in &a.compaction_concurrency {
                    let alloc = Allocator::from(alloc);
                    let compaction = CompactionMode::from(mode);
                    let name = cell_label(alloc, arena_max, compaction, cc);
                    if kept.iter().any(|c: &Cell| c.name == name) {
                        continue;
                    }
                    if arena_max != ArenaMax::Default && alloc != Allocator::Glibc && !a.no_skip {
                        let reason = format!("{alloc} does not read MALLOC_ARENA_MAX: same as its default-arena cell");
                        skipped.push(Skipped { cell: name, reason });
                        continue;
                    }
                    kept.push(Cell { name, alloc, arena_max, compaction, compaction_concurrency: cc });
                }
            }
        }
    }
    Ok((kept, skipped))
}

pub fn run(a: &MatrixArgs) -> Result<()> {
    let workload = resolve_workload(&a.workload, &a.overrides, a.shard_size)?;
    let (cells, skipped) = cells(a)?;
    if cells.is_empty() || a.repeat == 0 || cells.len() * a.repeat as usize > MAX_RUNS {
        return Err(input(format!(
            "expected 1..={MAX_RUNS} runs (cells × --repeat), got {} × {}",
            cells.len(),
            a.repeat
        )));
    }
    let baseline = a.baseline_cell.clone().unwrap_or_else(|| cells[0].name.clone());
    if !cells.iter().any(|c| c.name == baseline) {
        let names: Vec<_> = cells.iter().map(|c| c.name.as_str()).collect();
        return Err(input(format!("--baseline-cell: expected one of {}, got `{baseline}`", names.join(", "))));
    }
    let settings = RunSettings::from_args(&a.settings)?;
    let base = IngestOptions {
        alloc: Allocator::Glibc,
        arena_max: ArenaMax::Default,
        alloc_conf: None,
        compaction: CompactionMode::Streaming,
        compaction_concurrency: 1,
        workload_arg: a.workload.clone(),
        workload,
        writer_batch: syncbench_node::config::DEFAULT_WRITER_BATCH,
        sample_interval: settings.sample_interval,
        mem_limit_bytes: settings.mem_limit_bytes,
        timeout: settings.timeout,
        out: None,
        data_dir: None,
        keep_data: false,
        node_bin: None,
        node_args: settings.node_args,
        png: settings.png,
        disk_check: true,
    };
    let start = SystemTime::now();
    let suite = a.out.clone().unwrap_or_else(|| {
        Path::new(crate::results::RESULTS_DIR).join(format!(
            "{}_{}_matrix",
            crate::time::stamp(start),
            base.workload.name
        ))
    });
    create_suite_dir(&suite)?;
    for s in &skipped {
        eprintln!("syncbench: matrix: skipping {}: {} (--no-skip keeps it as a control)", s.cell, s.reason);
    }
    let order = order::interleaved(cells.len(), a.repeat, a.order_seed);
    eprintln!(
        "syncbench: matrix: {} cells × {} repetitions = {} runs, interleaved",
        cells.len(),
        a.repeat,
        order.len()
    );
    let mut done: Vec<RunEntry> = Vec::new();
    for (i, &(ci, rep)) in order.iter().enumerate() {
        let cell = &cells[ci];
        let dir = suite.join("runs").join(format!("{}-r{}", cell.name, rep + 1));
        eprintln!("syncbench: matrix: run {}/{}: {} r{}", i + 1, order.len(), cell.name, rep + 1);
        let opts = IngestOptions {
            alloc: cell.alloc,
            arena_max: cell.arena_max,
            compaction: cell.compaction,
            compaction_concurrency: cell.compaction_concurrency,
            out: Some(dir.clone()),
            ..base.clone()
        };
        let entry = match crate::run::ingest(&opts) {
            Ok(report) => {
                let summary = serde_json::to_value(&report.summary)?;
                let outcome = summary["outcome"].as_str().unwrap_or("unknown").to_owned();
                let wall_s = summary["wall_s"].as_f64();
                RunEntry { cell: cell.name.clone(), rep: rep + 1, run_dir: relative(&suite, &dir), outcome, wall_s }
            }
            Err(e) if e.chain().any(|c| c.is::<InputError>()) => return Err(e),
            Err(e) => {
                eprintln!("syncbench: matrix: {} r{} failed in the harness: {e:#}", cell.name, rep + 1);
                RunEntry {
                    cell: cell.name.clone(),
                    rep: rep + 1,
                    run_dir: relative(&suite, &dir),
                    outcome: "harness_error".into(),
                    wall_s: None,
                }
            }
        };
        let failed = entry.outcome != "ok";
        done.push(entry);
        write_suite_json(&suite, a, &cells, &skipped, &baseline, start, &done)?;
        if failed && a.fail_fast {
            eprintln!("syncbench: matrix: stopping at the first failure (--fail-fast)");
            break;
        }
    }
    let failed: Vec<String> =
        done.iter().filter(|r| r.outcome != "ok").map(|r| format!("{}-r{} ({})", r.cell, r.rep, r.outcome)).collect();
    crate::report::render_suite(&suite, base.png)?;
    println!("matrix: {} runs, {} failed; comparison in {}/comparison.md", done.len(), failed.len(), suite.display());
    if !failed.is_empty() {
        return Err(RunFailed(format!("failed runs: {}", failed.join(", "))).into());
    }
    Ok(())
}

fn create_suite_dir(dir: &Path) -> Result<()> {
    crate::results::create_empty_dir(dir, "out")?;
    fs::create_dir(dir.join("runs")).map_err(|e| input(format!("--out {}: cannot create runs/: {e}", dir.display())))
}

fn relative(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}

#[allow(clippy::too_many_arguments)]
fn write_suite_json(
    suite: &Path,
    a: &MatrixArgs,
    cells: &[Cell],
    skipped: &[Skipped],
    baseline: &str,
    start: SystemTime,
    done: &[RunEntry],
) -> Result<()> {
    let value = json!({
        "suite": suite.file_name().map(|n| n.to_string_lossy().into_owned()),
        "started_at": crate::time::iso8601(start),
        "command": std::env::args().skip(1).collect::<Vec<_>>(),
        "definition": {
            "workload": a.workload, "blocks": a.overrides.blocks, "seed": a.overrides.seed, "shard_size": a.shard_size,
            "repeat": a.repeat, "order_seed": a.order_seed, "floor_pct": a.floor_pct, "baseline_cell": baseline,
            "cells": cells,
        },
        "skipped": skipped,
        "environment": crate::run::envinfo::snapshot(),
        "order": done,
    });
    let path: PathBuf = suite.join("suite.json");
    crate::results::write_json(&path, &value)
}

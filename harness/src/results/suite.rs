//! `suite.json` and a suite directory's runs, read back (used by `matrix` and `ab` when
//! they finish and by `report`, `gate` and `calibrate` later). The comparison and charts
//! drawn from them are `matrix/render.rs`'s.
//!
//! ## Format
//! ```text
//! <suite>/suite.json            SuiteFile: definition (with the cells), environment,
//!                               skipped cells, the order actually run, interrupted
//! <suite>/runs/<cell>-r<k>/     one full run directory per (cell, repetition)
//! <suite>/comparison.{json,md}  per metric and cell: geometric mean, 95 % t interval,
//!                               change against the baseline, adjusted p, MDE, verdict
//! <suite>/charts/               suite charts
//! ```

use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use syncbench_node::CompactionMode;

use super::load::{read_json, RunFiles};
use crate::error::input;
use crate::record::outcome::Outcome;
use crate::settings::{Allocator, ArenaMax, EngineMalloc};
use syncbench_node::config::StoreKind;

/// One configuration of a suite.
fn is_native(s: &StoreKind) -> bool {
    *s == StoreKind::Native
}

fn is_default_engine_malloc(e: &EngineMalloc) -> bool {
    *e == EngineMalloc::Allocator
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub name: String,
    pub alloc: Allocator,
    pub arena_max: ArenaMax,
    pub compaction: CompactionMode,
    pub compaction_concurrency: u64,
    /// `--store` (absent in suites recorded before there was a choice: native).
    #[serde(default, skip_serializing_if = "is_native")]
    pub store: StoreKind,
    /// `--engine-malloc` (absent: the allocator under test).
    #[serde(default, skip_serializing_if = "is_default_engine_malloc")]
    pub engine_malloc: EngineMalloc,
    /// `matrix --alloc-conf`: the allocator's tuning (absent: untuned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alloc_conf: Option<String>,
    /// Set when shard size is an axis (several `--shard-size` values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_size: Option<u64>,
    /// A node binary of the cell's own (`syncbench ab`: base and head builds). Not
    /// recorded: it is a path on this machine.
    #[serde(skip)]
    pub node_bin: Option<PathBuf>,
    /// Runs without heap profiles even when the suite takes them (`ab
    /// --heap-profile-sides`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unprofiled: bool,
    /// Driver connections, runtime worker threads and run length, when the suite sets
    /// them per cell (`matrix --peers/--worker-threads/--duration`); absent: the base's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peers: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_threads: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u64>,
    /// `matrix --inject-retained-mib`: the node holds this many MiB more from start to
    /// end (a memory regression of known size, for calibrating the gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inject_retained_mib: Option<u64>,
}

/// A cell left out of the matrix, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Skipped {
    pub cell: String,
    pub reason: String,
}

/// One run of a suite as it happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunEntry {
    pub cell: String,
    pub rep: u32,
    /// Relative to the suite directory.
    pub run_dir: String,
    pub outcome: Outcome,
    pub wall_s: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuiteKind {
    /// `syncbench ab`: a base and a head node binary.
    Ab,
    /// `syncbench tune`: one allocator's settings, the untuned allocator first; the
    /// suite also has `tuning.md`, `tuning.json` and `charts/pareto.svg`.
    Tune,
}

/// What the suite was asked to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteDefinition {
    /// Absent for a matrix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SuiteKind>,
    pub workload: String,
    pub blocks: Option<u64>,
    pub seed: Option<u64>,
    /// Shard sizes given (several: an axis); `null` in suites recorded before the axis.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub shard_size: Vec<u64>,
    pub repeat: u32,
    pub order_seed: u64,
    pub floor_pct: f64,
    pub baseline_cell: String,
    #[serde(default)]
    pub cells: Vec<Cell>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    Ok(Option::<Vec<u64>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteFile {
    pub suite: Option<String>,
    pub started_at: String,
    pub command: Vec<String>,
    pub definition: SuiteDefinition,
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// The environment snapshot (see `run::envinfo`), kept as written.
    pub environment: serde_json::Value,
    pub order: Vec<RunEntry>,
    /// The signal that stopped the suite, if one did.
    #[serde(default)]
    pub interrupted: Option<String>,
}

pub fn is_suite(dir: &Path) -> bool {
    dir.join("suite.json").is_file()
}

pub fn read(suite: &Path) -> Result<SuiteFile> {
    read_json(&suite.join("suite.json"))
}

/// A suite's run: its cell, where its directory is, how it ended.
pub struct SuiteRun {
    pub cell: String,
    pub dir: PathBuf,
    pub outcome: Outcome,
    /// Its repetition: the round of the interleaved order it ran in (from 1).
    pub rep: u32,
}

/// Every run recorded in a suite, in the order run.
pub fn runs(suite: &Path) -> Result<Vec<SuiteRun>> {
    read(suite)?.runs(suite)
}

impl SuiteFile {
    /// The runs this file (read from `suite`) records, in the order run.
    /// Each run once: a run listed twice (under two spellings of its path) is refused,
    /// not counted twice, and a suite lists at most [`MAX_SUITE_RUNS`].
    pub fn runs(&self, suite: &Path) -> Result<Vec<SuiteRun>> {
        let file = suite.join("suite.json");
        if self.order.len() > MAX_SUITE_RUNS {
            return Err(input(format!(
                "{}: field `order`: expected at most {MAX_SUITE_RUNS} runs, got {}",
                file.display(),
                self.order.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(self.order.len());
        for (i, e) in self.order.iter().enumerate() {
            let dir = inside(suite, &e.run_dir, i)?;
            let key: PathBuf = Path::new(&e.run_dir).components().collect();
            if !seen.insert(key) {
                return Err(input(format!(
                    "{}: field `order[{i}].run_dir`: `{}` is listed twice (a run counts once)",
                    file.display(),
                    crate::util::text::quote_line(&e.run_dir)
                )));
            }
            out.push(SuiteRun { dir, cell: e.cell.clone(), outcome: e.outcome, rep: e.rep });
        }
        Ok(out)
    }
}

/// Most runs a suite lists (as many as `matrix` runs).
pub const MAX_SUITE_RUNS: usize = 2_000;

/// `suite/<rel>` if `rel` is a relative path that stays inside the suite; `report`
/// writes charts into run directories and must never write outside the ones given.
fn inside(suite: &Path, rel: &str, i: usize) -> Result<PathBuf> {
    let p = Path::new(rel);
    let stays = !rel.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    let file = suite.join("suite.json");
    if !stays {
        return Err(input(format!(
            "{}: field `order[{i}].run_dir`: expected a relative path inside the suite, got `{rel}`",
            file.display()
        )));
    }
    let dir = suite.join(p);
    // A symlink inside the suite could still lead out of it.
    let escapes = match (fs::canonicalize(&dir), fs::canonicalize(suite)) {
        (Ok(real), Ok(root)) => !real.starts_with(root),
        _ => false,
    };
    if escapes {
        return Err(input(format!(
            "{}: field `order[{i}].run_dir`: `{rel}` leads outside the suite through a symlink",
            file.display()
        )));
    }
    Ok(dir)
}

/// Every recorded run in `dir` (a suite's runs with a summary, or the run itself).
pub fn all_runs(dir: &Path) -> Result<Vec<RunFiles>> {
    if !is_suite(dir) {
        return Ok(vec![RunFiles::load(dir)?]);
    }
    runs(dir)?.into_iter().filter(|r| r.dir.join("summary.json").is_file()).map(|r| RunFiles::load(&r.dir)).collect()
}

/// The successful runs in `dir`: a suite's runs recorded `ok`, or the run itself.
pub fn ok_runs(dir: &Path) -> Result<Vec<RunFiles>> {
    let runs: Vec<RunFiles> = if is_suite(dir) {
        runs(dir)?
            .into_iter()
            .filter(|r| r.outcome == Outcome::Ok)
            .map(|r| RunFiles::load(&r.dir))
            .collect::<Result<_>>()?
    } else {
        vec![RunFiles::load(dir)?]
    };
    Ok(runs.into_iter().filter(|r| r.summary.outcome == Outcome::Ok).collect())
}

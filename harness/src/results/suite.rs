//! `suite.json` and what is derived from a suite directory: its runs, its comparison
//! and its charts (used by `matrix` and `ab` when they finish and by `report` later).
//!
//! ## Format
//! ```text
//! <suite>/suite.json            SuiteFile: definition (with the cells), environment,
//!                               skipped cells, the order actually run, interrupted
//! <suite>/runs/<cell>-r<k>/     one full run directory per (cell, repetition)
//! <suite>/comparison.{json,md}  per metric and cell: median, 95 % CI, ratio to baseline
//! <suite>/charts/               suite charts
//! ```

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use syncbench_node::CompactionMode;

use super::load::{read_json, RunFiles};
use crate::charts::suite::{Interval, SuiteChartData};
use crate::charts::CellRuns;
use crate::error::input;
use crate::matrix::comparison::{self, Comparison, MetricKey, RunRecord};
use crate::options::IngestOptions;
use crate::record::outcome::Outcome;
use crate::settings::{Allocator, ArenaMax};

/// One configuration of a suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub name: String,
    pub alloc: Allocator,
    pub arena_max: ArenaMax,
    pub compaction: CompactionMode,
    pub compaction_concurrency: u64,
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

impl Cell {
    /// The options of this cell's runs: `base` with the cell's own axes.
    pub fn apply(&self, base: &IngestOptions) -> IngestOptions {
        IngestOptions {
            alloc: self.alloc,
            arena_max: self.arena_max,
            compaction: self.compaction,
            compaction_concurrency: self.compaction_concurrency,
            workload: syncbench_workloads::WorkloadSpec {
                shard_size: self.shard_size.unwrap_or(base.workload.shard_size),
                ..base.workload.clone()
            },
            node_bin: self.node_bin.clone().or_else(|| base.node_bin.clone()),
            // Only jemalloc cells can be profiled; the others run as usual.
            heap_profile: base.heap_profile.filter(|_| self.alloc == Allocator::Jemalloc && !self.unprofiled),
            peers: self.peers.unwrap_or(base.peers),
            worker_threads: self.worker_threads.or(base.worker_threads),
            duration: self.duration_s.map(std::time::Duration::from_secs).or(base.duration),
            node_args: match self.inject_retained_mib.filter(|&n| n > 0) {
                Some(n) => base.node_args.iter().cloned().chain([format!("--inject-retained-mib={n}")]).collect(),
                None => base.node_args.clone(),
            },
            ..base.clone()
        }
    }
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

/// Re-derives a suite's comparison and charts from suite.json and its runs.
pub fn render(suite: &Path, png: bool) -> Result<Comparison> {
    render_file(suite, &read(suite)?, png)
}

/// [`render`] with suite.json already read.
pub fn render_file(suite: &Path, file: &SuiteFile, png: bool) -> Result<Comparison> {
    let d = &file.definition;
    let mut failed = Vec::new();
    let mut grouped: Vec<CellRuns> =
        d.cells.iter().map(|c| CellRuns { cell: c.name.clone(), runs: Vec::new(), rounds: Vec::new() }).collect();
    for r in file.runs(suite)? {
        if r.outcome != Outcome::Ok {
            let name = r.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or(r.cell);
            failed.push(format!("{name} ({})", r.outcome));
            continue;
        }
        if let Some(g) = grouped.iter_mut().find(|g| g.cell == r.cell) {
            g.runs.push(RunFiles::load(&r.dir)?);
            g.rounds.push(Some(r.rep));
        }
    }
    if let Some(sig) = &file.interrupted {
        let total = d.cells.len() * d.repeat as usize;
        failed.push(format!("(the suite was interrupted by {sig} after {} of its {total} runs)", file.order.len()));
    }
    let title = format!("{} — {} cells × {} repetitions", d.workload, d.cells.len(), d.repeat);
    let framing =
        Framing { baseline: &d.baseline_cell, floor_pct: d.floor_pct, title: &title, failed: &failed, paired: true };
    write_comparison(suite, &grouped, &framing, png)
}

/// How the runs of a comparison are compared and titled.
pub struct Framing<'a> {
    /// The cell every other cell is compared with.
    pub baseline: &'a str,
    /// Changes smaller than this many percent are not called.
    pub floor_pct: f64,
    pub title: &'a str,
    /// Runs that failed, listed under the table.
    pub failed: &'a [String],
    /// Whether the k-th run of every cell ran in the same round (interleaved suites:
    /// paired tests) or not (runs gathered from elsewhere: Welch).
    pub paired: bool,
}

/// Writes `comparison.{json,md}` and the suite charts of `grouped` into `dir`.
pub fn write_comparison(dir: &Path, grouped: &[CellRuns], framing: &Framing, png: bool) -> Result<Comparison> {
    let Framing { baseline, floor_pct: floor, title, failed, paired } = *framing;
    let records: Vec<RunRecord> = grouped
        .iter()
        .flat_map(|g| {
            g.runs.iter().enumerate().map(|(i, r)| RunRecord {
                cell: g.cell.clone(),
                round: g.rounds.get(i).copied().flatten(),
                summary: r.summary.clone(),
                floors: r.ratchet.clone(),
            })
        })
        .collect();
    let names: Vec<String> = grouped.iter().map(|g| g.cell.clone()).collect();
    let cmp = comparison::compare(&names, &records, baseline, floor, paired);
    super::write_json(&dir.join("comparison.json"), &cmp)?;
    let mut md = comparison::markdown(&cmp, title, failed);
    md.push_str(&heap_sites_section(grouped));
    crate::util::fsx::write_atomic(&dir.join("comparison.md"), md.as_bytes())?;
    let hosts: BTreeSet<&str> = grouped.iter().flat_map(|g| g.runs.iter().map(|r| r.config.host())).collect();
    let workloads: BTreeSet<&str> =
        grouped.iter().flat_map(|g| g.runs.iter().map(|r| r.config.workload.name.as_str())).collect();
    let subtitle = format!(
        "{} · {}",
        workloads.into_iter().collect::<Vec<_>>().join(", "),
        hosts.into_iter().collect::<Vec<_>>().join(", ")
    );
    let data = SuiteChartData {
        subtitle,
        rss_peak_mib: intervals(&cmp, MetricKey::RssPeak),
        throughput_mib_s: intervals(&cmp, MetricKey::Throughput),
        cells: grouped.to_vec(),
    };
    crate::charts::suite::render_suite(&data, &dir.join("charts"), png)?;
    Ok(cmp)
}

/// For cells with heap profiles: their top sites at the peak side by side (empty when
/// no run was profiled, so suites without profiles render as before).
fn heap_sites_section(grouped: &[CellRuns]) -> String {
    use crate::heap::diff::{markdown, GroupSites};
    let groups: Vec<GroupSites> = grouped
        .iter()
        .filter_map(|g| GroupSites::of(&g.cell, &g.runs.iter().map(|r| &r.summary).collect::<Vec<_>>()))
        .collect();
    if groups.is_empty() {
        return String::new();
    }
    format!(
        "## Heap at the peak: top allocation sites (jemalloc heap profiles)\n\n\
         Mean bytes each site held in the profile taken nearest each run's largest live heap \
         (share of the profile's live bytes); each run's flame graph is its `heap/peak.svg`. \
         Cells without profiles (glibc, mimalloc) are not listed.\n\n{}\n",
        markdown(&groups)
    )
}

fn intervals(c: &Comparison, key: MetricKey) -> Vec<Interval> {
    // Below 3 runs there is no interval: the whisker is the range, labelled so.
    let to_interval = |s: &comparison::CellStat| {
        let [lo, hi] = s.ci.unwrap_or(s.range);
        Interval { cell: s.cell.clone(), median: s.center, lo, hi, n: s.n }
    };
    c.metrics.iter().find(|m| m.key == key).map(|m| m.cells.iter().map(to_interval).collect()).unwrap_or_default()
}

//! `syncbench tune --alloc A`: which settings of one allocator, and at what cost.
//!
//! A matrix over the allocator's settings ([`space`]: a small default space from
//! published practice, or `--setting`s), the untuned allocator first and the baseline
//! of every comparison, on the soak workload for `--duration` × `--repeat` interleaved
//! rounds. From the suite's comparison (paired by round, t on logs, Benjamini–Hochberg
//! over the suite), [`analyse`] keeps the trade-off a user chooses on — memory (RSS p50,
//! RSS × time) against cost (throughput, ingest p99, node CPU time and the kernel's share
//! of it) — marks the Pareto-optimal settings and makes a recommendation that only rests
//! on called differences; [`report`] writes `tuning.md`, `tuning.json` and `charts/pareto.svg`
//! (re-derived by `syncbench report` like every other file of a suite).

pub mod report;
pub mod space;

use std::time::SystemTime;

use anyhow::Result;
use serde::Serialize;

use crate::cli::{MatrixArgs, TuneArgs};
use crate::matrix::comparison::{Comparison, MetricKey};
use crate::results::suite::{Cell, SuiteKind};
use crate::settings::ArenaMax;
use crate::stats::{Direction, Verdict};

/// What a setting saves.
pub const MEMORY: [MetricKey; 2] = [MetricKey::RssP50, MetricKey::RssMibSPerGib];
/// What it may cost.
pub const COST: [MetricKey; 4] = [MetricKey::Throughput, MetricKey::IngestP99, MetricKey::Cpu, MetricKey::CpuSysShare];

pub fn run(a: TuneArgs) -> Result<()> {
    let start = SystemTime::now();
    let m = matrix_args(a);
    let mut plan = crate::matrix::plan(&m, start, &format!("tune-{}", m.alloc[0]))?;
    plan.definition.kind = Some(SuiteKind::Tune);
    // A failed run fails the command before this; `syncbench report DIR` then writes
    // the tuning from the runs that succeeded.
    let dir = crate::matrix::execute(&plan, start)?;
    let tuning = write_for_suite(&dir, plan.base.png)?;
    crate::say!("{}", report::terminal(&tuning));
    crate::say!("tune: the trade-off in {}/tuning.md, charts/pareto.svg", dir.display());
    Ok(())
}

/// Writes a tuning suite's `tuning.{md,json}` and `charts/pareto.svg` from its files
/// (the comparison re-derived from the runs, as `report` does).
pub fn write_for_suite(dir: &std::path::Path, png: bool) -> Result<Tuning> {
    let file = crate::results::suite::read(dir)?;
    let cmp = crate::matrix::render::render_file(dir, &file, png)?;
    let d = &file.definition;
    let alloc = d.cells.first().map_or_else(String::new, |c| c.alloc.to_string());
    let title = format!("Tuning {alloc} — {} — {} settings × {} rounds", d.workload, d.cells.len(), d.repeat);
    let tuning = analyse(&cmp, &d.cells);
    report::write(dir, &tuning, &title, png)?;
    Ok(tuning)
}

/// The matrix `tune` runs: one allocator, its settings (the default space, or the
/// user's with `default` first), everything else at the matrix's defaults.
fn matrix_args(a: TuneArgs) -> MatrixArgs {
    let alloc = a.alloc;
    let space = space::default_space(alloc);
    let (arena_max, settings): (Vec<String>, Vec<Option<String>>) = if a.setting.is_empty() {
        let arenas = space.arena_max.iter().map(|s| (*s).to_owned()).collect();
        (arenas, space.candidates.iter().map(|c| c.conf.map(str::to_owned)).collect())
    } else {
        let user = a.setting.iter().filter(|s| s.as_str() != "default").map(|s| Some(s.clone()));
        let arenas = if a.arena_max.is_empty() { vec!["default".to_owned()] } else { a.arena_max.clone() };
        (arenas, std::iter::once(None).chain(user).collect())
    };
    let alloc_conf = settings.iter().map(|s| format!("{alloc}:{}", s.as_deref().unwrap_or("default"))).collect();
    MatrixArgs {
        alloc: vec![alloc],
        arena_max,
        compaction: vec![syncbench_node::CompactionMode::Streaming],
        compaction_concurrency: vec![1],
        alloc_conf,
        store: vec![a.store],
        engine_malloc: vec![crate::settings::EngineMalloc::Allocator],
        peers: vec![crate::settings::DEFAULT_PEERS],
        worker_threads: vec!["default".into()],
        duration: vec![a.duration],
        inject_retained_mib: vec![0],
        repeat: a.repeat,
        workload: a.workload,
        overrides: a.overrides,
        shard_size: Vec::new(),
        out: a.out,
        fail_fast: a.fail_fast,
        no_skip: false,
        exclude_cell: Vec::new(),
        baseline_cell: None,
        floor_pct: a.floor_pct,
        order_seed: a.order_seed,
        settings: a.settings,
    }
}

/// The trade-off of a tuning suite.
///
/// ## Format (`tuning.json`)
/// `{baseline, family_size, floor_pct, settings: [{cell, setting, why?, n, pareto_optimal,
/// figures: [{key, label, unit, direction, center, ci?, range, vs_default?: {ratio, ci,
/// p_adjusted, verdict}}]}], recommendation: {kind: "setting" | "keep_default", cell?,
/// setting?, why, closest?}}`: a kept default's `closest` is the cell with the lowest RSS
/// p50, whose figures the report prints beside it. Figures are the suite's
/// `comparison.json` values, not recomputed.
#[derive(Debug, Serialize)]
pub struct Tuning {
    pub baseline: String,
    pub family_size: usize,
    pub floor_pct: f64,
    pub settings: Vec<SettingRow>,
    pub recommendation: Recommendation,
}

/// One setting (one cell of the suite).
#[derive(Debug, Serialize)]
pub struct SettingRow {
    pub cell: String,
    /// `default`, or what the node was given: `MALLOC_ARENA_MAX=2`, the conf string.
    pub setting: String,
    /// Why the default space has it (absent for a user's setting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Its successful runs.
    pub n: usize,
    /// No other setting is at least as good on every figure's point estimate and
    /// better on one.
    pub pareto_optimal: bool,
    pub figures: Vec<Figure>,
}

/// One metric of one setting, from the suite's comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub key: MetricKey,
    pub label: &'static str,
    pub unit: &'static str,
    pub direction: Direction,
    /// Geometric mean of the runs, its 95 % t interval (`None` below 3 runs) and range.
    pub center: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<[f64; 2]>,
    pub range: [f64; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_default: Option<Change>,
}

/// A setting against the untuned allocator: the paired ratio, its 95 % interval, the
/// adjusted p and the verdict.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Change {
    pub ratio: f64,
    pub ci: [f64; 2],
    pub p_adjusted: f64,
    pub verdict: Verdict,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recommendation {
    /// A setting whose memory saving is called and none of whose costs is.
    Setting { cell: String, setting: String, why: String },
    KeepDefault {
        why: String,
        /// The setting with the lowest RSS p50, when one was compared: its figures are
        /// printed beside "keep the default", so the advice carries its uncertainty.
        #[serde(skip_serializing_if = "Option::is_none")]
        closest: Option<String>,
    },
}

/// The trade-off of `cells` (in suite order, the untuned allocator first) in `cmp`.
pub fn analyse(cmp: &Comparison, cells: &[Cell]) -> Tuning {
    let mut settings: Vec<SettingRow> = cells
        .iter()
        .map(|c| {
            let figures: Vec<Figure> = MEMORY.iter().chain(&COST).filter_map(|&k| figure(cmp, k, &c.name)).collect();
            let n = runs_of(cmp, &c.name);
            SettingRow {
                cell: c.name.clone(),
                setting: setting_label(c),
                why: why(c),
                n,
                pareto_optimal: false,
                figures,
            }
        })
        .collect();
    mark_pareto(&mut settings);
    let recommendation = recommend(&settings, &cmp.baseline_cell);
    Tuning {
        baseline: cmp.baseline_cell.clone(),
        family_size: cmp.family_size,
        floor_pct: cmp.floor_pct,
        settings,
        recommendation,
    }
}

/// Why the default space has `c`'s setting (`None` for a user's own).
fn why(c: &Cell) -> Option<String> {
    let conf = space::why(c.alloc, c.alloc_conf.as_deref());
    match c.arena_max {
        ArenaMax::Default => conf.map(str::to_owned),
        ArenaMax::Max(n) => {
            let cap = format!("MALLOC_ARENA_MAX={n}, the arena cap production nodes set against glibc's fragmentation");
            Some(match (c.alloc_conf.as_deref(), conf) {
                (None, _) => cap,
                (Some(_), Some(w)) => format!("{cap}; and {w}"),
                (Some(_), None) => return None,
            })
        }
    }
}

/// `default`, `MALLOC_ARENA_MAX=2`, the conf string, or both joined by ` + `.
pub fn setting_label(c: &Cell) -> String {
    let arena = match c.arena_max {
        ArenaMax::Default => None,
        ArenaMax::Max(n) => Some(format!("MALLOC_ARENA_MAX={n}")),
    };
    let parts: Vec<String> = arena.into_iter().chain(c.alloc_conf.clone()).collect();
    if parts.is_empty() {
        "default".into()
    } else {
        parts.join(" + ")
    }
}

fn figure(cmp: &Comparison, key: MetricKey, cell: &str) -> Option<Figure> {
    let table = cmp.metrics.iter().find(|m| m.key == key)?;
    let s = table.cells.iter().find(|s| s.cell == cell && s.n > 0)?;
    let vs_default = s.vs_baseline.as_ref().zip(s.verdict).map(|(v, verdict)| Change {
        ratio: v.estimate,
        ci: v.ci,
        p_adjusted: v.p_adjusted,
        verdict,
    });
    Some(Figure {
        key,
        label: table.label,
        unit: table.unit,
        direction: table.direction,
        center: s.center,
        ci: s.ci,
        range: s.range,
        vs_default,
    })
}

/// Successful runs of `cell` (every one has a throughput).
fn runs_of(cmp: &Comparison, cell: &str) -> usize {
    let table = cmp.metrics.iter().find(|m| m.key == MetricKey::Throughput);
    table.and_then(|t| t.cells.iter().find(|s| s.cell == cell)).map_or(0, |s| s.n)
}

/// A figure's value with "higher is better" for every metric.
fn goodness(f: &Figure) -> f64 {
    match f.direction {
        Direction::LowerIsBetter => -f.center,
        Direction::HigherIsBetter => f.center,
    }
}

/// Whether `b` is at least as good as `a` on every figure both have, better on one.
fn dominates(b: &SettingRow, a: &SettingRow) -> bool {
    let pairs: Vec<(f64, f64)> = a
        .figures
        .iter()
        .filter_map(|fa| Some((goodness(fa), goodness(b.figures.iter().find(|fb| fb.key == fa.key)?))))
        .collect();
    !pairs.is_empty() && pairs.iter().all(|(ga, gb)| gb >= ga) && pairs.iter().any(|(ga, gb)| gb > ga)
}

fn mark_pareto(rows: &mut [SettingRow]) {
    let optimal: Vec<bool> =
        rows.iter().map(|a| !a.figures.is_empty() && !rows.iter().any(|b| dominates(b, a))).collect();
    for (row, o) in rows.iter_mut().zip(optimal) {
        row.pareto_optimal = o;
    }
}

fn verdict_of(row: &SettingRow, key: MetricKey) -> Option<Verdict> {
    row.figures.iter().find(|f| f.key == key)?.vs_default.map(|c| c.verdict)
}

fn ratio_of(row: &SettingRow, key: MetricKey) -> Option<f64> {
    row.figures.iter().find(|f| f.key == key)?.vs_default.map(|c| c.ratio)
}

/// Whether a cost of `row` is called worse. The kernel's share of the CPU counts only
/// when the CPU total is not called better: a setting that saves user CPU raises the
/// share without costing anything.
fn cost_called_worse(row: &SettingRow) -> bool {
    let cpu_better = verdict_of(row, MetricKey::Cpu) == Some(Verdict::Better);
    COST.iter()
        .filter(|&&k| !(k == MetricKey::CpuSysShare && cpu_better))
        .any(|&k| verdict_of(row, k) == Some(Verdict::Worse))
}

/// The setting with the largest RSS p50 saving among those with a memory figure called
/// better, none called worse, and no cost called worse; else keep the default, saying
/// why the best-looking setting does not qualify.
fn recommend(rows: &[SettingRow], baseline: &str) -> Recommendation {
    let others = || rows.iter().filter(|r| r.cell != baseline);
    let saving = |r: &SettingRow| ratio_of(r, MetricKey::RssP50).or_else(|| ratio_of(r, MetricKey::RssMibSPerGib));
    let called = |r: &&SettingRow, keys: &[MetricKey], v: Verdict| keys.iter().any(|&k| verdict_of(r, k) == Some(v));
    let by_saving =
        |a: &&SettingRow, b: &&SettingRow| saving(a).unwrap_or(f64::MAX).total_cmp(&saving(b).unwrap_or(f64::MAX));
    let best = others()
        .filter(|r| called(r, &MEMORY, Verdict::Better))
        .filter(|r| !called(r, &MEMORY, Verdict::Worse) && !cost_called_worse(r))
        .min_by(by_saving);
    if let Some(r) = best {
        return Recommendation::Setting {
            cell: r.cell.clone(),
            setting: r.setting.clone(),
            why: "the largest RSS p50 saving called better, with no memory or cost figure called worse".into(),
        };
    }
    if others().next().is_none() {
        return Recommendation::KeepDefault {
            why: "the suite has no setting besides the default".into(),
            closest: None,
        };
    }
    let Some(closest) = others().filter(|r| saving(r).is_some()).min_by(by_saving) else {
        let why = "no setting has a memory figure against the default (runs too short for RSS over time?)";
        return Recommendation::KeepDefault { why: why.into(), closest: None };
    };
    let undecided = |f: &Figure| matches!(f.vs_default.map(|c| c.verdict), None | Some(Verdict::TooFewRuns));
    if others().all(|r| r.figures.iter().all(undecided)) {
        let why = "too few runs for a verdict (3 rounds or more are needed; 5 resolve ~15–25 %)";
        return Recommendation::KeepDefault { why: why.into(), closest: Some(closest.cell.clone()) };
    }
    let why = if cost_called_worse(closest) || called(&closest, &MEMORY, Verdict::Worse) {
        format!("the setting with the lowest RSS p50, {}, has a figure called worse than the default", closest.setting)
    } else {
        format!(
            "no setting's memory saving is called: the lowest RSS p50, {}, is within the noise or the floor",
            closest.setting
        )
    };
    Recommendation::KeepDefault { why, closest: Some(closest.cell.clone()) }
}

#[cfg(test)]
mod tests;

//! `syncbench ab`: the time-based half of the PR gate. Two node binaries (base and
//! head, e.g. built from the PR's base and head commits) run the same workload,
//! interleaved on the same machine in one suite; throughput, ingest latency and node
//! user CPU time are compared as paired ratios (see [`paired_rows`]) with 95 % bootstrap
//! intervals. A metric regresses only when its whole interval is beyond the floor in
//! the worse direction, so noise does not fail a PR and a real slowdown does.
//!
//! Exit codes: 0 no regression, 1 regression or failed run, 2 bad input.

use std::fmt::Write as _;
use std::time::SystemTime;

use anyhow::Result;

use crate::cli::{AbArgs, ProfiledSides};
use crate::error::{input, RunFailed};
use crate::gate::thresholds::Thresholds;
use crate::matrix::comparison::{MetricKey, METRICS};
use crate::matrix::{self, SuitePlan};
use crate::options::{resolve_workload, ArenaMax, IngestOptions, RunSettings};
use crate::results::load::RunFiles;
use crate::results::suite::{self, Cell, SuiteDefinition, SuiteKind};
use crate::results::summary::Summary;
use crate::run::crash::Outcome;
use crate::stats::{self, Verdict};

/// Metrics judged base-vs-head (keys of `comparison.json`). Node user CPU time is
/// the one that resolves a ~10 % per-block cost on a noisy VM: throughput and latency
/// also carry the disk's noise (README, "Use it as a PR gate").
pub const TIME_METRICS: &[MetricKey] =
    &[MetricKey::Throughput, MetricKey::IngestP50, MetricKey::IngestP99, MetricKey::CpuUser];

pub fn run(a: &AbArgs) -> Result<()> {
    for (flag, p) in [("--base-node", &a.base_node), ("--head-node", &a.head_node)] {
        if !p.is_file() {
            return Err(input(format!("{flag} {}: no such file", p.display())));
        }
    }
    crate::gate::check_output(a.markdown.as_deref(), "--markdown")?;
    let floor_pct = match &a.thresholds {
        Some(p) => Thresholds::load(p)?.ab_floor_pct,
        None => a.floor_pct,
    };
    let workload = resolve_workload(&a.workload, &a.overrides, None)?;
    let settings = RunSettings::from_args(&a.settings)?;
    let base = IngestOptions::base(a.workload.clone(), workload, settings);
    let start = SystemTime::now();
    let dir = a.out.clone().unwrap_or_else(|| matrix::default_suite_dir(start, &base.workload.name, "ab"));
    let cell = |name: &str, bin: &std::path::Path| Cell {
        name: name.into(),
        alloc: a.alloc,
        arena_max: ArenaMax::Default,
        compaction: base.compaction,
        compaction_concurrency: 1,
        shard_size: None,
        node_bin: Some(bin.to_owned()),
        unprofiled: !matches!(
            (a.heap_profile_sides, name),
            (ProfiledSides::Both, _) | (ProfiledSides::Base, "base") | (ProfiledSides::Head, "head")
        ),
        peers: None,
        worker_threads: None,
        duration_s: None,
    };
    let plan = SuitePlan {
        cells: vec![cell("base", &a.base_node), cell("head", &a.head_node)],
        skipped: Vec::new(),
        definition: SuiteDefinition {
            kind: Some(SuiteKind::Ab),
            workload: crate::units::portable_arg(&a.workload),
            blocks: a.overrides.blocks,
            seed: a.overrides.seed,
            shard_size: Vec::new(),
            repeat: a.repeat,
            order_seed: a.order_seed,
            floor_pct,
            baseline_cell: "base".into(),
            cells: Vec::new(),
        },
        base,
        dir,
        default_dir: a.out.is_none(),
        repeat: a.repeat,
        order_seed: a.order_seed,
        fail_fast: true,
        keep_controls: false,
    };
    let dir = matrix::execute(&plan, start)?;
    // Time figures of a node that stores nothing (or was never checked) are not a
    // faster node: refuse them rather than call them "better".
    let untrusted: Vec<String> = suite::all_runs(&dir)?.iter().filter_map(crate::gate::untrusted_reason).collect();
    if !untrusted.is_empty() {
        return Err(RunFailed(format!("ab: refusing to compare unverified runs: {}", untrusted.join("; "))).into());
    }
    let (base, head) = sides(&dir)?;
    let rows = paired_rows(&base, &head, floor_pct / 100.0);
    let (text, regressions) = judge(&rows, floor_pct);
    crate::say!("{text}");
    let heap = heap_diff(&base, &head);
    if let Some(h) = &heap {
        crate::say!("\nheap at the peak, base vs head (jemalloc heap profiles):\n{h}");
    }
    if let Some(md) = &a.markdown {
        let mut text = markdown(&rows, floor_pct, a.repeat);
        if let Some(h) = &heap {
            let _ = write!(text, "\n### Heap at the peak: top allocation sites\n\nMean bytes per site in the profile taken nearest each run's largest live heap.\n\n{h}");
        }
        crate::util::fsx::write_atomic(md, text.as_bytes())?;
    }
    if !regressions.is_empty() {
        return Err(RunFailed(format!("ab: head regresses {}", regressions.join(", "))).into());
    }
    Ok(())
}

/// The summaries of the `ok` runs of each side, in run order.
fn sides(dir: &std::path::Path) -> Result<(Vec<Summary>, Vec<Summary>)> {
    let (mut base, mut head) = (Vec::new(), Vec::new());
    for run in suite::runs(dir)?.into_iter().filter(|r| r.outcome == Outcome::Ok) {
        let summary = RunFiles::load(&run.dir)?.summary;
        match run.cell.as_str() {
            "base" => base.push(summary),
            "head" => head.push(summary),
            _ => {}
        }
    }
    Ok((base, head))
}

/// Base and head's top sites at the peak side by side, when both sides were profiled.
fn heap_diff(base: &[Summary], head: &[Summary]) -> Option<String> {
    use crate::heap::diff::{ab_markdown, GroupSites};
    let side = |label, runs: &[Summary]| GroupSites::of(label, &runs.iter().collect::<Vec<_>>());
    side("base", base).zip(side("head", head)).map(|(b, h)| ab_markdown(&b, &h))
}

/// One time metric, head vs base.
pub struct PairedRow {
    pub label: &'static str,
    pub unit: &'static str,
    pub base_median: f64,
    pub head_median: f64,
    /// Median of the per-round ratios head ÷ base, with its 95 % bootstrap interval.
    pub ratio: f64,
    pub ci: (f64, f64),
    pub verdict: Verdict,
}

/// Pairs the k-th base run with the k-th head run — adjacent in the interleaved order
/// (each round runs both once) — and bootstraps the median of their ratios. Pairing
/// cancels slow drift of the machine's speed, which on a shared VM is larger than the
/// difference being looked for (measured: user CPU time of identical runs drifting
/// 25 % over a suite while every adjacent pair kept its order).
pub fn paired_rows(base: &[Summary], head: &[Summary], floor: f64) -> Vec<PairedRow> {
    METRICS
        .iter()
        .filter(|m| TIME_METRICS.contains(&m.key))
        .filter_map(|m| {
            let pairs: Vec<(f64, f64)> =
                base.iter().zip(head).filter_map(|(b, h)| Some(((m.extract)(b)?, (m.extract)(h)?))).collect();
            if pairs.is_empty() {
                return None;
            }
            let ratios: Vec<f64> = pairs.iter().map(|(b, h)| h / b).collect();
            let (lo, hi) = stats::median_ci(&ratios);
            Some(PairedRow {
                label: m.label,
                unit: m.unit,
                base_median: stats::median(&pairs.iter().map(|p| p.0).collect::<Vec<_>>()),
                head_median: stats::median(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()),
                ratio: stats::median(&ratios),
                ci: (lo, hi),
                verdict: stats::verdict_of((pairs.len(), pairs.len()), lo, hi, floor, m.direction),
            })
        })
        .collect()
}

fn verdict_text(v: Verdict, md: bool) -> &'static str {
    match (v, md) {
        (Verdict::Worse, false) => "REGRESSION",
        (Verdict::Worse, true) => "**REGRESSION**",
        (Verdict::Better, _) => "better",
        (Verdict::TooFewRuns, _) => "too few rounds (< 3)",
        _ => "no clear difference",
    }
}

/// The text table and the regressing metrics.
pub fn judge(rows: &[PairedRow], floor_pct: f64) -> (String, Vec<String>) {
    let mut out = format!("ab: head ÷ base, median of paired ratios with 95 % interval; floor ±{floor_pct} %\n");
    for r in rows {
        let _ = writeln!(
            out,
            "  {:<22} base {:>9.2} {:<5} head {:>9.2}  ratio {:.3} [{:.3} – {:.3}]  {}",
            r.label,
            r.base_median,
            r.unit,
            r.head_median,
            r.ratio,
            r.ci.0,
            r.ci.1,
            verdict_text(r.verdict, false)
        );
    }
    let regressions = rows.iter().filter(|r| r.verdict == Verdict::Worse).map(|r| r.label.to_owned()).collect();
    (out, regressions)
}

pub fn markdown(rows: &[PairedRow], floor_pct: f64, repeat: u32) -> String {
    let mut md = format!(
        "## syncbench ab: head vs base\n\n{repeat} rounds, each running base and head back to back on one machine; \
         median of the per-round ratios head ÷ base with its 95 % bootstrap interval. A regression is called only \
         when the whole interval is beyond ±{floor_pct} % in the worse direction.\n\n\
         | metric | base | head | ratio | 95 % CI | verdict |\n|---|---|---|---|---|---|\n"
    );
    for r in rows {
        let _ = writeln!(
            md,
            "| {} ({}) | {:.2} | {:.2} | {:.3} | {:.3} – {:.3} | {} |",
            r.label,
            r.unit,
            r.base_median,
            r.head_median,
            r.ratio,
            r.ci.0,
            r.ci.1,
            verdict_text(r.verdict, true)
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_needs_the_whole_interval_beyond_the_floor() {
        let row = |lo, hi| stats::verdict(lo, hi, 0.05, crate::stats::Direction::LowerIsBetter);
        assert_eq!(row(1.06, 1.25), Verdict::Worse);
        assert_eq!(row(0.98, 1.25), Verdict::NoClearDifference);
    }
}

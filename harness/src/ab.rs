//! `syncbench ab`: the PR gate measured on one machine. Two node binaries (base and
//! head, e.g. built from the PR's base and head commits) run the same workload,
//! interleaved on the same machine in one suite; throughput, ingest latency and node
//! user CPU time are compared as paired ratios (see [`paired_rows`]): a t test on the
//! per-round log ratios, Benjamini–Hochberg over the rows, a minimum detectable effect
//! per row. A metric regresses only when the change is beyond the floor in the worse
//! direction at the adjusted level, so noise does not fail a PR and a real slowdown does.
//!
//! With `--judge memory` the same interleaved suite decides the memory half instead: the
//! gate's metrics (allocations, live heap, bytes written, RSS) of head against base
//! under the limits of `--thresholds`, by `syncbench gate`'s rule ([`memory_verdict`]).
//! RSS depends on the host and its kernel as much as on the node (measured: the same
//! node's RSS p50 5 % above a baseline recorded on the same VM a kernel build earlier),
//! so a PR's RSS is judged only against its base measured beside it.
//!
//! Exit codes: 0 no regression, 1 regression or failed run, 2 bad input.

use std::fmt::Write as _;
use std::path::Path;
use std::time::SystemTime;

use anyhow::Result;

use crate::cli::{AbArgs, AbJudge, ProfiledSides};
use crate::error::{input, RunFailed};
use crate::gate::thresholds::Thresholds;
use crate::matrix::comparison::{MetricKey, METRICS};
use crate::matrix::{self, SuitePlan};
use crate::options::{resolve_workload, IngestOptions, RunSettings};
use crate::results::load::RunFiles;
use crate::results::suite::{self, Cell, SuiteDefinition, SuiteKind};
use crate::results::summary::Summary;
use crate::run::crash::Outcome;
use crate::settings::ArenaMax;
use crate::stats::{self, Verdict};

/// Metrics judged base-vs-head (keys of `comparison.json`). Node user CPU time is
/// the one that resolves a ~10 % per-block cost on a noisy VM: throughput and latency
/// also carry the disk's noise (docs/pr-gate.md).
pub const TIME_METRICS: &[MetricKey] =
    &[MetricKey::Throughput, MetricKey::IngestP50, MetricKey::IngestP99, MetricKey::CpuUser];

pub fn run(a: &AbArgs) -> Result<()> {
    for (flag, p) in [("--base-node", &a.base_node), ("--head-node", &a.head_node)] {
        if !p.is_file() {
            return Err(input(format!("{flag} {}: no such file", p.display())));
        }
    }
    crate::gate::check_output(a.markdown.as_deref(), "--markdown")?;
    check_memory_judgeable(a)?;
    let thresholds = a.thresholds.as_deref().map(Thresholds::load).transpose()?;
    let floor_pct = thresholds.as_ref().map_or(a.floor_pct, |t| t.ab_floor_pct);
    let start = SystemTime::now();
    let dir = matrix::execute(&plan(a, floor_pct, start)?, start)?;
    // Time figures of a node that stores nothing (or was never checked) are not a
    // faster node: refuse them rather than call them "better".
    let untrusted: Vec<String> = suite::all_runs(&dir)?.iter().filter_map(crate::gate::untrusted_reason).collect();
    if !untrusted.is_empty() {
        return Err(RunFailed(format!("ab: refusing to compare unverified runs: {}", untrusted.join("; "))).into());
    }
    if a.judge == AbJudge::Memory {
        return memory_verdict(&dir, &thresholds.unwrap_or_default(), a.markdown.as_deref());
    }
    let summaries = |runs: Vec<RunFiles>| runs.into_iter().map(|r| r.summary).collect::<Vec<Summary>>();
    let (base, head) = sides(&dir).map(|(b, h)| (summaries(b), summaries(h)))?;
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

/// The suite `ab` runs: two cells, base and head, differing only in the node binary
/// (and, with `--heap-profile-sides`, which side is profiled).
fn plan(a: &AbArgs, floor_pct: f64, start: SystemTime) -> Result<SuitePlan> {
    let workload = resolve_workload(&a.workload, &a.overrides, None)?;
    let settings = RunSettings::from_args(&a.settings)?;
    let base = IngestOptions::base(a.workload.clone(), workload, settings);
    let dir = a.out.clone().unwrap_or_else(|| matrix::default_suite_dir(start, &base.workload.name, "ab"));
    let cell = |name: &str, bin: &std::path::Path| Cell {
        name: name.into(),
        alloc: a.alloc,
        arena_max: ArenaMax::Default,
        compaction: base.compaction,
        compaction_concurrency: 1,
        store: a.store,
        engine_malloc: crate::settings::EngineMalloc::Allocator,
        alloc_conf: None,
        shard_size: None,
        node_bin: Some(bin.to_owned()),
        unprofiled: !matches!(
            (a.heap_profile_sides, name),
            (ProfiledSides::Both, _) | (ProfiledSides::Base, "base") | (ProfiledSides::Head, "head")
        ),
        peers: None,
        worker_threads: None,
        duration_s: None,
        inject_retained_mib: None,
    };
    Ok(SuitePlan {
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
    })
}

/// The `ok` runs of each side, in run order.
fn sides(dir: &Path) -> Result<(Vec<RunFiles>, Vec<RunFiles>)> {
    let (mut base, mut head) = (Vec::new(), Vec::new());
    for run in suite::runs(dir)?.into_iter().filter(|r| r.outcome == Outcome::Ok) {
        let files = RunFiles::load(&run.dir)?;
        match run.cell.as_str() {
            "base" => base.push(files),
            "head" => head.push(files),
            _ => {}
        }
    }
    Ok((base, head))
}

/// Refuses (exit 2), before anything runs, a memory verdict the gate itself would
/// refuse: fewer rounds than a baseline may be written from, or one side profiled and
/// the other not (profiling changes what the node allocates).
fn check_memory_judgeable(a: &AbArgs) -> Result<()> {
    if a.judge != AbJudge::Memory {
        return Ok(());
    }
    let min = crate::gate::MIN_BASELINE_RUNS;
    if (a.repeat as usize) < min {
        return Err(input(format!(
            "--judge memory: expected --repeat {min} or more (runs per side), got {}",
            a.repeat
        )));
    }
    if a.settings.heap_profile && a.heap_profile_sides != ProfiledSides::Both {
        return Err(input(
            "--judge memory: expected both sides profiled or neither (--heap-profile-sides both), \
             got one side profiled: profiling changes what the node allocates",
        ));
    }
    Ok(())
}

/// `--judge memory`: head's gated metrics against base's, as `syncbench gate` judges a
/// candidate against a baseline, printed (and written as Markdown) in the gate's table.
/// Base and head may differ in what their nodes announce (a PR may change a node
/// default): that is what is being judged, so it is named in a note, not refused.
fn memory_verdict(dir: &Path, thresholds: &Thresholds, markdown: Option<&Path>) -> Result<()> {
    use crate::gate::{self, baseline::Baseline};
    let (base, head) = sides(dir)?;
    let (base, head) =
        (Baseline::from_runs(&base, &gate::gated_keys())?, Baseline::from_runs(&head, &gate::gated_keys())?);
    let rows = gate::compare(&base, &head, thresholds);
    let sides = "baseline = the base node's runs, candidate = the head node's, interleaved in one suite";
    let mut text = format!("ab --judge memory: {sides}\n{}", gate::table(&rows, &base, &head));
    let mut md = gate::markdown(&rows, &base, &head);
    let _ = write!(md, "\n> {sides}\n");
    if let Some(diffs) = base.config.differences(&head.config) {
        let note = format!("base and head differ in: {}", diffs.join("; "));
        let _ = write!(text, "\nnote: {note}");
        let _ = write!(md, "\n> note: {}\n", crate::util::text::markdown_text(&note));
    }
    crate::say!("{text}");
    if let Some(path) = markdown {
        crate::util::fsx::write_atomic(path, md.as_bytes())?;
    }
    gate::fail_on(&rows)
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
    /// Rounds paired (both sides ok).
    pub n: usize,
    /// Geometric mean of the per-round ratios head ÷ base, with its 95 % t interval.
    pub ratio: f64,
    pub ci: (f64, f64),
    /// p-value of "within the floor", after Benjamini–Hochberg over the rows.
    pub p_adjusted: f64,
    /// The smallest change this row would call 80 % of the time (fraction).
    pub mde: f64,
    pub verdict: Verdict,
}

/// Pairs the k-th base run with the k-th head run — adjacent in the interleaved order
/// (each round runs both once) — and tests the mean of their log ratios (t, df = rounds
/// − 1). Pairing cancels slow drift of the machine's speed, which on a shared VM is
/// larger than the difference being looked for (measured: user CPU time of identical
/// runs drifting 25 % over a suite while every adjacent pair kept its order). The rows
/// are one family: Benjamini–Hochberg over them; each row's MDE is at the level its
/// first call needs (α ÷ rows).
pub fn paired_rows(base: &[Summary], head: &[Summary], floor: f64) -> Vec<PairedRow> {
    type Tested<'m> = (&'m crate::matrix::comparison::Metric, Vec<(f64, f64)>, stats::TTest);
    let tests: Vec<Tested> = METRICS
        .iter()
        .filter(|m| TIME_METRICS.contains(&m.key))
        .filter_map(|m| {
            let pairs: Vec<(f64, f64)> =
                base.iter().zip(head).filter_map(|(b, h)| Some(((m.extract)(b)?, (m.extract)(h)?))).collect();
            let t = stats::compare::paired(&pairs, stats::Scale::Ratio)?;
            Some((m, pairs, t))
        })
        .collect();
    let p: Vec<(f64, stats::Side)> = tests.iter().map(|(_, _, t)| t.p_beyond_floor(floor)).collect();
    let adjusted = stats::multiplicity::benjamini_hochberg(&p.iter().map(|x| x.0).collect::<Vec<_>>());
    let family = tests.len().max(1);
    tests
        .iter()
        .zip(p.iter().zip(adjusted))
        .map(|((m, pairs, t), ((_, side), p_adjusted))| PairedRow {
            label: m.label,
            unit: m.unit,
            base_median: stats::median(&pairs.iter().map(|p| p.0).collect::<Vec<_>>()),
            head_median: stats::median(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()),
            n: pairs.len(),
            ratio: t.value(),
            ci: t.interval(stats::CONFIDENCE),
            p_adjusted,
            mde: t.minimum_detectable(floor, stats::ALPHA / family as f64),
            verdict: stats::verdict((pairs.len(), pairs.len()), p_adjusted, *side, m.direction),
        })
        .collect()
}

fn verdict_text(v: Verdict, md: bool) -> &'static str {
    match (v, md) {
        (Verdict::Worse, false) => "REGRESSION",
        (Verdict::Worse, true) => "**REGRESSION**",
        (Verdict::Better, _) => "better",
        (Verdict::TooFewRuns, _) => "too few rounds (< 3): none called",
        _ => "no clear difference",
    }
}

/// How the rows were computed, for the header of either table.
fn method(rows: &[PairedRow], floor_pct: f64) -> String {
    let n = rows.iter().map(|r| r.n).max().unwrap_or(0);
    format!(
        "head ÷ base paired by round (n = {n} rounds): geometric mean of the per-round ratios, 95 % t interval on \
         logs; a change is called only beyond ±{floor_pct} % at α {} after Benjamini–Hochberg over the {} rows; \
         MDE = the change a row would call 80 % of the time (at α ÷ {})",
        stats::ALPHA,
        rows.len(),
        rows.len()
    )
}

/// The text table and the regressing metrics.
pub fn judge(rows: &[PairedRow], floor_pct: f64) -> (String, Vec<String>) {
    let mut out = format!("ab: {}\n", method(rows, floor_pct));
    for r in rows {
        let _ = writeln!(
            out,
            "  {:<22} base {:>9.2} {:<5} head {:>9.2}  ratio {:.3} [{:.3} – {:.3}]  p adj. {:.3}  MDE {:.1} %  {}",
            r.label,
            r.base_median,
            r.unit,
            r.head_median,
            r.ratio,
            r.ci.0,
            r.ci.1,
            r.p_adjusted,
            r.mde * 100.0,
            verdict_text(r.verdict, false)
        );
    }
    let regressions = rows.iter().filter(|r| r.verdict == Verdict::Worse).map(|r| r.label.to_owned()).collect();
    (out, regressions)
}

pub fn markdown(rows: &[PairedRow], floor_pct: f64, repeat: u32) -> String {
    let mut md = format!(
        "## syncbench ab: head vs base\n\n{repeat} rounds, each running base and head back to back on one machine. \
         {}.\n\n| metric | base | head | ratio | 95 % CI | n | p adj. | MDE | verdict |\n|---|---|---|---|---|---|---|---|---|\n",
        method(rows, floor_pct)
    );
    for r in rows {
        let _ = writeln!(
            md,
            "| {} ({}) | {:.2} | {:.2} | {:.3} | {:.3} – {:.3} | {} | {:.3} | {:.1} % | {} |",
            r.label,
            r.unit,
            r.base_median,
            r.head_median,
            r.ratio,
            r.ci.0,
            r.ci.1,
            r.n,
            r.p_adjusted,
            r.mde * 100.0,
            verdict_text(r.verdict, true)
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(mib_s: f64, user_s: f64) -> Summary {
        Summary::for_test(serde_json::json!({"throughput_mib_per_s": mib_s, "cpu_user_s": user_s}))
    }

    #[test]
    fn a_slowdown_beyond_the_floor_is_called_and_noise_is_not() {
        // Base drifts round to round; head is 10 % slower in CPU in every round.
        let base: Vec<Summary> = (0..8).map(|i| summary(100.0 + 7.0 * (i % 3) as f64, 2.0 + 0.1 * i as f64)).collect();
        let head: Vec<Summary> = (0..8)
            .map(|i| {
                summary(
                    100.0 + 7.0 * ((i + 1) % 3) as f64,
                    1.1 * (2.0 + 0.1 * i as f64) * (1.0 + 0.01 * (i % 2) as f64),
                )
            })
            .collect();
        let rows = paired_rows(&base, &head, 0.05);
        let cpu = rows.iter().find(|r| r.label == "node user CPU time").unwrap();
        assert_eq!(cpu.verdict, Verdict::Worse, "{:?} p {}", cpu.ci, cpu.p_adjusted);
        let tput = rows.iter().find(|r| r.label == "throughput").unwrap();
        assert_eq!(tput.verdict, Verdict::NoClearDifference);
        assert!(tput.mde > 0.05, "an MDE beyond the floor: {}", tput.mde);
        let (text, regressions) = judge(&rows, 5.0);
        assert_eq!(regressions, ["node user CPU time"]);
        assert!(text.contains("n = 8 rounds") && text.contains("Benjamini–Hochberg over the 2 rows"), "{text}");
    }
}

//! `syncbench gate`: does a candidate run (or suite) regress the metrics that are
//! stable on noisy machines, against a committed baseline?
//!
//! # Layout
//! - this module: the command — load, compare, print, write Markdown, exit code.
//! - [`baseline`]: the committed baseline file (`## Format` there).
//! - [`thresholds`]: allowed increases per metric (`## Format` there).
//!
//! Time-based metrics (throughput, latency) are never judged against a baseline from
//! another machine or day: `syncbench ab` measures them base-vs-head, interleaved.
//! Exit codes: 0 pass, 1 regression (each failing metric named), 2 bad input.

pub mod baseline;
pub mod thresholds;

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use self::baseline::{Baseline, RunConfig};
use self::thresholds::{Thresholds, DEFAULT_LIMITS_PCT};
use crate::cli::GateArgs;
use crate::error::{input, RunFailed};
use crate::results::load::RunFiles;
use crate::run::crash::Outcome;
use crate::units::fmt_bytes;
use syncbench_node::config::NodeMode;

/// The gated metrics, in display order.
pub fn gated_keys() -> Vec<&'static str> {
    DEFAULT_LIMITS_PCT.iter().map(|&(k, _)| k).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// Lower than the baseline by more than the limit: not a failure, but the
    /// baseline is stale.
    Improved,
    Regression,
    /// The metric is missing on one side.
    Missing,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub metric: String,
    pub baseline: Option<f64>,
    pub candidate: Option<f64>,
    pub change_pct: Option<f64>,
    pub limit_pct: f64,
    pub verdict: Verdict,
}

/// Fewest runs a baseline is written from: its median must not be one run's noise.
pub const MIN_BASELINE_RUNS: usize = 3;

pub fn run(a: &GateArgs) -> Result<()> {
    // Outputs first: a path that cannot be written is a usage error (exit 2), found
    // before any run is judged — never after a "pass" was printed.
    check_output(a.write_baseline.as_deref(), "--write-baseline")?;
    check_output(a.markdown.as_deref(), "--markdown")?;
    if let Some(out) = &a.write_baseline {
        let runs = load_runs(&a.candidate, "--candidate")?;
        if runs.len() < MIN_BASELINE_RUNS {
            return Err(input(format!(
                "--write-baseline: expected at least {MIN_BASELINE_RUNS} successful runs, got {} in {} \
                 (e.g. `syncbench matrix --repeat 5 …`)",
                runs.len(),
                a.candidate.display()
            )));
        }
        let b = Baseline::from_runs(&runs, &gated_keys())?;
        crate::results::write_json(out, &serde_json::to_value(&b)?)?;
        crate::say!("gate: wrote baseline {} from {} run(s)", out.display(), b.runs.len());
        return Ok(());
    }
    // Small input files first: a typo there is reported before any run is read.
    let thresholds = match &a.thresholds {
        Some(p) => Thresholds::load(p)?,
        None => Thresholds::default(),
    };
    let base_path = a
        .baseline
        .as_deref()
        .ok_or_else(|| input("gate: --baseline FILE|DIR is required (or --write-baseline FILE)"))?;
    let baseline = if base_path.is_file() {
        Baseline::read(base_path)?
    } else {
        Baseline::from_runs(&load_runs(base_path, "--baseline")?, &gated_keys())?
    };
    let candidate = Baseline::from_runs(&load_runs(&a.candidate, "--candidate")?, &gated_keys())?;
    let note = baseline.config.check_same(&candidate.config, "candidate")?;
    let rows = compare(&baseline, &candidate, &thresholds);
    let mut text = table(&rows, &baseline, &candidate);
    let mut md_text = markdown(&rows, &baseline, &candidate);
    for note in note.iter().chain(&environment_note(&baseline, &candidate)).chain(&stale_note(&rows)) {
        let _ = write!(text, "\nnote: {note}");
        let _ = write!(md_text, "\n> note: {}\n", crate::util::text::markdown_text(note));
    }
    crate::say!("{text}");
    if let Some(md) = &a.markdown {
        crate::util::fsx::write_atomic(md, md_text.as_bytes())?;
    }
    fail_on(&rows)
}

/// A stored baseline a candidate beats by more than the limit is probably stale: a
/// later regression back to its level would pass. Said only here, not in `ab`, whose
/// baseline is measured beside the candidate.
fn stale_note(rows: &[Row]) -> Option<String> {
    let better: Vec<&str> = rows.iter().filter(|r| r.verdict == Verdict::Improved).map(|r| r.metric.as_str()).collect();
    (!better.is_empty()).then(|| {
        format!(
            "improved beyond the limit ({}): if the baseline is older than this change, record it again \
             (--write-baseline), or a later regression back to its level passes",
            better.join(", ")
        )
    })
}

/// `Err` (exit 1) naming every metric that regressed or is missing.
pub fn fail_on(rows: &[Row]) -> Result<()> {
    let failing: Vec<String> = rows
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Regression | Verdict::Missing))
        .map(|r| format!("{} ({})", r.metric, change_text(r)))
        .collect();
    if !failing.is_empty() {
        return Err(RunFailed(format!("gate failed: {}", failing.join(", "))).into());
    }
    Ok(())
}

/// Environment fields RSS moves with beyond the node's own doing (the same node's RSS
/// p50 was 5 % higher against a baseline recorded on the same VM one kernel build
/// earlier; docs/pr-gate.md).
const RSS_ENVIRONMENT: [&str; 3] = ["host", "kernel", "cpu_model"];

/// A note when the baseline was measured on another host, kernel or CPU than the
/// candidate: the RSS limits were calibrated within one, and the verdict on the RSS rows
/// says as much about the machines as about the node.
pub fn environment_note(base: &Baseline, cand: &Baseline) -> Option<String> {
    let field = |b: &Baseline, k: &str| match k {
        "host" => b.environment.host.clone(),
        _ => b.environment.other.get(k).and_then(|v| v.as_str()).map(str::to_owned),
    };
    let differ: Vec<String> = RSS_ENVIRONMENT
        .iter()
        .filter_map(|&k| {
            let (b, c) = (field(base, k)?, field(cand, k)?);
            (b != c).then(|| format!("{k} {b} → {c}"))
        })
        .collect();
    (!differ.is_empty()).then(|| {
        format!(
            "baseline and candidate were measured on different machines ({}): the RSS limits were calibrated \
             on one, and RSS moves with the host and its kernel; judge RSS against the base measured beside \
             the candidate (scripts/pr-gate.sh --base-node, `syncbench ab --judge memory`)",
            differ.join(", ")
        )
    })
}

/// Refuses an output path whose directory does not exist, or that is there but not a
/// regular file (a directory, a symlink, a FIFO: see `util::fsx`).
pub fn check_output(path: Option<&Path>, flag: &str) -> Result<()> {
    let Some(p) = path else { return Ok(()) };
    crate::util::fsx::check_target(p).map_err(|e| input(format!("{flag}: {e}")))?;
    check_parent(p, flag)
}

/// Refuses (exit 2) an output path whose directory does not exist.
pub fn check_parent(p: &Path, flag: &str) -> Result<()> {
    let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(input(format!("{flag} {}: directory {} does not exist", p.display(), parent.display())));
    }
    Ok(())
}

/// The successful runs of a run directory or a suite directory.
pub fn load_runs(dir: &Path, flag: &str) -> Result<Vec<RunFiles>> {
    if !dir.join("suite.json").is_file() && !dir.join("summary.json").is_file() {
        let found = if dir.exists() { "it has neither" } else { "it does not exist" };
        return Err(input(format!(
            "{flag} {}: expected a run directory (summary.json) or a suite (suite.json); {found}",
            dir.display()
        )));
    }
    // A suite or run still being written (its matrix or ingest holds the directory's
    // lock) is refused, not judged on the runs it has so far.
    let _lock = crate::run::dirs::lock_for_reading(dir, flag)?;
    check_listed_runs(dir, flag)?;
    let runs = crate::results::suite::all_runs(dir)?;
    let untrusted: Vec<String> = runs.iter().filter_map(untrusted_reason).collect();
    if !untrusted.is_empty() {
        return Err(RunFailed(format!(
            "{flag} {}: a gate judges only complete, verified runs; refusing: {}",
            dir.display(),
            untrusted.join("; ")
        ))
        .into());
    }
    // Every run left is `ok` (anything else was refused above): read once, not twice.
    if runs.is_empty() {
        return Err(RunFailed(format!("{flag} {}: no successful run to gate on", dir.display())).into());
    }
    Ok(runs)
}

/// Refuses (exit 2) a suite whose suite.json lists runs that are gone (no directory or
/// no summary.json): judging the runs that remain would pass on part of the evidence.
fn check_listed_runs(dir: &Path, flag: &str) -> Result<()> {
    if !crate::results::suite::is_suite(dir) {
        return Ok(());
    }
    let listed = crate::results::suite::runs(dir)?;
    let gone: Vec<String> = listed
        .iter()
        .filter(|r| !r.dir.join("summary.json").is_file())
        .map(|r| format!("{} ({})", r.dir.file_name().unwrap_or_default().to_string_lossy(), r.outcome))
        .collect();
    if gone.is_empty() {
        return Ok(());
    }
    Err(input(format!(
        "{flag} {}: suite.json lists {} runs, {} of them without a summary.json: {}",
        dir.display(),
        listed.len(),
        gone.len(),
        gone.join(", ")
    )))
}

/// Why a run cannot be gated on, if it cannot: it did not end `ok`, its node announced
/// it stores nothing, or no acknowledged block was read back from its store.
pub fn untrusted_reason(r: &RunFiles) -> Option<String> {
    let s = &r.summary;
    let name = r.dir.file_name().map_or_else(|| r.dir.display().to_string(), |n| n.to_string_lossy().into_owned());
    if s.outcome != Outcome::Ok {
        return Some(format!("{name}: outcome {}", s.outcome));
    }
    if let Some(why) = &s.incomplete {
        return Some(format!("{name}: incomplete run directory ({why})"));
    }
    match s.node_mode {
        Some(NodeMode::Store) => {}
        Some(mode) => return Some(format!("{name}: node mode {}", mode.as_str())),
        None => return Some(format!("{name}: node mode unknown (recorded before acknowledgement checks)")),
    }
    let read_back = s.verify_sample.as_ref().map_or(0, |v| v.blocks);
    (read_back == 0).then(|| format!("{name}: no acknowledged block was read back (--verify-sample 0?)"))
}

pub fn compare(base: &Baseline, cand: &Baseline, t: &Thresholds) -> Vec<Row> {
    gated_keys()
        .into_iter()
        .map(|k| {
            let limit_pct = t.limits_pct.get(k).copied().unwrap_or(0.0);
            let (bs, cs) = (base.metrics.get(k), cand.metrics.get(k));
            let b = bs.map(|s| cs.map_or(s.median, |c| s.centre(c, k)));
            let c = cs.map(|s| bs.map_or(s.median, |b| s.centre(b, k)));
            // From a baseline of 0 any growth is infinite and none is no change: a
            // metric that is 0 on both sides passes.
            let change_pct = b.zip(c).map(|(b, c)| match (b > 0.0, c > b) {
                (true, _) => (c / b - 1.0) * 100.0,
                (false, true) => f64::INFINITY,
                (false, false) => 0.0,
            });
            let verdict = match change_pct {
                None => Verdict::Missing,
                Some(p) if p > limit_pct => Verdict::Regression,
                Some(p) if p < -limit_pct => Verdict::Improved,
                Some(_) => Verdict::Pass,
            };
            Row { metric: k.to_owned(), baseline: b, candidate: c, change_pct, limit_pct, verdict }
        })
        .collect()
}

fn value_text(metric: &str, v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if metric.contains("bytes") => fmt_bytes(v),
        Some(v) => format!("{v:.0}"),
    }
}

fn change_text(r: &Row) -> String {
    match r.change_pct {
        None => "missing".into(),
        Some(p) if p.is_infinite() => "up from 0".into(),
        Some(p) => format!("{p:+.2} %"),
    }
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Improved => "improved",
        Verdict::Regression => "REGRESSION",
        Verdict::Missing => "MISSING",
    }
}

fn describe(c: &RunConfig) -> String {
    format!(
        "{} ({} blocks, seed {}, shard {}) · {} · {} cc{} · batch {}",
        c.workload, c.blocks, c.seed, c.shard_size, c.alloc, c.compaction, c.compaction_concurrency, c.writer_batch
    )
}

fn origin(b: &Baseline) -> String {
    let host = b.environment.host.as_deref().unwrap_or("?");
    format!("{} run(s) on {host}, {}", b.runs.len(), b.created_at)
}

fn rows_of(rows: &[Row]) -> Vec<[String; 6]> {
    rows.iter()
        .map(|r| {
            [
                r.metric.clone(),
                value_text(&r.metric, r.baseline),
                value_text(&r.metric, r.candidate),
                change_text(r),
                format!("+{:.1} %", r.limit_pct),
                verdict_text(r.verdict).to_owned(),
            ]
        })
        .collect()
}

const HEADER: [&str; 6] = ["metric", "baseline", "candidate", "change", "limit", "verdict"];

pub fn table(rows: &[Row], base: &Baseline, cand: &Baseline) -> String {
    let body = rows_of(rows);
    let width = |i: usize| body.iter().map(|r| r[i].chars().count()).chain([HEADER[i].len()]).max().unwrap_or(0);
    let widths: Vec<usize> = (0..6).map(width).collect();
    let line = |cells: Vec<String>| {
        cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_owned()
    };
    let mut out =
        format!("gate: {}\n  baseline:  {}\n  candidate: {}\n\n", describe(&base.config), origin(base), origin(cand));
    out += &line(HEADER.iter().map(|s| s.to_string()).collect());
    for r in body {
        out.push('\n');
        out += &line(r.to_vec());
    }
    let _ = write!(out, "\n\n{}\n{}", RULE, summary_line(rows));
    out
}

/// How the verdicts were reached (under both tables): the rule, and where its limits'
/// error rates were measured.
const RULE: &str = "rule: a metric regresses when the candidate runs' geometric mean exceeds the baseline runs' \
by more than its limit (medians for the peak live heap, whose rare spikes move a mean, and for a baseline recorded \
before geometric means); the limits' false-alarm rate and power are measured by `syncbench calibrate` \
(docs/pr-gate.md, Calibration)";

fn summary_line(rows: &[Row]) -> String {
    let bad: Vec<&str> = rows
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Regression | Verdict::Missing))
        .map(|r| r.metric.as_str())
        .collect();
    if bad.is_empty() {
        "result: pass".into()
    } else {
        format!("result: FAIL ({})", bad.join(", "))
    }
}

pub fn markdown(rows: &[Row], base: &Baseline, cand: &Baseline) -> String {
    let text = crate::util::text::markdown_text;
    let mut md = String::from("## syncbench gate\n\n");
    let _ = writeln!(md, "{}  ", text(&describe(&base.config)));
    let _ = writeln!(md, "baseline: {} · candidate: {}\n", text(&origin(base)), text(&origin(cand)));
    md += "| metric | baseline | candidate | change | limit | verdict |\n|---|---|---|---|---|---|\n";
    for r in rows_of(rows) {
        let verdict = if r[5] == "REGRESSION" || r[5] == "MISSING" { format!("**{}**", r[5]) } else { r[5].clone() };
        let _ = writeln!(md, "| {} | {} | {} | {} | {} | {verdict} |", r[0], r[1], r[2], r[3], r[4]);
    }
    let _ = writeln!(md, "\n{RULE}\n\n**{}**", summary_line(rows));
    md
}

#[cfg(test)]
mod tests {
    use super::baseline::{NodeTunables, Stat};
    use super::*;
    use crate::results::config_file::EnvironmentRecord;

    fn with(metrics: &[(&str, f64)]) -> Baseline {
        Baseline {
            format: baseline::FORMAT.into(),
            config: RunConfig {
                workload: "smoke".into(),
                workload_spec_hash: "eca58d5af7ed1ffb".into(),
                blocks: 4000,
                duration_s: None,
                seed: 1,
                shard_size: 500,
                alloc: "jemalloc".into(),
                arena_max: None,
                alloc_conf: None,
                store: None,
                engine_malloc: None,
                compaction: "streaming".into(),
                compaction_concurrency: 1,
                writer_batch: 512,
                heap_profiled: false,
                peers: Some(16),
                worker_threads: Some(2),
                node_tunables: Some(tunables()),
            },
            environment: EnvironmentRecord { host: Some("h".into()), ..Default::default() },
            created_at: "t".into(),
            runs: vec!["r".into()],
            metrics: metrics.iter().map(|&(k, v)| (k.to_owned(), Stat::of(&[v]).unwrap())).collect(),
        }
    }

    fn tunables() -> NodeTunables {
        NodeTunables {
            verify_threads: 2,
            cache_mib: Some(64),
            retain_shards: None,
            max_compaction_backlog: Some(4),
            compaction_readers: Some(1),
            compaction_window_bytes: Some(0),
            chunk_bytes: Some(1 << 20),
            queue_blocks: Some(64),
            max_batch_delay_ms: Some(200),
        }
    }

    #[test]
    fn a_baseline_from_another_kernel_is_compared_with_a_note_saying_so() {
        let kernel = |b: &mut Baseline, k: &str| {
            b.environment.other.insert("kernel".into(), serde_json::json!(k));
        };
        let (mut base, mut cand) = (with(&[]), with(&[]));
        kernel(&mut base, "6.18.44-fc-v1272");
        kernel(&mut cand, "6.18.44-fc-v1272");
        assert_eq!(environment_note(&base, &cand), None, "same host and kernel: nothing to say");
        kernel(&mut cand, "6.18.44-fc-v1300");
        cand.environment.host = Some("ci".into());
        let note = environment_note(&base, &cand).expect("another kernel is named");
        assert!(note.contains("host h → ci, kernel 6.18.44-fc-v1272 → 6.18.44-fc-v1300"), "{note}");
        assert!(note.contains("--base-node"), "it says what to do: {note}");
        // A field one side did not record is not a difference.
        base.environment.other.remove("kernel");
        cand.environment.host = Some("h".into());
        assert_eq!(environment_note(&base, &cand), None);
    }

    #[test]
    fn limits_decide_each_metric() {
        let all = |v: f64| gated_keys().into_iter().map(move |k| (k, v)).collect::<Vec<_>>();
        let base = with(&all(100.0));
        let mut cand_metrics = all(100.0);
        cand_metrics[2].1 = 101.5; // heap_live_end_bytes +1.5 % > 1 %
        cand_metrics[5].1 = 104.0; // rss_peak_bytes +4 % ≤ 5 %
        cand_metrics[6].1 = 104.0; // rss_p50_bytes +4 % > 3.5 %
        cand_metrics[0].1 = 90.0; // alloc_count −10 %
        let rows = compare(&base, &with(&cand_metrics), &Thresholds::default());
        let v: Vec<Verdict> = rows.iter().map(|r| r.verdict).collect();
        let (pass, improved, regression) = (Verdict::Pass, Verdict::Improved, Verdict::Regression);
        assert_eq!(v, [improved, pass, regression, pass, pass, pass, regression]);
        let md = markdown(&rows, &base, &with(&cand_metrics));
        assert!(md.contains("| heap_live_end_bytes |") && md.contains("**REGRESSION**"), "{md}");
        assert!(md.contains("**result: FAIL (heap_live_end_bytes, rss_p50_bytes)**"), "{md}");
    }

    #[test]
    fn an_improvement_beyond_the_limit_asks_for_a_new_baseline_and_a_pass_does_not() {
        let all = |v: f64| gated_keys().into_iter().map(move |k| (k, v)).collect::<Vec<_>>();
        let base = with(&all(100.0));
        // −0.5 %: within every limit (the tightest is 1 %).
        assert_eq!(stale_note(&compare(&base, &with(&all(99.5)), &Thresholds::default())), None);
        let mut better = all(100.0);
        better[0].1 = 90.0; // alloc_count −10 %
        let rows = compare(&base, &with(&better), &Thresholds::default());
        let note = stale_note(&rows).expect("a candidate 10 % better than its baseline");
        assert!(note.contains("(alloc_count)") && note.contains("--write-baseline"), "{note}");
        assert!(table(&rows, &base, &with(&better)).contains("improved"), "the table says which way");
    }

    /// Regression (hostile round 2): a metric of 0 in the baseline made every verdict
    /// MISSING (exit 1), so a real 0 could never pass.
    #[test]
    fn a_metric_that_is_zero_on_both_sides_passes_and_growth_from_zero_fails() {
        let rows = compare(
            &with(&[("heap_live_end_bytes", 0.0)]),
            &with(&[("heap_live_end_bytes", 0.0)]),
            &Thresholds::default(),
        );
        let row = rows.iter().find(|r| r.metric == "heap_live_end_bytes").unwrap();
        assert_eq!((row.verdict, row.change_pct), (Verdict::Pass, Some(0.0)));
        let rows = compare(
            &with(&[("heap_live_end_bytes", 0.0)]),
            &with(&[("heap_live_end_bytes", 5.0)]),
            &Thresholds::default(),
        );
        let row = rows.iter().find(|r| r.metric == "heap_live_end_bytes").unwrap();
        assert_eq!(row.verdict, Verdict::Regression);
        assert_eq!(change_text(row), "up from 0");
    }

    /// The gate compares geometric means where both sides have them (a baseline
    /// recorded before them is compared by medians).
    #[test]
    fn geometric_means_are_compared_when_both_sides_have_them() {
        let s = Stat::of(&[100.0, 100.0, 130.0]).unwrap();
        assert_eq!(s.median, 100.0);
        assert!((s.geomean.unwrap() - 109.14).abs() < 0.01);
        let old = Stat { geomean: None, ..s };
        assert_eq!((s.centre(&s, "rss_p50_bytes"), s.centre(&old, "rss_p50_bytes")), (s.geomean.unwrap(), 100.0));
        assert_eq!(s.centre(&s, "heap_live_peak_bytes"), 100.0, "the peak live heap by its median");
    }

    #[test]
    fn one_heap_peak_spike_does_not_fail_the_gate_and_a_shift_of_every_run_does() {
        // Six runs of one node, one of them peaking 27 % above the rest (a spike seen
        // on 2026-12-07): by geometric means +4 %, beyond the 3 % limit.
        let mib = |v: &[f64]| Stat::of(&v.iter().map(|x| x * 1048576.0).collect::<Vec<_>>()).unwrap();
        let side = |peaks: &[f64]| {
            let mut b = with(&[]);
            b.metrics.insert("heap_live_peak_bytes".into(), mib(peaks));
            b
        };
        let base = side(&[82.0, 82.7, 82.7, 82.7, 82.7, 82.4]);
        let spiky = side(&[82.7, 105.5, 82.7, 82.7, 81.2, 82.0]);
        let verdict = |cand: &Baseline| {
            let rows = compare(&base, cand, &Thresholds::default());
            rows.into_iter().find(|r| r.metric == "heap_live_peak_bytes").unwrap().verdict
        };
        assert_eq!(verdict(&spiky), Verdict::Pass, "one run's spike is not a regression");
        let shifted = side(&[86.9, 87.6, 86.8, 86.9, 87.0, 86.1]);
        assert_eq!(verdict(&shifted), Verdict::Regression, "+5 % in every run is");
    }

    #[test]
    fn a_metric_missing_from_the_candidate_fails() {
        let base = with(&[("alloc_count", 1.0)]);
        let rows = compare(&base, &with(&[]), &Thresholds::default());
        assert_eq!(rows[0].verdict, Verdict::Missing);
    }

    #[test]
    fn different_configurations_are_refused() {
        let (a, mut b) = (with(&[]), with(&[]));
        b.config.blocks = 1000;
        let e = format!("{:#}", a.config.check_same(&b.config, "candidate").unwrap_err());
        assert!(e.contains("blocks: baseline 4000, candidate 1000"), "{e}");
    }

    /// Regression: a timed run (`--duration`) of a workload was gated against a
    /// baseline that sent the whole workload (the duration was not in the config).
    #[test]
    fn a_timed_run_is_not_gated_against_a_complete_one() {
        let (a, mut b) = (with(&[]), with(&[]));
        b.config.duration_s = Some(300.0);
        let e = format!("{:#}", a.config.check_same(&b.config, "candidate").unwrap_err());
        assert!(e.contains("duration_s: baseline null, candidate 300.0"), "{e}");
        let old: RunConfig = serde_json::from_value(serde_json::json!({
            "workload": "smoke", "workload_spec_hash": "eca58d5af7ed1ffb", "blocks": 4000, "seed": 1,
            "shard_size": 500, "alloc": "jemalloc", "compaction": "streaming", "compaction_concurrency": 1,
            "writer_batch": 512, "peers": 16, "worker_threads": 2
        }))
        .unwrap();
        assert!(old.check_same(&a.config, "candidate").is_ok(), "a baseline recorded before durations still reads");
    }

    #[test]
    fn a_rocksdb_run_is_never_gated_against_a_native_baseline() {
        let (a, mut b) = (with(&[]), with(&[]));
        b.config.store = Some("rocksdb".into());
        let e = format!("{:#}", a.config.check_same(&b.config, "candidate").unwrap_err());
        assert!(e.contains("store: baseline null, candidate \"rocksdb\""), "{e}");
        let mut c = b.clone();
        c.config.engine_malloc = Some("system".into());
        let e = format!("{:#}", b.config.check_same(&c.config, "candidate").unwrap_err());
        assert!(e.contains("engine_malloc"), "{e}");
    }

    #[test]
    fn a_tuned_run_is_never_gated_against_a_baseline_with_other_knobs() {
        let (a, mut b) = (with(&[]), with(&[]));
        b.config.alloc_conf = Some("background_thread:true,dirty_decay_ms:1000".into());
        let e = format!("{:#}", a.config.check_same(&b.config, "candidate").unwrap_err());
        assert!(
            e.contains("alloc_conf: baseline null, candidate \"background_thread:true,dirty_decay_ms:1000\""),
            "{e}"
        );
        let mut c = b.clone();
        c.config.alloc_conf = Some("background_thread:true,dirty_decay_ms:5000".into());
        assert!(b.config.check_same(&c.config, "candidate").is_err(), "another value of the same knob");
        assert!(b.config.check_same(&b.config.clone(), "candidate").is_ok());
    }

    #[test]
    fn a_heap_profiled_run_is_never_gated_against_a_plain_baseline() {
        let (a, mut b) = (with(&[]), with(&[]));
        b.config.heap_profiled = true;
        let e = format!("{:#}", a.config.check_same(&b.config, "candidate").unwrap_err());
        assert!(e.contains("heap_profiled: baseline false, candidate true"), "{e}");
    }

    /// Regression: a candidate run with `--node-arg=--compaction-readers=4` was gated
    /// against a baseline of the default node as if it were the same configuration.
    #[test]
    fn a_node_flag_makes_another_configuration() {
        let (a, mut b) = (with(&[]), with(&[]));
        b.config.node_tunables.as_mut().unwrap().compaction_readers = Some(4);
        let e = format!("{:#}", a.config.check_same(&b.config, "candidate").unwrap_err());
        assert!(e.contains("node_tunables.compaction_readers: baseline 1, candidate 4"), "{e}");
        assert!(!e.contains("cache_mib"), "only the differing tunable is named: {e}");
        let d = a.config.differences(&b.config).unwrap();
        assert_eq!(d, ["node_tunables.compaction_readers: 1 vs 4"]);
    }

    /// A baseline recorded before the tunables were kept is still usable: the rest is
    /// compared, and the gate says what it could not compare.
    #[test]
    fn a_baseline_without_tunables_is_compared_without_them_and_says_so() {
        let (mut old, b) = (with(&[]), with(&[]));
        old.config.node_tunables = None;
        let note = old.config.check_same(&b.config, "candidate").unwrap().unwrap();
        assert!(note.starts_with("node tunables not compared") && note.contains("cache_mib, chunk_bytes"), "{note}");
        assert!(note.contains("retain_shards"), "a side without tunables leaves retention unknown too: {note}");
        assert_eq!(b.config.check_same(&b.config, "candidate").unwrap(), None);
        old.config.blocks = 1;
        assert!(old.config.check_same(&b.config, "candidate").is_err(), "the other fields are still compared");
    }

    /// An older node announced fewer tunables: those it did not are left out and named;
    /// the ones both announced are still compared. No retention is a value, not a gap.
    #[test]
    fn a_tunable_an_older_node_did_not_announce_is_named_not_compared() {
        let (a, mut b) = (with(&[]), with(&[]));
        b.config.node_tunables.as_mut().unwrap().chunk_bytes = None;
        let note = a.config.check_same(&b.config, "candidate").unwrap().unwrap();
        assert!(note.ends_with(": chunk_bytes; record a new baseline to compare them"), "{note}");
        assert_eq!(a.config.differences(&b.config), None, "within a set too");
        b.config.node_tunables.as_mut().unwrap().retain_shards = Some(8);
        let e = format!("{:#}", a.config.check_same(&b.config, "candidate").unwrap_err());
        assert!(e.contains("node_tunables.retain_shards: baseline null, candidate 8"), "{e}");
    }
}

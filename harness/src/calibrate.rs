//! `syncbench calibrate SUITE`: how often the gate fails a clean candidate (false
//! alarms) and how often it catches a memory regression of known size (power), measured
//! on a suite of real runs rather than assumed.
//!
//! The suite (made by `matrix … --inject-retained-mib 0,N1,N2,…`) has one clean cell
//! and cells whose node holds N MiB more from start to end. Each *draw* takes, at
//! random without replacement, `--baseline-runs` clean runs as the baseline and
//! `--candidate-runs` other runs as the candidate — clean ones for an A/A comparison,
//! an injected cell's for a regression — and judges them with the gate's own rule and
//! limits (`gate::compare`). The rates are the shares of draws the gate failed, per
//! gated metric and for the gate as a whole (any metric). Draws from one pool are not
//! independent: the pool's size, stated beside every rate, is what bounds how well a
//! rate is known.
//!
//! ## Format
//! `<suite>/calibration.json`:
//! ```text
//! { "format": "syncbench-calibration/1", "suite", "baseline_runs", "candidate_runs",
//!   "draws", "clean_runs", "limits_pct": { metric: limit },
//!   "metrics": { metric: { "comparisons": draws, "false_alarm_rate": x,
//!                          "power": { "<level>": p, … }, "effect_pct": { "<level>": e, … },
//!                          "limit_for_2pct_false_alarms": L } },
//!   "gate": { "false_alarm_rate": x, "power": { "<level>": p, … } } }
//! ```
//! A level is the injection as a whole percentage of the clean runs' peak RSS
//! (`rss_peak_bytes`, their geometric mean); `effect_pct` is what it measured on each metric (the same MiB
//! are a larger share of a smaller figure). Also `calibration.md` and
//! `charts/power.svg`; all three in `--out DIR` instead when it is given.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use syncbench_workloads::rng::SplitMix64;

use crate::cli::CalibrateArgs;
use crate::error::input;
use crate::gate::baseline::{gated_value, Baseline};
use crate::gate::thresholds::Thresholds;
use crate::gate::{gated_keys, Verdict};
use crate::results::load::RunFiles;
use crate::run::crash::Outcome;

pub const FORMAT: &str = "syncbench-calibration/1";
/// Seed of the draws (a calibration re-renders identically from the same suite).
const SEED: u64 = 0xCA11_B8A7;
/// Most draws accepted (each is a gate decision on already loaded runs: cheap).
const MAX_DRAWS: u32 = 100_000;
/// The false-alarm rate the suggested limit keeps under (a gate fails a clean PR at
/// most this often on one metric; the gate's overall rate is measured beside it).
const SUGGESTED_FALSE_ALARMS: f64 = 0.02;

#[derive(Debug, Serialize)]
pub struct Calibration {
    pub format: &'static str,
    pub suite: String,
    pub baseline_runs: usize,
    pub candidate_runs: usize,
    pub draws: u32,
    pub clean_runs: usize,
    pub limits_pct: BTreeMap<String, f64>,
    pub metrics: BTreeMap<String, MetricCalibration>,
    pub gate: GateCalibration,
}

#[derive(Debug, Serialize)]
pub struct MetricCalibration {
    pub comparisons: u32,
    pub false_alarm_rate: f64,
    pub power: BTreeMap<String, f64>,
    pub effect_pct: BTreeMap<String, f64>,
    /// The smallest limit (0.5 % steps) at which the A/A draws failed this metric at
    /// most 2 % of the time; `None` when even 50 % did not.
    pub limit_for_2pct_false_alarms: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct GateCalibration {
    pub false_alarm_rate: f64,
    pub power: BTreeMap<String, f64>,
}

/// The suite's runs: the clean cell's and each injected cell's (MiB, runs).
struct Pools {
    clean: Vec<RunFiles>,
    injected: Vec<(u64, Vec<RunFiles>)>,
}

pub fn run(a: &CalibrateArgs) -> Result<()> {
    if !(1..=MAX_DRAWS).contains(&a.draws) {
        return Err(input(format!("--draws: expected 1..={MAX_DRAWS}, got {}", a.draws)));
    }
    let thresholds = match &a.thresholds {
        Some(p) => Thresholds::load(p)?,
        None => Thresholds::default(),
    };
    // Where it writes, checked before any draw: a directory it may make (its parent
    // exists) or one that is there and real (not a symlink).
    let out = a.out.as_deref().unwrap_or(&a.suite);
    crate::gate::check_parent(out, "--out")?;
    crate::util::fsx::real_dir(out)?;
    // It reads (and by default writes into) the suite: held against a matrix still
    // running it, or a report.
    let _lock = crate::run::dirs::lock_existing(&a.suite, "calibrate")?;
    let pools = pools(&a.suite)?;
    let need = a.baseline_runs + a.candidate_runs;
    if a.baseline_runs < 1 || a.candidate_runs < 1 || pools.clean.len() < need {
        return Err(input(format!(
            "{}: {} clean runs; a draw needs --baseline-runs {} + --candidate-runs {} of them (at least 1 each)",
            a.suite.display(),
            pools.clean.len(),
            a.baseline_runs,
            a.candidate_runs
        )));
    }
    let c = calibrate(&a.suite, &pools, (a.baseline_runs, a.candidate_runs), a.draws, &thresholds)?;
    crate::results::write_json(&out.join("calibration.json"), &c)?;
    let md = markdown(&c);
    crate::util::fsx::write_atomic(&out.join("calibration.md"), md.as_bytes())?;
    let charts = out.join("charts");
    crate::util::fsx::real_dir(&charts)?;
    crate::charts::render(&crate::charts::power::PowerChart(&power_curves(&c)), &charts, a.png)?;
    crate::say!("{md}");
    Ok(())
}

/// The clean cell's ok runs and each injected cell's, from suite.json.
fn pools(suite: &Path) -> Result<Pools> {
    let file = crate::results::suite::read(suite)?;
    let mut clean = Vec::new();
    let mut injected: Vec<(u64, Vec<RunFiles>)> = Vec::new();
    for r in file.runs(suite)?.into_iter().filter(|r| r.outcome == Outcome::Ok) {
        crate::signals::check()?;
        let cell = file.definition.cells.iter().find(|c| c.name == r.cell);
        let files = RunFiles::load(&r.dir)?;
        match cell.and_then(|c| c.inject_retained_mib) {
            None => clean.push(files),
            Some(mib) => match injected.iter_mut().find(|(m, _)| *m == mib) {
                Some((_, runs)) => runs.push(files),
                None => injected.push((mib, vec![files])),
            },
        }
    }
    injected.sort_by_key(|(m, _)| *m);
    Ok(Pools { clean, injected })
}

/// `k` distinct indices of `0..n` (a partial Fisher–Yates shuffle), avoiding `not`.
fn pick(rng: &mut SplitMix64, n: usize, k: usize, not: &[usize]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).filter(|i| !not.contains(i)).collect();
    for i in 0..k.min(idx.len()) {
        let j = i + rng.below((idx.len() - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(k);
    idx
}

/// Which gated metrics the gate fails for `base` vs `cand` (and whether it errs).
fn judge(base: &[&RunFiles], cand: &[&RunFiles], t: &Thresholds) -> Result<Vec<String>> {
    let owned = |v: &[&RunFiles]| v.iter().map(|r| (*r).clone()).collect::<Vec<_>>();
    let b = Baseline::from_runs(&owned(base), &gated_keys())?;
    let c = Baseline::from_runs(&owned(cand), &gated_keys())?;
    Ok(crate::gate::compare(&b, &c, t)
        .into_iter()
        .filter(|r| matches!(r.verdict, Verdict::Regression | Verdict::Missing))
        .map(|r| r.metric)
        .collect())
}

/// Shares of `draws` draws failed per metric and overall, for candidates from `cands`.
fn rates(
    pools: &Pools,
    cands: Option<&[RunFiles]>,
    (nb, nc): (usize, usize),
    draws: u32,
    t: &Thresholds,
    rng: &mut SplitMix64,
) -> Result<(BTreeMap<String, f64>, f64)> {
    let mut failed: BTreeMap<String, u32> = gated_keys().into_iter().map(|k| (k.to_owned(), 0)).collect();
    let mut any = 0u32;
    for _ in 0..draws {
        let b = pick(rng, pools.clean.len(), nb, &[]);
        let base: Vec<&RunFiles> = b.iter().map(|&i| &pools.clean[i]).collect();
        let cand: Vec<&RunFiles> = match cands {
            None => pick(rng, pools.clean.len(), nc, &b).into_iter().map(|i| &pools.clean[i]).collect(),
            Some(runs) => pick(rng, runs.len(), nc, &[]).into_iter().map(|i| &runs[i]).collect(),
        };
        let flagged = judge(&base, &cand, t)?;
        any += u32::from(!flagged.is_empty());
        for m in flagged {
            *failed.entry(m).or_default() += 1;
        }
    }
    let share = |n: u32| n as f64 / draws as f64;
    Ok((failed.into_iter().map(|(k, n)| (k, share(n))).collect(), share(any)))
}

/// The pool's centre of `key` as the gate takes it (`Stat::centre`).
fn centre_of(runs: &[RunFiles], key: &str) -> f64 {
    let values: Vec<f64> = runs.iter().filter_map(|r| gated_value(&r.summary, key)).collect();
    crate::gate::baseline::Stat::of(&values).map_or(f64::NAN, |s| s.centre(&s, key))
}

fn calibrate(suite: &Path, pools: &Pools, sizes: (usize, usize), draws: u32, t: &Thresholds) -> Result<Calibration> {
    let mut rng = SplitMix64::new(SEED);
    let (aa, aa_any) = rates(pools, None, sizes, draws, t, &mut rng)?;
    let peak = centre_of(&pools.clean, "rss_peak_bytes");
    let mut metrics: BTreeMap<String, MetricCalibration> = gated_keys()
        .into_iter()
        .map(|k| {
            let m = MetricCalibration {
                comparisons: draws,
                false_alarm_rate: aa.get(k).copied().unwrap_or(0.0),
                power: BTreeMap::new(),
                effect_pct: BTreeMap::new(),
                limit_for_2pct_false_alarms: None,
            };
            (k.to_owned(), m)
        })
        .collect();
    let mut gate = GateCalibration { false_alarm_rate: aa_any, power: BTreeMap::new() };
    for (mib, runs) in &pools.injected {
        if runs.len() < sizes.1 {
            continue;
        }
        let level = format!("{:.0}", *mib as f64 * 1024.0 * 1024.0 / peak * 100.0);
        let (caught, any) = rates(pools, Some(runs), sizes, draws, t, &mut rng)?;
        for (k, m) in metrics.iter_mut() {
            m.power.insert(level.clone(), caught.get(k).copied().unwrap_or(0.0));
            let effect = (centre_of(runs, k) / centre_of(&pools.clean, k) - 1.0) * 100.0;
            m.effect_pct.insert(level.clone(), (effect * 10.0).round() / 10.0);
        }
        gate.power.insert(level, any);
    }
    for (k, m) in metrics.iter_mut() {
        m.limit_for_2pct_false_alarms = suggested_limit(pools, k, sizes, draws, &mut rng)?;
    }
    Ok(Calibration {
        format: FORMAT,
        suite: suite.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        baseline_runs: sizes.0,
        candidate_runs: sizes.1,
        draws,
        clean_runs: pools.clean.len(),
        limits_pct: t.limits_pct.clone(),
        metrics,
        gate,
    })
}

/// The smallest limit for `key` (0.5 % steps up to 50 %) whose A/A false-alarm rate is
/// at most [`SUGGESTED_FALSE_ALARMS`], on the same draws for every step.
fn suggested_limit(
    pools: &Pools,
    key: &str,
    (nb, nc): (usize, usize),
    draws: u32,
    rng: &mut SplitMix64,
) -> Result<Option<f64>> {
    let mut changes = Vec::with_capacity(draws as usize);
    for _ in 0..draws {
        let b = pick(rng, pools.clean.len(), nb, &[]);
        let c = pick(rng, pools.clean.len(), nc, &b);
        // The gate's own centre (`Stat::centre`): what its limits apply to.
        let stat = |idx: &[usize]| {
            let values: Vec<f64> = idx.iter().filter_map(|&i| gated_value(&pools.clean[i].summary, key)).collect();
            crate::gate::baseline::Stat::of(&values)
        };
        if let (Some(b), Some(c)) = (stat(&b), stat(&c)) {
            changes.push(c.centre(&b, key) / b.centre(&c, key) - 1.0);
        }
    }
    Ok((0..=100).map(|s| s as f64 * 0.5).find(|&limit| {
        let alarms = changes.iter().filter(|&&c| c.is_nan() || c * 100.0 > limit).count();
        (alarms as f64 / changes.len().max(1) as f64) <= SUGGESTED_FALSE_ALARMS
    }))
}

/// `calibration.md`: the rates per metric and for the gate.
pub fn markdown(c: &Calibration) -> String {
    let mut levels: Vec<&String> = c.gate.power.keys().collect();
    levels.sort_by(|a, b| a.parse::<f64>().unwrap_or(0.0).total_cmp(&b.parse::<f64>().unwrap_or(0.0)));
    let mut md = format!(
        "# Gate calibration — {}\n\n{} draws: each a baseline of {} and a candidate of {} runs taken at random (seed \
         fixed) from {} clean runs (A/A) or from an injected cell; judged by the gate's own rule and limits. \
         Levels are the injection as a share of the clean runs' peak RSS (geometric mean); effects are what each \
         metric measured. \
         The draws reuse one pool: its size ({}) bounds how well a rate is known.\n\n",
        crate::util::text::markdown_text(&c.suite),
        c.draws,
        c.baseline_runs,
        c.candidate_runs,
        c.clean_runs,
        c.clean_runs
    );
    md.push_str("| metric | limit | false alarms (A/A) |");
    for l in &levels {
        let _ = write!(md, " power at +{l} % |");
    }
    md.push_str(" limit for ≤ 2 % false alarms |\n|---|---|---|");
    md.push_str(&"---|".repeat(levels.len() + 1));
    md.push('\n');
    for (k, m) in &c.metrics {
        let limit = c.limits_pct.get(k).map_or("–".into(), |l| format!("{l} %"));
        let _ = write!(md, "| {k} | {limit} | {:.1} % |", m.false_alarm_rate * 100.0);
        for l in &levels {
            let p = m.power.get(*l).copied().unwrap_or(f64::NAN) * 100.0;
            let e = m.effect_pct.get(*l).copied().unwrap_or(f64::NAN);
            let _ = write!(md, " {p:.1} % (effect {e:+.1} %) |");
        }
        let s = m.limit_for_2pct_false_alarms.map_or("> 50 %".into(), |l| format!("{l} %"));
        let _ = writeln!(md, " {s} |");
    }
    let _ = write!(md, "| **the gate (any metric)** | | **{:.1} %** |", c.gate.false_alarm_rate * 100.0);
    for l in &levels {
        let _ = write!(md, " **{:.1} %** |", c.gate.power[*l] * 100.0);
    }
    md.push_str(" |\n");
    md
}

/// Metrics drawn on the power chart: the memory figures an injected allocation moves by
/// a share comparable to the gate's limits (the counts and bytes written do not move;
/// the live heap after the session moves by thousands of percent, off any useful axis —
/// the legend says how often it caught each level).
const DRAWN: &[&str] = &["rss_peak_bytes", "rss_p50_bytes", "heap_live_peak_bytes"];
/// The metric named in the power chart's legend only.
const NOTED: &str = "heap_live_end_bytes";

/// The power chart's curves: per drawn metric the share of draws failed against the
/// regression's measured size on that metric (0: the A/A false-alarm rate), and the gate
/// as a whole against the injection's share of peak RSS.
fn power_curves(c: &Calibration) -> crate::charts::power::PowerCurves {
    let metrics = DRAWN
        .iter()
        .filter_map(|name| {
            let m = c.metrics.get(*name)?;
            let mut points = vec![(0.0, m.false_alarm_rate * 100.0)];
            points.extend(m.power.iter().filter_map(|(l, p)| Some((*m.effect_pct.get(l)?, p * 100.0))));
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            Some((name.to_string(), points))
        })
        .collect();
    let mut gate = vec![(0.0, c.gate.false_alarm_rate * 100.0)];
    gate.extend(c.gate.power.iter().filter_map(|(l, p)| Some((l.parse::<f64>().ok()?, p * 100.0))));
    gate.sort_by(|a, b| a.0.total_cmp(&b.0));
    let note = c.metrics.get(NOTED).map(|m| {
        let caught: Vec<String> = m.power.values().map(|p| format!("{:.0} %", p * 100.0)).collect();
        format!("{NOTED} (not drawn, effects {}): caught {}", effect_range(m), caught.join(", "))
    });
    let about = format!(
        "{} baseline, {} candidate runs, {} draws from {} clean runs",
        c.baseline_runs, c.candidate_runs, c.draws, c.clean_runs
    );
    crate::charts::power::PowerCurves { about, suite: c.suite.clone(), metrics, gate, note }
}

/// "+535 … +3030 %": the range of a metric's measured effects.
fn effect_range(m: &MetricCalibration) -> String {
    let e: Vec<f64> = m.effect_pct.values().copied().collect();
    let lo = e.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{lo:+.0} … {hi:+.0} %")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run whose RSS p50 is `rss_p50` (every other gated metric the same in all runs).
    fn run(rss_p50: u64) -> RunFiles {
        let config = serde_json::json!({
            "workload": {"name": "gate", "spec_hash": "h", "blocks": 10, "shard_size": 1, "seed": 1},
            "node": {"alloc": "jemalloc", "compaction": "streaming", "compaction_concurrency": 1, "writer_batch": 1},
        });
        let summary = serde_json::json!({
            "alloc_count": 1000, "alloc_bytes_total": 1_000_000, "heap_live_end_bytes": 1000,
            "store_bytes_written": 5000, "heap_live_peak_bytes": 100_000, "rss_peak_bytes": 200_000_000u64,
            "rss_p50_bytes": rss_p50,
        });
        RunFiles::for_test(summary, config)
    }

    fn pools(clean: &[u64], injected: &[u64]) -> Pools {
        Pools {
            clean: clean.iter().map(|&v| run(v)).collect(),
            injected: vec![(9, injected.iter().map(|&v| run(v)).collect())],
        }
    }

    fn rss_p50_rates(p: &Pools, sizes: (usize, usize)) -> (f64, f64) {
        let t = Thresholds::default();
        let mut rng = SplitMix64::new(SEED);
        let (aa, _) = rates(p, None, sizes, 500, &t, &mut rng).unwrap();
        let (caught, _) = rates(p, Some(&p.injected[0].1), sizes, 500, &t, &mut rng).unwrap();
        (aa["rss_p50_bytes"], caught["rss_p50_bytes"])
    }

    #[test]
    fn quiet_clean_runs_give_no_false_alarms_and_a_shift_of_every_run_is_caught() {
        // ±0.5 % between clean runs; the injected cell's runs all 8 % higher.
        let clean: Vec<u64> = (0..20).map(|i| 100_000_000 + (i % 3) * 500_000).collect();
        let injected: Vec<u64> = (0..20).map(|i| 108_000_000 + (i % 3) * 500_000).collect();
        assert_eq!(rss_p50_rates(&pools(&clean, &injected), (10, 10)), (0.0, 1.0));
    }

    #[test]
    fn noisier_clean_runs_fail_more_draws_and_more_runs_fail_fewer() {
        // Half the clean runs 8 % above the other half: a draw fails when chance puts
        // more of the high runs in the candidate; the more runs a side, the less often.
        let clean: Vec<u64> = (0..20).map(|i| if i % 2 == 0 { 100_000_000 } else { 108_000_000 }).collect();
        // Exactly (hypergeometric): 7.85 % of 6-vs-6 splits fail, 1.15 % of 10-vs-10.
        let p = pools(&clean, &clean);
        let (six, _) = rss_p50_rates(&p, (6, 6));
        let (ten, _) = rss_p50_rates(&p, (10, 10));
        assert!((six - 0.0785).abs() < 0.035 && ten < six, "6 vs 6: {six}, 10 vs 10: {ten}");
    }

    #[test]
    fn the_suggested_limit_is_the_smallest_that_quiet_runs_do_not_cross() {
        // Clean runs of 100, 100.5 and 101 MB: no split of them differs by more than 1 %.
        let clean: Vec<u64> = (0..20).map(|i| 100_000_000 + (i % 3) * 500_000).collect();
        let mut rng = SplitMix64::new(SEED);
        let limit = suggested_limit(&pools(&clean, &clean), "rss_p50_bytes", (6, 6), 500, &mut rng).unwrap();
        assert!(matches!(limit, Some(l) if l <= 1.0), "{limit:?}");
        // Half the runs 8 % higher: a limit under 2 % false alarms must be several %.
        let noisy: Vec<u64> = (0..20).map(|i| if i % 2 == 0 { 100_000_000 } else { 108_000_000 }).collect();
        let limit = suggested_limit(&pools(&noisy, &noisy), "rss_p50_bytes", (6, 6), 500, &mut rng).unwrap();
        assert!(matches!(limit, Some(l) if (3.0..8.0).contains(&l)), "{limit:?}");
    }

    #[test]
    fn a_draw_takes_distinct_runs_and_never_the_baselines() {
        let mut rng = SplitMix64::new(1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..100 {
            let base = pick(&mut rng, 20, 6, &[]);
            let cand = pick(&mut rng, 20, 6, &base);
            let mut all = [base.clone(), cand.clone()].concat();
            all.sort_unstable();
            all.dedup();
            assert_eq!((base.len(), cand.len(), all.len()), (6, 6, 12), "{base:?} {cand:?}");
            assert!(all.iter().all(|&i| i < 20));
            seen.insert(cand);
        }
        assert!(seen.len() > 90, "the draws hardly differ: {} distinct of 100", seen.len());
    }
}

//! Medians with bootstrap confidence intervals, and the verdict rule.
//!
//! Intervals are percentile bootstraps (2.5th–97.5th) of the median over a fixed number
//! of resamples from a seeded generator, so the same inputs always give the same
//! interval (reports must be reproducible byte for byte). With few repetitions the
//! interval is honestly wide: three runs cannot show a 2 % difference.

use serde::Serialize;
use syncbench_workloads::rng::SplitMix64;

/// Resamples per interval.
pub const RESAMPLES: usize = 2_000;
/// Seed of the resampling generator.
pub const SEED: u64 = 0x5EED_B007;

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

fn resample_median(v: &[f64], rng: &mut SplitMix64, buf: &mut Vec<f64>) -> f64 {
    buf.clear();
    buf.extend((0..v.len()).map(|_| v[rng.below(v.len() as u64) as usize]));
    median(buf)
}

fn percentile_interval(mut stats: Vec<f64>) -> (f64, f64) {
    stats.retain(|x| x.is_finite());
    stats.sort_by(f64::total_cmp);
    if stats.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let at = |p: f64| stats[((stats.len() - 1) as f64 * p).round() as usize];
    (at(0.025), at(0.975))
}

/// 95 % bootstrap interval of the median of `v`.
pub fn median_ci(v: &[f64]) -> (f64, f64) {
    let mut rng = SplitMix64::new(SEED);
    let mut buf = Vec::new();
    percentile_interval((0..RESAMPLES).map(|_| resample_median(v, &mut rng, &mut buf)).collect())
}

/// Ratio of medians `candidate / baseline` and its 95 % bootstrap interval
/// (both groups resampled independently).
pub fn ratio_ci(candidate: &[f64], baseline: &[f64]) -> (f64, f64, f64) {
    let mut rng = SplitMix64::new(SEED ^ 1);
    let mut buf = Vec::new();
    let ratios = (0..RESAMPLES)
        .map(|_| {
            let c = resample_median(candidate, &mut rng, &mut buf);
            let b = resample_median(baseline, &mut rng, &mut buf);
            c / b
        })
        .collect();
    let (lo, hi) = percentile_interval(ratios);
    (median(candidate) / median(baseline), lo, hi)
}

/// Which way is good for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Baseline,
    Better,
    Worse,
    NoClearDifference,
    /// Fewer than [`MIN_RUNS_FOR_VERDICT`] runs on a side: a bootstrap interval of one
    /// or two values is their range, not a confidence interval, so nothing is called.
    TooFewRuns,
}

/// Runs each side needs before a difference is called either way.
pub const MIN_RUNS_FOR_VERDICT: usize = 3;

/// [`verdict`], or [`Verdict::TooFewRuns`] when either side has fewer than
/// [`MIN_RUNS_FOR_VERDICT`] values.
pub fn verdict_of(n: (usize, usize), lo: f64, hi: f64, floor: f64, direction: Direction) -> Verdict {
    if n.0 < MIN_RUNS_FOR_VERDICT || n.1 < MIN_RUNS_FOR_VERDICT {
        return Verdict::TooFewRuns;
    }
    verdict(lo, hi, floor, direction)
}

/// A difference is called only when the whole ratio interval clears the floor
/// (e.g. 0.05: entirely above 1.05 or entirely below 0.95).
pub fn verdict(lo: f64, hi: f64, floor: f64, direction: Direction) -> Verdict {
    let (higher, lower) = (lo > 1.0 + floor, hi < 1.0 - floor);
    match (higher, lower, direction) {
        (true, _, Direction::HigherIsBetter) | (_, true, Direction::LowerIsBetter) => Verdict::Better,
        (true, _, Direction::LowerIsBetter) | (_, true, Direction::HigherIsBetter) => Verdict::Worse,
        _ => Verdict::NoClearDifference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn intervals_contain_the_median_and_are_deterministic() {
        let v = [10.0, 11.0, 9.5, 10.5, 12.0];
        let (lo, hi) = median_ci(&v);
        assert!(lo <= median(&v) && median(&v) <= hi);
        assert_eq!((lo, hi), median_ci(&v));
    }

    #[test]
    fn clear_and_unclear_differences() {
        let base = [100.0, 101.0, 99.0, 100.5, 99.5];
        let big = [150.0, 151.0, 149.0, 150.5, 149.5];
        let (r, lo, hi) = ratio_ci(&big, &base);
        assert!((r - 1.5).abs() < 0.01 && lo > 1.4 && hi < 1.6);
        assert_eq!(verdict(lo, hi, 0.05, Direction::LowerIsBetter), Verdict::Worse);
        assert_eq!(verdict(lo, hi, 0.05, Direction::HigherIsBetter), Verdict::Better);
        let noisy = [90.0, 112.0, 101.0, 95.0, 108.0];
        let (_, lo, hi) = ratio_ci(&noisy, &base);
        assert_eq!(verdict(lo, hi, 0.05, Direction::LowerIsBetter), Verdict::NoClearDifference);
    }
}

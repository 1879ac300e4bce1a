//! The statistics every verdict relies on, kept pure: numbers in, numbers out, no
//! files, no runs, no printing (criterion's `stats/`). `matrix`, `ab`, `report` and the
//! charts call these; nothing here calls them.
//!
//! # Layout
//! - [`dist`]: Student's t (CDF, quantiles) for intervals, tests and MDEs.
//! - [`compare`]: two groups compared by t on logs (a ratio) or on values (a
//!   difference), paired by round or Welch; one group's geometric mean and interval.
//! - [`multiplicity`]: Benjamini–Hochberg (and Holm) over a family of comparisons.
//! - [`slope`]: a least-squares slope with its standard error.
//! - this module: medians and the verdict rule.
//!
//! # The rule, in one place
//! A difference is called `better` or `worse` only when (1) each side has at least
//! [`MIN_RUNS_FOR_VERDICT`] runs (pairs), and (2) the test of "the change is within the
//! floor" ([`compare::TTest::p_beyond_floor`]) is rejected at [`ALPHA`] after the
//! family's Benjamini–Hochberg adjustment. Every "no clear difference" carries the
//! change it could have called ([`compare::TTest::minimum_detectable`]).

pub mod compare;
pub mod dist;
pub mod multiplicity;
pub mod slope;

#[cfg(test)]
mod coverage;

use serde::Serialize;

pub use compare::{Design, Scale, Side, TTest, CONFIDENCE};

/// The family-wise level of every verdict (after the family's correction).
pub const ALPHA: f64 = 0.05;

/// Runs (or rounds) each side needs before a difference is called either way; below
/// it a table shows the range of the runs, labelled as such, and calls nothing.
pub const MIN_RUNS_FOR_VERDICT: usize = 3;

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
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
    /// Fewer than [`MIN_RUNS_FOR_VERDICT`] runs (or rounds) on a side: nothing is called.
    TooFewRuns,
}

/// The verdict of one comparison from its family-adjusted p-value and the side its
/// estimate lies on (see the module's rule).
pub fn verdict(n: (usize, usize), adjusted_p: f64, side: Side, direction: Direction) -> Verdict {
    if n.0 < MIN_RUNS_FOR_VERDICT || n.1 < MIN_RUNS_FOR_VERDICT {
        return Verdict::TooFewRuns;
    }
    // A NaN p (no test possible) is no call either.
    if adjusted_p.is_nan() || adjusted_p > ALPHA {
        return Verdict::NoClearDifference;
    }
    match (side, direction) {
        (Side::Up, Direction::HigherIsBetter) | (Side::Down, Direction::LowerIsBetter) => Verdict::Better,
        (Side::Up, Direction::LowerIsBetter) | (Side::Down, Direction::HigherIsBetter) => Verdict::Worse,
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
    fn the_rule() {
        let (up, down) = (Side::Up, Side::Down);
        assert_eq!(verdict((5, 5), 0.01, up, Direction::LowerIsBetter), Verdict::Worse);
        assert_eq!(verdict((5, 5), 0.01, down, Direction::LowerIsBetter), Verdict::Better);
        assert_eq!(verdict((5, 5), 0.2, up, Direction::LowerIsBetter), Verdict::NoClearDifference);
        assert_eq!(verdict((2, 5), 0.0, up, Direction::LowerIsBetter), Verdict::TooFewRuns);
        assert_eq!(verdict((5, 5), f64::NAN, up, Direction::LowerIsBetter), Verdict::NoClearDifference);
    }
}

//! Coverage and false-alarm rates measured by simulation, not assumed.
//!
//! Runs are drawn lognormal with coefficients of variation of 3–12 % (the run-to-run
//! spread of this project's memory and time figures on its 2-core development VM), at
//! the harness's default sizes: `matrix --repeat 5` (paired by round, and unpaired as
//! a merged report compares them), `ab --repeat 20`, and 3 runs (the least a verdict
//! needs). Paired rounds add a shared per-round factor (the machine's drift), which the
//! paired design must cancel. A positive control shows the simulation can see an
//! interval that under-covers: the min–max range of 3 runs, which a percentile
//! bootstrap of their median returns, is checked to cover far less than 95 %.

use syncbench_workloads::rng::SplitMix64;

use super::compare::{geometric, paired, welch, Scale};
use super::multiplicity::benjamini_hochberg;
use super::{verdict, Direction, Verdict, ALPHA, CONFIDENCE};

/// Trials per configuration: the coverage estimate's standard error is ~0.35 %.
const TRIALS: usize = 4_000;
/// Run-to-run coefficients of variation simulated.
const CVS: [f64; 3] = [0.03, 0.06, 0.12];

struct Draw(SplitMix64);

impl Draw {
    fn new(seed: u64) -> Draw {
        Draw(SplitMix64::new(seed))
    }

    /// A standard normal variate (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = self.0.next_f64().max(1e-300);
        let v = self.0.next_f64();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// A lognormal value of median `median` and coefficient of variation `cv`.
    fn lognormal(&mut self, median: f64, cv: f64) -> f64 {
        let sigma = (1.0 + cv * cv).ln().sqrt();
        median * (sigma * self.normal()).exp()
    }

    fn group(&mut self, n: usize, median: f64, cv: f64) -> Vec<f64> {
        (0..n).map(|_| self.lognormal(median, cv)).collect()
    }
}

fn rate(hits: usize) -> f64 {
    hits as f64 / TRIALS as f64
}

#[test]
fn welch_intervals_cover_at_least_93_percent_at_the_default_sizes() {
    let mut d = Draw::new(1);
    for n in [3, 5] {
        for cv_b in CVS {
            for cv_c in CVS {
                let truth = 1.07;
                let covered = (0..TRIALS)
                    .filter(|_| {
                        let (b, c) = (d.group(n, 100.0, cv_b), d.group(n, 100.0 * truth, cv_c));
                        let (lo, hi) = welch(&b, &c, Scale::Ratio, None, None).unwrap().interval(CONFIDENCE);
                        lo <= truth && truth <= hi
                    })
                    .count();
                println!("welch n {n} cv {cv_b}/{cv_c}: coverage {:.4}", rate(covered));
                assert!(rate(covered) >= 0.93, "n {n}, cv {cv_b}/{cv_c}: coverage {}", rate(covered));
            }
        }
    }
}

#[test]
fn paired_intervals_cover_at_least_93_percent_and_cancel_drift() {
    let mut d = Draw::new(2);
    for n in [3, 5, 20] {
        for cv in CVS {
            let truth = 0.95;
            let covered = (0..TRIALS)
                .filter(|_| {
                    // A round factor (drift between rounds, CV 15 %) shared by both sides.
                    let pairs: Vec<(f64, f64)> = (0..n)
                        .map(|_| {
                            let round = d.lognormal(1.0, 0.15);
                            (round * d.lognormal(100.0, cv), round * d.lognormal(100.0 * truth, cv))
                        })
                        .collect();
                    let (lo, hi) = paired(&pairs, Scale::Ratio).unwrap().interval(CONFIDENCE);
                    lo <= truth && truth <= hi
                })
                .count();
            println!("paired n {n} cv {cv}: coverage {:.4}", rate(covered));
            assert!(rate(covered) >= 0.93, "n {n}, cv {cv}: coverage {}", rate(covered));
        }
    }
}

#[test]
fn one_cells_interval_covers_its_median_at_least_93_percent() {
    let mut d = Draw::new(3);
    for n in [3, 5] {
        for cv in CVS {
            let covered = (0..TRIALS)
                .filter(|_| {
                    let (_, (lo, hi)) = geometric(&d.group(n, 250.0, cv), CONFIDENCE).unwrap();
                    lo <= 250.0 && 250.0 <= hi
                })
                .count();
            println!("cell n {n} cv {cv}: coverage {:.4}", rate(covered));
            assert!(rate(covered) >= 0.93, "n {n}, cv {cv}: coverage {}", rate(covered));
        }
    }
}

/// Positive control: the simulation must be able to see an interval that covers less
/// than it claims. The min–max range of 3 runs (what a percentile bootstrap of their
/// median returns) covers the median only 1 − 2·(1/2)³ = 75 % of the time.
#[test]
fn the_range_of_three_runs_is_seen_to_under_cover() {
    let mut d = Draw::new(4);
    let covered = (0..TRIALS)
        .filter(|_| {
            let g = d.group(3, 250.0, 0.06);
            let (lo, hi) = (g.iter().copied().fold(f64::MAX, f64::min), g.iter().copied().fold(0.0, f64::max));
            lo <= 250.0 && 250.0 <= hi
        })
        .count();
    println!("range of 3 runs: coverage {:.4}", rate(covered));
    assert!((0.72..0.78).contains(&rate(covered)), "range coverage {}", rate(covered));
}

/// A true change exactly at the floor is not a change beyond it: calling it "worse"
/// is a false alarm, which must happen at most 5 % of the time (by construction
/// 2.5 %, one side of a two-sided 5 % test).
#[test]
fn a_change_at_the_floor_is_called_at_most_5_percent_of_the_time() {
    let mut d = Draw::new(5);
    let floor = 0.05;
    for (n, is_paired) in [(3, false), (5, false), (5, true), (20, true)] {
        for cv in CVS {
            let alarms = (0..TRIALS)
                .filter(|_| {
                    let (b, c) = (d.group(n, 100.0, cv), d.group(n, 100.0 * (1.0 + floor), cv));
                    let t = if is_paired {
                        paired(&b.iter().copied().zip(c.iter().copied()).collect::<Vec<_>>(), Scale::Ratio)
                    } else {
                        welch(&b, &c, Scale::Ratio, None, None)
                    };
                    let (p, side) = t.unwrap().p_beyond_floor(floor);
                    verdict((n, n), p, side, Direction::LowerIsBetter) == Verdict::Worse
                })
                .count();
            println!("at the floor, n {n} paired {is_paired} cv {cv}: called worse {:.4}", rate(alarms));
            assert!(rate(alarms) <= ALPHA, "n {n} paired {is_paired} cv {cv}: {}", rate(alarms));
        }
    }
}

/// An A/A suite: 16 metrics × 2 cells against a baseline, nothing differs. With the
/// family's Benjamini–Hochberg adjustment, anything is called in at most 5 % of suites.
#[test]
fn an_aa_suite_calls_nothing_in_at_least_95_percent_of_suites() {
    let mut d = Draw::new(6);
    let (floor, n, m) = (0.05, 5, 32);
    let trials = TRIALS / 4;
    let suites_with_alarm = (0..trials)
        .filter(|_| {
            let tests: Vec<_> = (0..m)
                .map(|i| {
                    let cv = CVS[i % CVS.len()];
                    welch(&d.group(n, 100.0, cv), &d.group(n, 100.0, cv), Scale::Ratio, None, None).unwrap()
                })
                .collect();
            let p: Vec<f64> = tests.iter().map(|t| t.p_beyond_floor(floor).0).collect();
            let adjusted = benjamini_hochberg(&p);
            tests.iter().zip(adjusted).any(|(t, a)| {
                verdict((n, n), a, t.p_beyond_floor(floor).1, Direction::LowerIsBetter) != Verdict::NoClearDifference
            })
        })
        .count();
    println!("A/A suites of {m} comparisons: {suites_with_alarm} of {trials} called anything");
    assert!(suites_with_alarm as f64 / trials as f64 <= ALPHA, "{suites_with_alarm} of {trials}");
}

/// The minimum detectable effect means what it says: a true change of that size is
/// called about 80 % of the time (at the same level, noise and n).
#[test]
fn a_change_of_the_minimum_detectable_size_is_called_about_80_percent_of_the_time() {
    let mut d = Draw::new(7);
    let (floor, n, cv): (f64, usize, f64) = (0.05, 5, 0.06);
    // The MDE from the noise the design implies (a pilot of many runs).
    let sigma = (1.0 + cv * cv).ln().sqrt();
    let pilot = welch(&d.group(2_000, 100.0, cv), &d.group(2_000, 100.0, cv), Scale::Ratio, None, None).unwrap();
    let at_n = super::TTest { se: sigma * (2.0 / n as f64).sqrt(), df: 8.0, ..pilot };
    let mde = at_n.minimum_detectable(floor, ALPHA);
    let called = (0..TRIALS)
        .filter(|_| {
            let t =
                welch(&d.group(n, 100.0, cv), &d.group(n, 100.0 * (1.0 + mde), cv), Scale::Ratio, None, None).unwrap();
            let (p, side) = t.p_beyond_floor(floor);
            verdict((n, n), p, side, Direction::LowerIsBetter) == Verdict::Worse
        })
        .count();
    // Welch's df and the estimated spread make the real power a little lower than the
    // nominal 80 % of the known-variance calculation.
    println!("a change of the MDE ({:.1} %) called {:.4} of the time", mde * 100.0, rate(called));
    assert!((0.65..0.9).contains(&rate(called)), "mde {mde:.3}: called {}", rate(called));
}

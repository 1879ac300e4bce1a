//! Two groups of runs compared by a t test — on logs for positive amounts (a ratio),
//! on values for signed ones (a slope that may be 0 or negative: a difference).
//!
//! Why t on logs: run-to-run noise of memory and time figures is multiplicative (a run
//! is a few percent bigger or slower as a whole), which logs make additive and close to
//! normal; the t interval of the mean log then covers at its nominal rate even at
//! n = 3, where a bootstrap of the median returns the range of the runs (~75 %
//! coverage). The coverage of every interval at the harness's default n is measured by
//! simulation in this module's tests, not assumed.
//!
//! Two designs:
//! - **paired** ([`paired`]): runs taken in rounds that run both sides (interleaved
//!   `matrix` rounds, `ab` rounds) give one log ratio per round; the machine's drift
//!   between rounds cancels. One-sample t on the per-round log ratios, df = rounds − 1.
//! - **unpaired** ([`welch`]): groups not run in rounds (a merged report, a committed
//!   baseline against a candidate): Welch's t on the two groups' logs, Welch–
//!   Satterthwaite df.
//!
//! A difference is called against a floor: "worse" means the data reject "within
//! +floor" (one-sided, at the level given), "better" that they reject "within
//! −floor". [`TTest::p_beyond_floor`] is that test's p-value, which a family's
//! correction (`super::multiplicity`) adjusts; the interval shown is the unadjusted 95 %.

use super::dist::{t_cdf, t_quantile};

/// Confidence of every interval shown.
pub const CONFIDENCE: f64 = 0.95;
/// Power at which a minimum detectable effect is stated.
pub const POWER: f64 = 0.80;

/// How two groups were compared (named in every table that shows the result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Design {
    /// One ratio (or difference) per round, t on their mean.
    Paired,
    /// Welch's t on the two groups.
    Welch,
}

/// Whether the compared quantity is a ratio (t on logs) or a difference (t on values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    Ratio,
    Difference,
}

/// Which side of the floor a difference lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Up,
    Down,
}

/// A t statistic's ingredients: the estimate (mean log ratio, or mean difference), its
/// standard error and degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TTest {
    pub design: Design,
    pub scale: Scale,
    pub estimate: f64,
    pub se: f64,
    pub df: f64,
    /// Runs on each side (baseline, candidate); for a paired test, rounds twice.
    pub n: (usize, usize),
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0) } else { f64::NAN };
    (mean, var)
}

fn logs(v: &[f64]) -> Option<Vec<f64>> {
    v.iter().all(|&x| x > 0.0 && x.is_finite()).then(|| v.iter().map(|x| x.ln()).collect())
}

/// Paired rounds: `pairs` of (baseline, candidate), one per round. `None` with fewer
/// than 2 pairs, or a value ≤ 0 on the ratio scale.
pub fn paired(pairs: &[(f64, f64)], scale: Scale) -> Option<TTest> {
    if pairs.len() < 2 {
        return None;
    }
    let diffs: Vec<f64> = match scale {
        Scale::Ratio => {
            let (b, c): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
            let (b, c) = (logs(&b)?, logs(&c)?);
            c.iter().zip(&b).map(|(c, b)| c - b).collect()
        }
        Scale::Difference => pairs.iter().map(|(b, c)| c - b).collect(),
    };
    let (mean, var) = mean_var(&diffs);
    let n = diffs.len();
    Some(TTest {
        design: Design::Paired,
        scale,
        estimate: mean,
        se: (var / n as f64).sqrt(),
        df: (n - 1) as f64,
        n: (n, n),
    })
}

/// Unpaired groups (Welch). `None` with fewer than 2 runs a side, or a value ≤ 0 on
/// the ratio scale. Each group's variance is at least the one given (on the test's
/// scale), if any: for estimates that carry their own standard error (a run's slope),
/// the spread between runs is at least each run's own mean squared error — three runs
/// that happen to agree do not make a slope certain.
pub fn welch(
    baseline: &[f64],
    candidate: &[f64],
    scale: Scale,
    min_var_baseline: Option<f64>,
    min_var_candidate: Option<f64>,
) -> Option<TTest> {
    if baseline.len() < 2 || candidate.len() < 2 {
        return None;
    }
    let (b, c) = match scale {
        Scale::Ratio => (logs(baseline)?, logs(candidate)?),
        Scale::Difference => (baseline.to_vec(), candidate.to_vec()),
    };
    let ((mb, vb), (mc, vc)) = (mean_var(&b), mean_var(&c));
    let (vb, vc) = (vb.max(min_var_baseline.unwrap_or(0.0)), vc.max(min_var_candidate.unwrap_or(0.0)));
    let (nb, nc) = (b.len() as f64, c.len() as f64);
    let (sb, sc) = (vb / nb, vc / nc);
    let se = (sb + sc).sqrt();
    // Welch–Satterthwaite; two groups without variance have no spread to estimate.
    let df = if se > 0.0 { (sb + sc).powi(2) / (sb * sb / (nb - 1.0) + sc * sc / (nc - 1.0)) } else { nb + nc - 2.0 };
    Some(TTest { design: Design::Welch, scale, estimate: mc - mb, se, df, n: (b.len(), c.len()) })
}

impl TTest {
    /// The point estimate on its own scale: the ratio (geometric means, or geometric
    /// mean of per-round ratios) or the difference.
    pub fn value(&self) -> f64 {
        self.unscale(self.estimate)
    }

    fn unscale(&self, x: f64) -> f64 {
        match self.scale {
            Scale::Ratio => x.exp(),
            Scale::Difference => x,
        }
    }

    /// The two-sided interval at `confidence`, on the estimate's scale.
    pub fn interval(&self, confidence: f64) -> (f64, f64) {
        let q = t_quantile(0.5 + confidence / 2.0, self.df);
        let half = if self.se > 0.0 { q * self.se } else { 0.0 };
        (self.unscale(self.estimate - half), self.unscale(self.estimate + half))
    }

    /// `floor` as bounds on the estimate's own scale: a ratio within ±floor
    /// (ln(1 − f), ln(1 + f)), or a difference within ±floor (in the values' unit).
    fn band(&self, floor: f64) -> (f64, f64) {
        match self.scale {
            Scale::Ratio => ((1.0 - floor).max(1e-12).ln(), (1.0 + floor).ln()),
            Scale::Difference => (-floor, floor),
        }
    }

    /// The p-value of "the true change is within the floor" against the side the
    /// estimate lies on (one-sided, doubled: two-sided over both sides), and that side.
    /// A test whose standard error is 0 (identical runs) gives 0 beyond the floor and
    /// 1 within it.
    pub fn p_beyond_floor(&self, floor: f64) -> (f64, Side) {
        let (lo, hi) = self.band(floor);
        let side = if self.estimate >= 0.0 { Side::Up } else { Side::Down };
        let one_sided = match side {
            Side::Up if self.se == 0.0 => f64::from(u8::from(self.estimate <= hi)),
            Side::Down if self.se == 0.0 => f64::from(u8::from(self.estimate >= lo)),
            Side::Up => 1.0 - t_cdf((self.estimate - hi) / self.se, self.df),
            Side::Down => t_cdf((self.estimate - lo) / self.se, self.df),
        };
        ((2.0 * one_sided).min(1.0), side)
    }

    /// The smallest change (a fraction for a ratio, the values' unit for a
    /// difference, both as a distance from "no change") this test would call
    /// [`POWER`] of the time at two-sided level `alpha`, with this standard error and
    /// df: floor + (t₁₋α/₂ + t_power)·se on the estimate's scale.
    pub fn minimum_detectable(&self, floor: f64, alpha: f64) -> f64 {
        let (_, hi) = self.band(floor);
        let reach = hi + (t_quantile(1.0 - alpha / 2.0, self.df) + t_quantile(POWER, self.df)) * self.se;
        match self.scale {
            Scale::Ratio => reach.exp() - 1.0,
            Scale::Difference => reach,
        }
    }
}

/// One group's centre with its interval: the geometric mean with a t interval on logs
/// (`None` below 2 values, or for a value ≤ 0: see [`arithmetic`]).
pub fn geometric(values: &[f64], confidence: f64) -> Option<(f64, (f64, f64))> {
    let l = logs(values)?;
    if l.len() < 2 {
        return None;
    }
    let (m, v) = mean_var(&l);
    let q = t_quantile(0.5 + confidence / 2.0, (l.len() - 1) as f64);
    let half = q * (v / l.len() as f64).sqrt();
    Some((m.exp(), ((m - half).exp(), (m + half).exp())))
}

/// One group's mean with a t interval (for signed values, e.g. slopes).
pub fn arithmetic(values: &[f64], confidence: f64) -> Option<(f64, (f64, f64))> {
    if values.len() < 2 {
        return None;
    }
    let (m, v) = mean_var(values);
    let q = t_quantile(0.5 + confidence / 2.0, (values.len() - 1) as f64);
    let half = q * (v / values.len() as f64).sqrt();
    Some((m, (m - half, m + half)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_welch_and_paired_test() {
        // Hand-checked: logs of [100, 110, 105] vs [120, 125, 130].
        let t = welch(&[100.0, 110.0, 105.0], &[120.0, 125.0, 130.0], Scale::Ratio, None, None).unwrap();
        assert!((t.value() - 1.190).abs() < 0.002, "{}", t.value());
        let (lo, hi) = t.interval(0.95);
        assert!(lo > 1.05 && hi < 1.35 && lo < t.value() && t.value() < hi, "{lo} {hi}");
        let p = paired(&[(100.0, 110.0), (200.0, 221.0), (50.0, 54.5)], Scale::Ratio).unwrap();
        assert!((p.value() - 1.1).abs() < 0.01 && p.df == 2.0);
        let (pv, side) = p.p_beyond_floor(0.05);
        assert_eq!(side, Side::Up);
        assert!(pv < 0.05, "10 % ± 0.5 % against a 5 % floor: {pv}");
        assert!(welch(&[1.0], &[1.0, 2.0], Scale::Ratio, None, None).is_none());
        assert!(welch(&[-1.0, 1.0], &[1.0, 2.0], Scale::Ratio, None, None).is_none(), "no logs of a negative");
        assert!(welch(&[-1.0, 1.0], &[1.0, 2.0], Scale::Difference, None, None).is_some());
    }

    #[test]
    fn identical_runs_have_no_spread_and_an_exact_answer() {
        let t = welch(&[5.0, 5.0, 5.0], &[5.0, 5.0, 5.0], Scale::Ratio, None, None).unwrap();
        assert_eq!((t.value(), t.interval(0.95), t.p_beyond_floor(0.01).0), (1.0, (1.0, 1.0), 1.0));
        let t = welch(&[5.0, 5.0, 5.0], &[5.5, 5.5, 5.5], Scale::Ratio, None, None).unwrap();
        assert_eq!(t.p_beyond_floor(0.01).0, 0.0);
        assert!((t.minimum_detectable(0.01, 0.05) - 0.01).abs() < 1e-12, "no noise: the floor itself");
    }
}

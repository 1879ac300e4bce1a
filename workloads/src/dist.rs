//! Named distributions for block quantities, and their validated, sampleable form.

use crate::rng::SplitMix64;

/// A validated distribution over non-negative quantities.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    /// Always `value`.
    Const { value: f64 },
    /// Uniform over the closed interval [`min`, `max`].
    Uniform { min: f64, max: f64 },
    /// Log-normal with the given median and log-space sigma, clamped to [`min`, `max`].
    Lognormal { median: f64, sigma: f64, min: f64, max: f64 },
    /// Piecewise-linear inverse CDF through `(probability, value)` points; the first
    /// probability is 0 and the last 1, both strictly increasing.
    Empirical { quantiles: Vec<(f64, f64)> },
}

impl Dist {
    /// Draws one value (rounded to an integer count or size).
    pub fn sample(&self, rng: &mut SplitMix64) -> u64 {
        let v = match self {
            Dist::Const { value } => *value,
            Dist::Uniform { min, max } => min + rng.next_f64() * (max - min + 1.0),
            Dist::Lognormal { median, sigma, min, max } => {
                (median * (sigma * standard_normal(rng)).exp()).clamp(*min, *max)
            }
            Dist::Empirical { quantiles } => inverse_cdf(quantiles, rng.next_f64()),
        };
        v.max(0.0) as u64
    }

    /// The value at cumulative probability `p` (used by `describe` and calibration).
    pub fn quantile(&self, p: f64) -> f64 {
        match self {
            Dist::Const { value } => *value,
            Dist::Uniform { min, max } => min + p * (max - min),
            Dist::Lognormal { median, sigma, min, max } => (median * (sigma * probit(p)).exp()).clamp(*min, *max),
            Dist::Empirical { quantiles } => inverse_cdf(quantiles, p),
        }
    }

    /// The largest value it can draw.
    pub fn max(&self) -> f64 {
        match self {
            Dist::Const { value } => *value,
            Dist::Uniform { max, .. } | Dist::Lognormal { max, .. } => *max,
            Dist::Empirical { quantiles } => quantiles.iter().map(|q| q.1).fold(0.0, f64::max),
        }
    }

    /// The mean, computed numerically from the quantile function (1,000 midpoints).
    pub fn mean(&self) -> f64 {
        const N: usize = 1000;
        (0..N).map(|i| self.quantile((i as f64 + 0.5) / N as f64)).sum::<f64>() / N as f64
    }
}

fn inverse_cdf(q: &[(f64, f64)], u: f64) -> f64 {
    let i = q.partition_point(|&(p, _)| p <= u).clamp(1, q.len() - 1);
    let ((p0, v0), (p1, v1)) = (q[i - 1], q[i]);
    v0 + (v1 - v0) * ((u - p0) / (p1 - p0)).clamp(0.0, 1.0)
}

/// Box–Muller, one of the pair (the other is discarded to keep streams position-free).
fn standard_normal(rng: &mut SplitMix64) -> f64 {
    let u1 = rng.next_f64().max(f64::MIN_POSITIVE);
    let u2 = rng.next_f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
/// The coefficients are quoted as published.
#[allow(clippy::excessive_precision)]
fn probit(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383577518672690e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empirical_hits_its_knots() {
        let d = Dist::Empirical { quantiles: vec![(0.0, 0.0), (0.5, 100.0), (1.0, 1000.0)] };
        assert_eq!(d.quantile(0.5), 100.0);
        assert_eq!(d.quantile(0.75), 550.0);
        assert_eq!(d.quantile(1.0), 1000.0);
    }

    #[test]
    fn lognormal_median_is_the_median() {
        let d = Dist::Lognormal { median: 200.0, sigma: 0.7, min: 0.0, max: f64::MAX };
        let mut rng = SplitMix64::new(9);
        let mut v: Vec<u64> = (0..20_001).map(|_| d.sample(&mut rng)).collect();
        v.sort_unstable();
        let m = v[10_000] as f64;
        assert!((m - 200.0).abs() < 8.0, "sample median {m}");
        assert!((d.quantile(0.5) - 200.0).abs() < 1e-6);
    }

    #[test]
    fn uniform_covers_both_ends() {
        let d = Dist::Uniform { min: 1.0, max: 4.0 };
        let mut rng = SplitMix64::new(1);
        let v: Vec<u64> = (0..1000).map(|_| d.sample(&mut rng)).collect();
        assert_eq!(v.iter().min(), Some(&1));
        assert_eq!(v.iter().max(), Some(&4));
    }
}

//! A least-squares slope with its standard error: how fast a run's RSS floor climbs,
//! and how sure that run alone is of it (the suite's interval adds the spread between
//! runs, `matrix::comparison`).

/// Slope, its standard error (`None` with fewer than 3 points: no residual left to
/// estimate it) and the number of points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slope {
    pub slope: f64,
    pub stderr: Option<f64>,
    pub n: usize,
}

/// Ordinary least squares of y over x; `None` when x does not vary (or no points).
pub fn ols(points: &[(f64, f64)]) -> Option<Slope> {
    let n = points.len();
    let first_x = points.first()?.0;
    if points.iter().all(|p| p.0 == first_x) {
        return None;
    }
    let nf = n as f64;
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / nf, points.iter().map(|p| p.1).sum::<f64>() / nf);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let stderr = (n >= 3).then(|| {
        let rss: f64 = points.iter().map(|p| (p.1 - my - slope * (p.0 - mx)).powi(2)).sum();
        (rss / (nf - 2.0) / sxx).sqrt()
    });
    Some(Slope { slope, stderr, n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_noisy_lines() {
        let s = ols(&[(1.0, 3.0), (2.0, 5.0), (3.0, 7.0), (4.0, 9.0)]).unwrap();
        assert_eq!((s.slope, s.stderr, s.n), (2.0, Some(0.0), 4));
        // R: summary(lm(y ~ x)) for x = 1..5, y = c(1, 3, 2, 5, 4): slope 0.8, se 0.3464
        let s = ols(&[(1.0, 1.0), (2.0, 3.0), (3.0, 2.0), (4.0, 5.0), (5.0, 4.0)]).unwrap();
        assert!((s.slope - 0.8).abs() < 1e-12 && (s.stderr.unwrap() - 0.346_410_2).abs() < 1e-6, "{s:?}");
        assert!(ols(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
        assert_eq!(ols(&[(1.0, 1.0), (2.0, 2.0)]).unwrap().stderr, None);
    }
}

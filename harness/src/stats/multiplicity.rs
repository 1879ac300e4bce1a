//! Many comparisons at once: a suite calls verdicts over every metric × cell, an `ab`
//! over several metrics, and at a 5 % level each, some would be called by chance alone.
//! Benjamini–Hochberg adjusts the p-values of a family so that, among the differences
//! it calls, the expected share of false ones is at most the level — and when nothing
//! differs at all (an A/A comparison), the chance of calling anything is at most the
//! level.

/// Benjamini–Hochberg adjusted p-values, in the order given (NaN stays NaN and does
/// not count towards the family's size).
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_finite()).collect();
    let m = idx.len() as f64;
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![f64::NAN; p.len()];
    let mut running = 1.0f64;
    for (rank, &i) in idx.iter().enumerate().rev() {
        running = running.min(p[i] * m / (rank + 1) as f64).min(1.0);
        out[i] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjusted_values_match_the_textbook() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH")
        let p = [0.01, 0.04, 0.03, 0.005];
        let bh = benjamini_hochberg(&p);
        for (got, want) in bh.iter().zip([0.02, 0.04, 0.04, 0.02]) {
            assert!((got - want).abs() < 1e-12, "{bh:?}");
        }
        let with_nan = benjamini_hochberg(&[0.01, f64::NAN]);
        assert!(with_nan[1].is_nan() && (with_nan[0] - 0.01).abs() < 1e-12);
    }
}

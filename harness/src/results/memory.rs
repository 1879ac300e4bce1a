//! Time-weighted memory figures of a run, from its samples.
//!
//! Peak RSS is one instant: how full the pipeline's queues happened to be when the
//! kernel's high-water mark was set, so it moves by several percent between identical
//! runs. Figures that weigh every sample by the time it stood for — RSS percentiles
//! over the node's life and the RSS·time integral per GiB ingested — are less tied to
//! that instant: measured here, the RSS p50 of runs lasting several seconds varies less
//! than their peak (docs/pr-gate.md); on sub-second runs it does not.

/// One sample's time (ms since time zero) and value (bytes).
pub type Point = (u64, u64);

/// Each point's weight: the time until the next point (the last one gets `last_ms`).
fn weights(points: &[Point], last_ms: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
    points.iter().enumerate().map(move |(i, &(t, v))| {
        let w = points.get(i + 1).map_or(last_ms, |next| next.0.saturating_sub(t));
        (v, w)
    })
}

/// The value below which the series spent fraction `q` of its time; `None` if empty.
pub fn time_weighted_quantile(points: &[Point], q: f64, last_ms: u64) -> Option<u64> {
    let mut by_value: Vec<(u64, u64)> = weights(points, last_ms).collect();
    by_value.sort_unstable();
    let total: u64 = by_value.iter().map(|p| p.1).sum();
    if total == 0 {
        return by_value.get(((by_value.len() as f64 - 1.0) * q).round() as usize).map(|p| p.0);
    }
    let target = q.clamp(0.0, 1.0) * total as f64;
    let mut acc = 0u64;
    for &(v, w) in &by_value {
        acc += w;
        if acc as f64 >= target {
            return Some(v);
        }
    }
    by_value.last().map(|p| p.0)
}

/// ∫ value dt in MiB·s.
pub fn integral_mib_s(points: &[Point], last_ms: u64) -> f64 {
    weights(points, last_ms).map(|(v, w)| v as f64 / crate::units::MIB * w as f64 / 1e3).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_weigh_samples_by_time_not_count() {
        // 9 quick samples at 1 MiB, then one that stood for 10 s at 5 MiB.
        let mut p: Vec<Point> = (0..9).map(|i| (i * 10, 1 << 20)).collect();
        p.push((90, 5 << 20));
        assert_eq!(time_weighted_quantile(&p, 0.5, 10_000), Some(5 << 20));
        assert_eq!(time_weighted_quantile(&p, 0.005, 10_000), Some(1 << 20));
        assert_eq!(time_weighted_quantile(&[], 0.5, 100), None);
    }

    #[test]
    fn integral_is_mib_times_seconds() {
        let p = [(0, 1 << 20), (1000, 2 << 20)];
        assert!((integral_mib_s(&p, 1000) - 3.0).abs() < 1e-9);
    }
}

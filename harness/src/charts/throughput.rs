//! Ingest throughput over time: acknowledged (durable) MiB/s per window. The window is
//! 1 s for runs of a minute or more, shorter for short runs (down to 0.2 s) so that
//! even a smoke run shows a curve.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    headroom, series, series_style, shade_compactions, time_chart, titled, with_legend, Chart, Legend, RunChartData,
    MIB,
};

pub struct ThroughputChart<'a>(pub &'a RunChartData);

/// (t_s at window end, MiB/s, blocks/s) over windows of at least `window_s` seconds.
pub fn rates(acked: &[(f64, f64, f64)], window_s: f64) -> Vec<(f64, f64, f64)> {
    let mut out = Vec::new();
    let mut start = match acked.first() {
        Some(&s) => s,
        None => return out,
    };
    for &p in acked {
        let dt = p.0 - start.0;
        if dt >= window_s {
            out.push((p.0, (p.2 - start.2) / MIB / dt, (p.1 - start.1) / dt));
            start = p;
        }
    }
    out
}

impl Chart for ThroughputChart<'_> {
    fn file_stem(&self) -> &'static str {
        "throughput"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let x_max = d.acked.last().map_or(0.0, |a| a.0);
        let window_s = (x_max / 60.0).clamp(0.2, 1.0);
        let r = rates(&d.acked, window_s);
        let y_max = headroom(r.iter().map(|p| p.1).fold(0.0, f64::max));
        let (plot, key) = with_legend(&titled(root, &format!("Durable ingest throughput — {}", d.title))?);
        let mut chart = time_chart(&plot, "MiB/s acknowledged", x_max, y_max)?;
        let mut legend = Legend::default();
        shade_compactions(&mut chart, &mut legend, &d.compactions, y_max)?;
        let label = format!("MiB/s ({:.0} ms windows)", window_s * 1e3);
        series(&mut chart, &mut legend, r.iter().map(|p| (p.0, p.1)), label, series_style(0))?;
        legend.draw(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_use_whole_windows() {
        let acked = [(0.0, 0.0, 0.0), (0.5, 5.0, MIB), (1.0, 10.0, 2.0 * MIB), (2.0, 30.0, 6.0 * MIB)];
        assert_eq!(rates(&acked, 1.0), vec![(1.0, 2.0, 10.0), (2.0, 4.0, 20.0)]);
        assert_eq!(rates(&acked, 0.5).len(), 3);
    }
}

//! Ingest throughput over time: acknowledged (durable) MiB/s per window. The window is
//! 1 s for runs of a minute or more, shorter for short runs (down to 0.2 s) so that
//! even a smoke run shows a curve.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{headroom, legend, line, shade_compactions, time_chart, Chart, RunChartData, MIB, PALETTE};

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
        let mut chart =
            time_chart(root, format!("Durable ingest throughput — {}", d.title), "MiB/s acknowledged", x_max, y_max)?;
        shade_compactions(&mut chart, &d.compactions, y_max)?;
        line(
            &mut chart,
            r.iter().map(|p| (p.0, p.1)),
            &format!("MiB/s ({:.0} ms windows)", window_s * 1e3),
            PALETTE[0],
        )?;
        legend(&mut chart, SeriesLabelPosition::UpperRight)
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

//! Ingest throughput over time: acknowledged (durable) MiB/s per one-second window.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    de, headroom, legend, Chart, RunChartData, COMPACTION_SHADE, FONT, LABEL_SIZE, MIB, PALETTE,
    TITLE_SIZE,
};

pub struct ThroughputChart<'a>(pub &'a RunChartData);

/// (t_s at window end, MiB/s, blocks/s) over windows of at least one second.
pub fn rates(acked: &[(f64, f64, f64)]) -> Vec<(f64, f64, f64)> {
    let mut out = Vec::new();
    let mut start = match acked.first() {
        Some(&s) => s,
        None => return out,
    };
    for &p in acked {
        let dt = p.0 - start.0;
        if dt >= 1.0 {
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
        let r = rates(&d.acked);
        let x_max = d.acked.last().map_or(1.0, |a| a.0).max(1.0);
        let y_max = headroom(r.iter().map(|p| p.1).fold(0.0, f64::max));
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("Durable ingest throughput — {}", d.title),
                (FONT, TITLE_SIZE),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(de)?;
        chart
            .configure_mesh()
            .x_desc("time since node start (s)")
            .y_desc("MiB/s acknowledged")
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, LABEL_SIZE))
            .draw()
            .map_err(de)?;
        let shade = COMPACTION_SHADE.mix(0.3).filled();
        chart
            .draw_series(
                d.compactions
                    .iter()
                    .map(|&(a, b)| Rectangle::new([(a, 0.0), (b, y_max)], shade)),
            )
            .map_err(de)?
            .label("compaction running")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], shade));
        let color = PALETTE[0];
        chart
            .draw_series(LineSeries::new(
                r.iter().map(|p| (p.0, p.1)),
                color.stroke_width(2),
            ))
            .map_err(de)?
            .label("MiB/s (1 s windows)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_use_whole_windows() {
        let acked = [
            (0.0, 0.0, 0.0),
            (0.5, 5.0, MIB),
            (1.0, 10.0, 2.0 * MIB),
            (2.0, 30.0, 6.0 * MIB),
        ];
        assert_eq!(rates(&acked), vec![(1.0, 2.0, 10.0), (2.0, 4.0, 20.0)]);
    }
}

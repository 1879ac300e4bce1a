//! Live heap vs RSS: the gap between what the program holds (counting allocator) and
//! what the process occupies is allocator fragmentation and retention.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    de, headroom, legend, Chart, RunChartData, FONT, LABEL_SIZE, MIB, PALETTE, TITLE_SIZE,
};

pub struct HeapChart<'a>(pub &'a RunChartData);

/// (legend label, points in (s, MiB), colour)
type Line<'a> = (&'a str, Vec<(f64, f64)>, RGBColor);

impl Chart for HeapChart<'_> {
    fn file_stem(&self) -> &'static str {
        "heap_vs_rss"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let x_max = d.rss.last().map_or(1.0, |r| r.0).max(1.0);
        let y_max = headroom(
            d.rss
                .iter()
                .map(|r| r.2)
                .chain(d.heap.iter().map(|h| h.1))
                .chain(d.heap.iter().filter_map(|h| h.2))
                .fold(0.0, f64::max)
                / MIB,
        );
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("Live heap vs RSS — {}", d.title),
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
            .y_desc("MiB")
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, LABEL_SIZE))
            .draw()
            .map_err(de)?;
        let lines: [Line; 3] = [
            (
                "RssAnon (process)",
                d.rss.iter().map(|r| (r.0, r.2 / MIB)).collect(),
                PALETTE[0],
            ),
            (
                "allocator resident (allocator's own stats)",
                d.heap
                    .iter()
                    .filter_map(|h| Some((h.0, h.2? / MIB)))
                    .collect(),
                PALETTE[1],
            ),
            (
                "live heap (counting allocator)",
                d.heap.iter().map(|h| (h.0, h.1 / MIB)).collect(),
                PALETTE[2],
            ),
        ];
        for (name, points, color) in lines {
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(de)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

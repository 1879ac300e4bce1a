//! RSS over time: VmRSS with its anonymous and file-backed parts and the high-water
//! mark, compaction intervals shaded, writer-batch flushes ticked along the bottom.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    de, headroom, legend, Chart, RunChartData, COMPACTION_SHADE, FONT, LABEL_SIZE, MIB, PALETTE,
    TITLE_SIZE,
};

pub struct RssChart<'a>(pub &'a RunChartData);

impl Chart for RssChart<'_> {
    fn file_stem(&self) -> &'static str {
        "rss"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let x_max = headroom(d.rss.last().map_or(0.0, |r| r.0)) / 1.1;
        let y_max = headroom(d.rss.iter().map(|r| r.4.max(r.1)).fold(0.0, f64::max) / MIB);
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("Node RSS over time — {}", d.title),
                (FONT, TITLE_SIZE),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max.max(1.0), 0f64..y_max)
            .map_err(de)?;
        chart
            .configure_mesh()
            .x_desc("time since node start (s)")
            .y_desc("MiB")
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
        let tick = y_max * 0.02;
        chart
            .draw_series(
                d.flushes
                    .iter()
                    .map(|&t| PathElement::new(vec![(t, 0.0), (t, tick)], BLACK.mix(0.5))),
            )
            .map_err(de)?
            .label("writer batch flushed")
            .legend(|(x, y)| {
                PathElement::new(vec![(x + 9, y - 5), (x + 9, y + 5)], BLACK.mix(0.5))
            });
        type Pick = fn(&(f64, f64, f64, f64, f64)) -> f64;
        let series: [(&str, Pick, RGBColor); 4] = [
            ("VmRSS (total)", |r| r.1, PALETTE[0]),
            ("RssAnon (heap, stacks)", |r| r.2, PALETTE[2]),
            ("RssFile (mapped files)", |r| r.3, PALETTE[4]),
            ("VmHWM (peak so far)", |r| r.4, PALETTE[3]),
        ];
        for (name, pick, color) in series {
            chart
                .draw_series(LineSeries::new(
                    d.rss.iter().map(|r| (r.0, pick(r) / MIB)),
                    color.stroke_width(2),
                ))
                .map_err(de)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

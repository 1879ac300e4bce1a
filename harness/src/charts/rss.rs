//! RSS over time: VmRSS with its anonymous and file-backed parts and the high-water
//! mark, compaction intervals shaded, writer-batch flushes ticked along the bottom.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{de, headroom, legend, line, shade_compactions, time_chart, Chart, RunChartData, MIB, PALETTE};

pub struct RssChart<'a>(pub &'a RunChartData);

impl Chart for RssChart<'_> {
    fn file_stem(&self) -> &'static str {
        "rss"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let x_max = d.rss.last().map_or(0.0, |r| r.0);
        let y_max = headroom(d.rss.iter().map(|r| r.4.max(r.1)).fold(0.0, f64::max) / MIB);
        let mut chart = time_chart(root, format!("Node RSS over time — {}", d.title), "MiB", x_max, y_max)?;
        shade_compactions(&mut chart, &d.compactions, y_max)?;
        let tick = y_max * 0.02;
        chart
            .draw_series(d.flushes.iter().map(|&t| PathElement::new(vec![(t, 0.0), (t, tick)], BLACK.mix(0.5))))
            .map_err(de)?
            .label("writer batch flushed")
            .legend(|(x, y)| PathElement::new(vec![(x + 9, y - 5), (x + 9, y + 5)], BLACK.mix(0.5)));
        type Pick = fn(&(f64, f64, f64, f64, f64)) -> f64;
        let series: [(&str, Pick, RGBColor); 4] = [
            ("VmRSS (total)", |r| r.1, PALETTE[0]),
            ("RssAnon (heap, stacks)", |r| r.2, PALETTE[2]),
            ("RssFile (mapped files)", |r| r.3, PALETTE[4]),
            ("VmHWM (peak so far)", |r| r.4, PALETTE[3]),
        ];
        for (name, pick, color) in series {
            line(&mut chart, d.rss.iter().map(|r| (r.0, pick(r) / MIB)), name, color)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

//! RSS over time: VmRSS with its anonymous and file-backed parts and the high-water
//! mark, compaction intervals shaded, writer-batch flushes ticked along the bottom.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{Mark, PALETTE};
use super::{
    de, headroom, series, shade_compactions, time_chart, titled, with_legend, Chart, Legend, RunChartData, MIB,
};

pub struct RssChart<'a>(pub &'a RunChartData);

impl Chart for RssChart<'_> {
    fn file_stem(&self) -> &'static str {
        "rss"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let (plot, key) = with_legend(&titled(root, &format!("Node RSS over time — {}", d.title))?);
        let x_max = d.rss.last().map_or(0.0, |r| r.0);
        let y_max = headroom(d.rss.iter().map(|r| r.4.max(r.1)).fold(0.0, f64::max) / MIB);
        let mut chart = time_chart(&plot, "MiB", x_max, y_max)?;
        let mut legend = Legend::default();
        shade_compactions(&mut chart, &mut legend, &d.compactions, y_max)?;
        let tick = y_max * 0.02;
        if !d.engine_flushes.is_empty() {
            // Above the writer-batch ticks (which a long run draws as a solid strip),
            // opaque enough to show through the compaction shading.
            let shade = PALETTE[3].mix(0.6);
            let band = |&(a, b): &(f64, f64)| Rectangle::new([(a, tick * 1.5), (b, tick * 4.0)], shade.filled());
            chart.draw_series(d.engine_flushes.iter().map(band)).map_err(de)?;
            legend.add("RocksDB memtable flush running (band above the ticks)", Mark::Area(shade));
        }
        chart
            .draw_series(d.flushes.iter().map(|&t| PathElement::new(vec![(t, 0.0), (t, tick)], BLACK.mix(0.5))))
            .map_err(de)?;
        if !d.flushes.is_empty() {
            legend.add("writer batch flushed", Mark::Tick);
        }
        type Pick = fn(&(f64, f64, f64, f64, f64)) -> f64;
        let lines: [(&str, Pick, usize); 4] = [
            ("VmRSS (total)", |r| r.1, 0),
            ("RssAnon (heap, stacks)", |r| r.2, 2),
            ("RssFile (mapped files)", |r| r.3, 4),
            ("VmHWM (peak so far)", |r| r.4, 1),
        ];
        for (name, pick, colour) in lines {
            let style = super::style::SeriesStyle { color: PALETTE[colour], ..super::series_style(0) };
            series(&mut chart, &mut legend, d.rss.iter().map(|r| (r.0, pick(r) / MIB)), name, style)?;
        }
        legend.draw(&key)
    }
}

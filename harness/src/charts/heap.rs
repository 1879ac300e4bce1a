//! Live heap vs RSS: the gap between what the program holds (counting allocator) and
//! what the process occupies is allocator fragmentation and retention.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{headroom, series, series_style, time_chart, titled, with_legend, Chart, Legend, RunChartData, MIB};

pub struct HeapChart<'a>(pub &'a RunChartData);

impl Chart for HeapChart<'_> {
    fn file_stem(&self) -> &'static str {
        "heap_vs_rss"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let (plot, key) = with_legend(&titled(root, &format!("Live heap vs RSS — {}", d.title))?);
        let x_max = d.rss.last().map_or(0.0, |r| r.0);
        let resident = || d.heap.iter().filter_map(|h| Some((h.0, h.2?)));
        let y_max = headroom(
            d.rss
                .iter()
                .map(|r| r.2)
                .chain(d.heap.iter().map(|h| h.1))
                .chain(resident().map(|p| p.1))
                .chain(d.engine.iter().map(|e| e.1))
                .fold(0.0, f64::max)
                / MIB,
        );
        let mut chart = time_chart(&plot, "MiB", x_max, y_max)?;
        let mut legend = Legend::default();
        series(&mut chart, &mut legend, d.rss.iter().map(|r| (r.0, r.2 / MIB)), "RssAnon (process)", series_style(0))?;
        if resident().next().is_some() {
            let label = "allocator resident (allocator's own stats)";
            series(&mut chart, &mut legend, resident().map(|(t, v)| (t, v / MIB)), label, series_style(1))?;
        }
        let heap = d.heap.iter().map(|h| (h.0, h.1 / MIB));
        series(&mut chart, &mut legend, heap, "live heap (counting allocator)", series_style(2))?;
        if !d.engine.is_empty() {
            let engine = d.engine.iter().map(|e| (e.0, e.1 / MIB));
            let label = "RocksDB accounted (memtables + block cache + table readers)";
            series(&mut chart, &mut legend, engine, label, series_style(3))?;
        }
        legend.draw(&key)
    }
}

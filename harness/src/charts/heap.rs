//! Live heap vs RSS: the gap between what the program holds (counting allocator) and
//! what the process occupies is allocator fragmentation and retention.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{headroom, legend, line, time_chart, Chart, RunChartData, MIB, PALETTE};

pub struct HeapChart<'a>(pub &'a RunChartData);

impl Chart for HeapChart<'_> {
    fn file_stem(&self) -> &'static str {
        "heap_vs_rss"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let x_max = d.rss.last().map_or(0.0, |r| r.0);
        let resident = || d.heap.iter().filter_map(|h| Some((h.0, h.2?)));
        let y_max = headroom(
            d.rss
                .iter()
                .map(|r| r.2)
                .chain(d.heap.iter().map(|h| h.1))
                .chain(resident().map(|p| p.1))
                .fold(0.0, f64::max)
                / MIB,
        );
        let mut chart = time_chart(root, format!("Live heap vs RSS — {}", d.title), "MiB", x_max, y_max)?;
        line(&mut chart, d.rss.iter().map(|r| (r.0, r.2 / MIB)), "RssAnon (process)", PALETTE[0])?;
        if resident().next().is_some() {
            line(
                &mut chart,
                resident().map(|(t, v)| (t, v / MIB)),
                "allocator resident (allocator's own stats)",
                PALETTE[1],
            )?;
        }
        line(&mut chart, d.heap.iter().map(|h| (h.0, h.1 / MIB)), "live heap (counting allocator)", PALETTE[2])?;
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

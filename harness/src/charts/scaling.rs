//! `scaling`: peak RSS and peak live heap against shard size, one colour per
//! configuration (a suite's cell without its `_shard<N>` suffix), medians over the
//! repetitions. Drawn only for suites with at least two shard sizes: the "how cost
//! grows as work grows" picture.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{de, headroom, legend, line, series_color, CellRuns, Chart, FONT, LABEL_SIZE, MIB, TITLE_SIZE};
use crate::stats::median;

/// One configuration's medians per shard size: (shard size, RSS MiB, heap MiB).
pub struct ScalingSeries {
    pub config: String,
    pub points: Vec<(f64, f64, Option<f64>)>,
}

/// Groups cells by configuration; `None` unless there are ≥ 2 shard sizes.
pub fn series(cells: &[CellRuns]) -> Option<Vec<ScalingSeries>> {
    let mut out: Vec<ScalingSeries> = Vec::new();
    let mut sizes: Vec<u64> = Vec::new();
    for c in cells.iter().filter(|c| !c.runs.is_empty()) {
        let size = c.runs[0].config.workload.shard_size;
        let config = strip_shard_suffix(&c.cell).to_owned();
        let rss = median(&c.runs.iter().map(|r| r.summary.rss_peak_bytes as f64).collect::<Vec<_>>());
        let heaps: Vec<f64> = c.runs.iter().filter_map(|r| Some(r.summary.heap_live_peak_bytes? as f64)).collect();
        let heap = (!heaps.is_empty()).then(|| median(&heaps) / MIB);
        if !sizes.contains(&size) {
            sizes.push(size);
        }
        let point = (size as f64, rss / MIB, heap);
        match out.iter_mut().find(|s| s.config == config) {
            Some(s) => s.points.push(point),
            None => out.push(ScalingSeries { config, points: vec![point] }),
        }
    }
    out.iter_mut().for_each(|s| s.points.sort_by(|a, b| a.0.total_cmp(&b.0)));
    (sizes.len() >= 2).then_some(out)
}

/// `jemalloc_streaming_cc1_shard500` → `jemalloc_streaming_cc1`.
pub fn strip_shard_suffix(cell: &str) -> &str {
    match cell.rsplit_once("_shard") {
        Some((head, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => cell,
    }
}

pub struct Scaling<'a> {
    pub series: &'a [ScalingSeries],
    pub subtitle: &'a str,
}

impl Chart for Scaling<'_> {
    fn file_stem(&self) -> &'static str {
        "scaling"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let points = || self.series.iter().flat_map(|s| s.points.iter());
        let x_max = headroom(points().map(|p| p.0).fold(0.0, f64::max));
        let y_max =
            headroom(points().map(|p| p.1.max(p.2.unwrap_or(0.0))).filter(|v| v.is_finite()).fold(0.0, f64::max));
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("Peak RSS (thick) and peak live heap (thin) vs shard size, medians — {}", self.subtitle),
                (FONT, TITLE_SIZE),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(de)?;
        chart
            .configure_mesh()
            .x_desc("shard size (blocks)")
            .y_desc("MiB")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, LABEL_SIZE))
            .draw()
            .map_err(de)?;
        for (i, s) in self.series.iter().enumerate() {
            let c = series_color(i);
            line(&mut chart, s.points.iter().map(|p| (p.0, p.1)), &format!("{}: peak RSS", s.config), c)?;
            chart.draw_series(s.points.iter().map(|p| Circle::new((p.0, p.1), 4, c.filled()))).map_err(de)?;
            let heap: Vec<(f64, f64)> = s.points.iter().filter_map(|p| Some((p.0, p.2?))).collect();
            chart
                .draw_series(LineSeries::new(heap, c.stroke_width(1)))
                .map_err(de)?
                .label(format!("{}: peak live heap", s.config))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(1)));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

#[cfg(test)]
mod tests {
    use super::strip_shard_suffix;

    #[test]
    fn shard_suffix_is_stripped_only_when_numeric() {
        assert_eq!(strip_shard_suffix("jemalloc_buffered_cc2_shard2000"), "jemalloc_buffered_cc2");
        assert_eq!(strip_shard_suffix("jemalloc_buffered_cc2"), "jemalloc_buffered_cc2");
        assert_eq!(strip_shard_suffix("x_shardy"), "x_shardy");
    }
}

//! `scaling`: peak RSS and peak live heap against shard size, one colour per
//! configuration (a suite's cell without its `_shard<N>` suffix), medians over the
//! repetitions. Drawn only for suites with at least two shard sizes: the "how cost
//! grows as work grows" picture.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{line, series as draw_series, Mark};
use super::style::{linear_chart, WIDTH};
use super::{de, headroom, series_style, titled, with_legend, CellRuns, Chart, Legend, MIB};
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

impl Scaling<'_> {
    /// The series split by compaction mode (buffered peaks dwarf streaming ones: on one
    /// axis the streaming lines would overlap at the bottom), in order of appearance.
    fn panels(&self) -> Vec<(&'static str, Vec<(usize, &ScalingSeries)>)> {
        let mut out: Vec<(&'static str, Vec<(usize, &ScalingSeries)>)> = Vec::new();
        for (i, s) in self.series.iter().enumerate() {
            let mode = ["buffered", "streaming"].into_iter().find(|m| s.config.contains(m)).unwrap_or("other");
            match out.iter_mut().find(|p| p.0 == mode) {
                Some(p) => p.1.push((i, s)),
                None => out.push((mode, vec![(i, s)])),
            }
        }
        out
    }
}

impl Chart for Scaling<'_> {
    fn file_stem(&self) -> &'static str {
        "scaling"
    }

    fn size(&self) -> (u32, u32) {
        (WIDTH, 60 + 330 * self.panels().len().max(1) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let title = format!(
            "Peak RSS (thick) and peak live heap (thin) vs shard size, medians, per compaction mode — {}",
            self.subtitle
        );
        let panels = self.panels();
        let x_max = headroom(self.series.iter().flat_map(|s| s.points.iter()).map(|p| p.0).fold(0.0, f64::max));
        let areas = titled(root, &title)?.split_evenly((panels.len().max(1), 1));
        for (area, (mode, list)) in areas.iter().zip(&panels) {
            draw_panel(area, mode, list, x_max)?;
        }
        Ok(())
    }
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    mode: &str,
    list: &[(usize, &ScalingSeries)],
    x_max: f64,
) -> Result<()> {
    let (plot, key) = with_legend(area);
    let values = list.iter().flat_map(|(_, s)| s.points.iter()).map(|p| p.1.max(p.2.unwrap_or(0.0)));
    let y_max = headroom(values.filter(|v| v.is_finite()).fold(0.0, f64::max));
    let mut chart = linear_chart(&plot, "shard size (blocks)", &format!("{mode}: MiB"), x_max, y_max)?;
    let mut legend = Legend::default();
    let grey = series_style(7);
    legend.add("thick, dots: peak RSS", Mark::Line(grey));
    legend.add("thin: peak live heap", Mark::Line(grey.thin()));
    for (i, s) in list {
        let style = series_style(*i);
        draw_series(&mut chart, &mut legend, s.points.iter().map(|p| (p.0, p.1)), s.config.as_str(), style)?;
        chart.draw_series(s.points.iter().map(|p| Circle::new((p.0, p.1), 4, style.color.filled()))).map_err(de)?;
        let heap: Vec<(f64, f64)> = s.points.iter().filter_map(|p| Some((p.0, p.2?))).collect();
        line(&mut chart, heap, style.thin())?;
    }
    legend.draw(&key)
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

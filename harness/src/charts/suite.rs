//! Charts of a suite (matrix): one line or row per cell.
//!
//! - `rss_overlay`: RSS over time, the median repetition of each cell, with a band from
//!   the lowest to the highest repetition at each moment.
//! - `rss_peak`, `throughput`: the median per cell with its 95 % bootstrap interval.
//! - `latency`: ingest latency by percentile, median repetition of each cell.
//! - `heap_vs_rss`: per allocator, RSS (solid) vs live heap (thin) of its first cell's
//!   median repetition: the fragmentation picture.
//! - `scaling` (suites with several shard sizes): see [`super::scaling`].

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    de, headroom, legend, line, render, series_color, time_chart, CellRuns, Chart, FONT, LABEL_SIZE, MIB, TITLE_SIZE,
};
use crate::results::load::RunFiles;

/// (cell, median, ci low, ci high) for the whisker charts.
pub type Interval = (String, f64, f64, f64);

pub struct SuiteChartData {
    /// `<workload> · <host(s)>`.
    pub subtitle: String,
    pub cells: Vec<CellRuns>,
    pub rss_peak_mib: Vec<Interval>,
    pub throughput_mib_s: Vec<Interval>,
}

pub fn render_suite(data: &SuiteChartData, dir: &std::path::Path, png: bool) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    render(&RssOverlay(data), dir, png)?;
    render(
        &Whiskers {
            stem: "rss_peak",
            title: "Peak RSS (VmHWM) per cell",
            unit: "MiB",
            rows: &data.rss_peak_mib,
            sub: &data.subtitle,
        },
        dir,
        png,
    )?;
    render(
        &Whiskers {
            stem: "throughput",
            title: "Throughput per cell",
            unit: "MiB/s",
            rows: &data.throughput_mib_s,
            sub: &data.subtitle,
        },
        dir,
        png,
    )?;
    render(&LatencyOverlay(data), dir, png)?;
    render(&HeapByAllocator(data), dir, png)?;
    if let Some(series) = super::scaling::series(&data.cells) {
        render(&super::scaling::Scaling { series: &series, subtitle: &data.subtitle }, dir, png)?;
    }
    Ok(())
}

struct RssOverlay<'a>(&'a SuiteChartData);

/// Points of a band sampled on `grid`: (t, min, max) over the runs still going at t.
fn band(runs: &[RunFiles], grid: &[f64]) -> Vec<(f64, f64, f64)> {
    grid.iter()
        .filter_map(|&t| {
            let at: Vec<f64> = runs
                .iter()
                .filter(|r| r.samples.last().is_some_and(|s| s.t_s >= t))
                .filter_map(|r| r.samples.iter().take_while(|s| s.t_s <= t).last().map(|s| s.rss / MIB))
                .collect();
            (!at.is_empty())
                .then(|| (t, at.iter().copied().fold(f64::MAX, f64::min), at.iter().copied().fold(0.0, f64::max)))
        })
        .collect()
}

impl Chart for RssOverlay<'_> {
    fn file_stem(&self) -> &'static str {
        "rss_overlay"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let all = || d.cells.iter().flat_map(|c| c.runs.iter()).flat_map(|r| r.samples.iter());
        let x_max = all().map(|s| s.t_s).fold(0.0, f64::max);
        let y_max = headroom(all().map(|s| s.rss / MIB).fold(0.0, f64::max));
        let title = format!("RSS over time, median repetition, band = min–max — {}", d.subtitle);
        let mut chart = time_chart(root, title, "MiB", x_max, y_max)?;
        let grid: Vec<f64> = (0..=200).map(|i| x_max * f64::from(i) / 200.0).collect();
        for (i, c) in d.cells.iter().enumerate() {
            let b = band(&c.runs, &grid);
            if c.runs.len() > 1 && !b.is_empty() {
                let outline: Vec<(f64, f64)> =
                    b.iter().map(|p| (p.0, p.2)).chain(b.iter().rev().map(|p| (p.0, p.1))).collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(outline, series_color(i).mix(0.15).filled())))
                    .map_err(de)?;
            }
            if let Some(m) = c.median_run() {
                line(&mut chart, m.samples.iter().map(|s| (s.t_s, s.rss / MIB)), &c.cell, series_color(i))?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

struct Whiskers<'a> {
    stem: &'static str,
    title: &'static str,
    unit: &'static str,
    rows: &'a [Interval],
    sub: &'a str,
}

impl Chart for Whiskers<'_> {
    fn file_stem(&self) -> &'static str {
        self.stem
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let n = self.rows.len();
        let x_max = headroom(self.rows.iter().map(|r| r.3.max(r.1)).filter(|v| v.is_finite()).fold(0.0, f64::max));
        let names: Vec<String> = self.rows.iter().map(|r| r.0.clone()).collect();
        let label = move |y: &f64| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let mut chart = ChartBuilder::on(root)
            .caption(format!("{} (median, 95 % CI) — {}", self.title, self.sub), (FONT, TITLE_SIZE))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(260)
            .build_cartesian_2d(0f64..x_max, -0.5f64..(n as f64 - 0.5))
            .map_err(de)?;
        chart
            .configure_mesh()
            .x_desc(self.unit)
            .y_labels(n.max(1) * 2 + 1)
            .y_label_formatter(&label)
            .disable_y_mesh()
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, LABEL_SIZE))
            .draw()
            .map_err(de)?;
        for (i, (_, median, lo, hi)) in self.rows.iter().enumerate() {
            let (y, c) = (i as f64, series_color(i));
            if lo.is_finite() && hi.is_finite() {
                let whisker = vec![(*lo, y), (*hi, y)];
                chart.draw_series(std::iter::once(PathElement::new(whisker, c.stroke_width(2)))).map_err(de)?;
                for x in [*lo, *hi] {
                    let cap = vec![(x, y - 0.15), (x, y + 0.15)];
                    chart.draw_series(std::iter::once(PathElement::new(cap, c.stroke_width(2)))).map_err(de)?;
                }
            }
            if median.is_finite() {
                chart.draw_series(std::iter::once(Circle::new((*median, y), 5, c.filled()))).map_err(de)?;
            }
        }
        Ok(())
    }
}

struct LatencyOverlay<'a>(&'a SuiteChartData);

impl Chart for LatencyOverlay<'_> {
    fn file_stem(&self) -> &'static str {
        "latency"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let series: Vec<(&str, Vec<(f64, f64)>)> = d
            .cells
            .iter()
            .filter_map(|c| {
                let m = c.median_run()?;
                let rows = &m.latency.iter().find(|(n, _)| n == "ingest")?.1;
                Some((c.cell.as_str(), super::latency::spectrum(rows)))
            })
            .collect();
        let title = format!("Ingest latency by percentile, median repetition — {}", d.subtitle);
        super::latency::draw_spectrum(root, title, &series)
    }
}

struct HeapByAllocator<'a>(&'a SuiteChartData);

impl Chart for HeapByAllocator<'_> {
    fn file_stem(&self) -> &'static str {
        "heap_vs_rss"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let mut seen: Vec<crate::allocator::Allocator> = Vec::new();
        let picks: Vec<(&str, &RunFiles)> = d
            .cells
            .iter()
            .filter_map(|c| {
                let m = c.median_run()?;
                let alloc = m.config.node.alloc;
                (!seen.contains(&alloc)).then(|| {
                    seen.push(alloc);
                    (c.cell.as_str(), m)
                })
            })
            .collect();
        let x_max = picks.iter().flat_map(|p| p.1.samples.iter()).map(|s| s.t_s).fold(0.0, f64::max);
        let y_max = headroom(
            picks
                .iter()
                .flat_map(|p| p.1.samples.iter())
                .map(|s| s.rss.max(s.heap_live.unwrap_or(0.0)) / MIB)
                .fold(0.0, f64::max),
        );
        let title = format!("RSS (thick) vs live heap (thin) per allocator — {}", d.subtitle);
        let mut chart = time_chart(root, title, "MiB", x_max, y_max)?;
        for (i, (cell, run)) in picks.iter().enumerate() {
            let c = series_color(i);
            line(&mut chart, run.samples.iter().map(|s| (s.t_s, s.rss / MIB)), &format!("{cell}: RSS"), c)?;
            let heap = run.samples.iter().filter_map(|s| Some((s.t_s, s.heap_live? / MIB)));
            chart
                .draw_series(LineSeries::new(heap, c.stroke_width(1)))
                .map_err(de)?
                .label(format!("{cell}: live heap"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(1)));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

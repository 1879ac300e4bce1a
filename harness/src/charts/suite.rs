//! Charts of a suite (matrix): one line or row per cell.
//!
//! - `rss_overlay`: RSS over time, the median repetition of each cell, with a band from
//!   the lowest to the highest repetition at each moment. Beyond [`MAX_OVERLAID`] cells,
//!   small multiples: one panel per allocator, axes shared.
//! - `rss_peak`, `throughput`: the geometric mean per cell with its 95 % t interval on logs
//!   (with fewer than 3 runs the bar is the range, and the chart says so); the axis
//!   spans the data, not 0, so differences are visible.
//! - `latency`: ingest latency by percentile, median repetition of each cell (small
//!   multiples as `rss_overlay`).
//! - `heap_vs_rss`: per allocator, RSS (thick) vs live heap (thin) of its first cell's
//!   median repetition: the fragmentation picture; in a RocksDB suite also the engine's
//!   own account (dotted), and the `--engine-malloc system` control as its own line.
//! - `scaling` (suites with several shard sizes): see [`super::scaling`].

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{tick, Dash, Mark, SeriesStyle, WIDTH};
use super::{
    de, headroom, render, series, series_style, time_chart, titled, with_legend, CellRuns, Chart, Legend, FONT,
    LABEL_SIZE, MIB,
};
use crate::results::load::RunFiles;

/// Most cells drawn into one panel; more are split into one panel per allocator.
pub const MAX_OVERLAID: usize = 6;
/// Height of one small-multiple panel.
const PANEL_HEIGHT: u32 = 330;

/// A cell's centre over its runs (geometric mean) and the interval around it.
#[derive(Debug, Clone)]
pub struct Interval {
    pub cell: String,
    pub median: f64,
    pub lo: f64,
    pub hi: f64,
    /// Runs behind it: with fewer than 3 the "interval" is their range.
    pub n: usize,
}

pub struct SuiteChartData {
    /// `<workload> · <host(s)>`.
    pub subtitle: String,
    pub cells: Vec<CellRuns>,
    pub rss_peak_mib: Vec<Interval>,
    pub throughput_mib_s: Vec<Interval>,
}

pub fn render_suite(data: &SuiteChartData, dir: &std::path::Path, png: bool) -> Result<()> {
    crate::util::fsx::real_dir(dir)?;
    render(&RssOverlay(data), dir, png)?;
    let (sub, peak, tput) = (&data.subtitle, &data.rss_peak_mib, &data.throughput_mib_s);
    render(&Whiskers { stem: "rss_peak", title: "Peak RSS (VmHWM) per cell", unit: "MiB", rows: peak, sub }, dir, png)?;
    render(&Whiskers { stem: "throughput", title: "Throughput per cell", unit: "MiB/s", rows: tput, sub }, dir, png)?;
    render(&LatencyOverlay(data), dir, png)?;
    render(&HeapByAllocator(data), dir, png)?;
    if let Some(series) = super::scaling::series(&data.cells) {
        render(&super::scaling::Scaling { series: &series, subtitle: &data.subtitle }, dir, png)?;
    }
    Ok(())
}

/// The cells in panels: one panel with every cell, or (beyond [`MAX_OVERLAID`]) one
/// per allocator, in order of first appearance. Each cell keeps its index.
fn panels(cells: &[CellRuns]) -> Vec<(String, Vec<(usize, &CellRuns)>)> {
    let all: Vec<(usize, &CellRuns)> = cells.iter().enumerate().collect();
    if cells.len() <= MAX_OVERLAID {
        return vec![(String::new(), all)];
    }
    let mut out: Vec<(String, Vec<(usize, &CellRuns)>)> = Vec::new();
    for (i, c) in all {
        let alloc = c.runs.first().map_or_else(|| "?".to_owned(), |r| r.config.node.alloc.to_string());
        match out.iter_mut().find(|p| p.0 == alloc) {
            Some(p) => p.1.push((i, c)),
            None => out.push((alloc, vec![(i, c)])),
        }
    }
    out
}

/// Canvas size for `n` panels.
fn panel_size(n: usize) -> (u32, u32) {
    if n <= 1 {
        (WIDTH, super::style::HEIGHT)
    } else {
        (WIDTH, 60 + PANEL_HEIGHT * n as u32)
    }
}

/// The areas of `n` stacked panels below the title.
fn stack<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, n: usize) -> Vec<DrawingArea<DB, Shift>> {
    area.split_evenly((n.max(1), 1))
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

    fn size(&self) -> (u32, u32) {
        panel_size(panels(&self.0.cells).len())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let all = || d.cells.iter().flat_map(|c| c.runs.iter()).flat_map(|r| r.samples.iter());
        let x_max = all().map(|s| s.t_s).fold(0.0, f64::max);
        let y_max = headroom(all().map(|s| s.rss / MIB).fold(0.0, f64::max));
        let title = format!("RSS over time, median repetition, band = min–max — {}", d.subtitle);
        let groups = panels(&d.cells);
        for (area, (name, cells)) in stack(&titled(root, &title)?, groups.len()).iter().zip(&groups) {
            let (plot, key) = with_legend(area);
            let mut chart = time_chart(&plot, &panel_axis("MiB", name), x_max, y_max)?;
            let mut legend = Legend::default();
            let grid: Vec<f64> = (0..=200).map(|i| x_max * f64::from(i) / 200.0).collect();
            // Colours restart in each panel: the same position (e.g. streaming cc1)
            // has the same colour under every allocator.
            for (k, (_, c)) in cells.iter().enumerate() {
                let style = series_style(k);
                let b = band(&c.runs, &grid);
                if c.runs.len() > 1 && !b.is_empty() {
                    let outline: Vec<(f64, f64)> =
                        b.iter().map(|p| (p.0, p.2)).chain(b.iter().rev().map(|p| (p.0, p.1))).collect();
                    let fill = style.color.mix(0.15).filled();
                    chart.draw_series(std::iter::once(Polygon::new(outline, fill))).map_err(de)?;
                }
                if let Some(m) = c.median_run() {
                    series(&mut chart, &mut legend, m.samples.iter().map(|s| (s.t_s, s.rss / MIB)), &c.cell, style)?;
                }
            }
            legend.draw(&key)?;
        }
        Ok(())
    }
}

/// A panel's y-axis description: the unit, and the panel's allocator when split.
fn panel_axis(unit: &str, panel: &str) -> String {
    if panel.is_empty() {
        unit.to_owned()
    } else {
        format!("{panel}: {unit}")
    }
}

struct Whiskers<'a> {
    stem: &'static str,
    title: &'static str,
    unit: &'static str,
    rows: &'a [Interval],
    sub: &'a str,
}

impl Whiskers<'_> {
    /// The value axis: the data's span with a margin, not from 0 (the differences
    /// between cells are the point; the axis labels say where it starts).
    fn range(&self) -> (f64, f64) {
        let values = self.rows.iter().flat_map(|r| [r.lo, r.hi, r.median]).filter(|v| v.is_finite());
        let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if lo > hi {
            return (0.0, 1.0);
        }
        let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.02).max(1e-6);
        ((lo - pad).max(0.0), hi + pad)
    }

    /// Row labels: the cell and how many runs its bar stands on.
    fn row_label(r: &Interval) -> String {
        match r.n {
            n if n < 3 => format!("{} (n={n}: range)", r.cell),
            n => format!("{} (n={n})", r.cell),
        }
    }
}

impl Chart for Whiskers<'_> {
    fn file_stem(&self) -> &'static str {
        self.stem
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let n = self.rows.len();
        let few = self.rows.iter().any(|r| r.n < 3);
        let what = if few { "95 % t interval on logs; n < 3: min–max" } else { "95 % t interval on logs" };
        let title = format!("{} (geometric mean, {what}) — {}", self.title, self.sub);
        let (plot, key) = with_legend(&titled(root, &title)?);
        let (lo, hi) = self.range();
        let labels: Vec<String> = self.rows.iter().map(Self::row_label).collect();
        let label = move |y: &f64| {
            let i = y.round();
            let on_row = (y - i).abs() < 1e-6 && i >= 0.0;
            on_row.then(|| labels.get(i as usize).cloned()).flatten().unwrap_or_default()
        };
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(40)
            .y_label_area_size(320)
            .build_cartesian_2d(lo..hi, -0.5f64..(n as f64 - 0.5))
            .map_err(de)?;
        chart
            .configure_mesh()
            .x_desc(if lo > 0.0 {
                format!("{} (axis from {}, not 0)", self.unit, tick(lo, hi - lo))
            } else {
                self.unit.to_owned()
            })
            .x_label_formatter(&|x| tick(*x, hi - lo))
            .y_labels(n.max(1) * 2 + 1)
            .y_label_formatter(&label)
            .disable_y_mesh()
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, LABEL_SIZE))
            .draw()
            .map_err(de)?;
        for (i, r) in self.rows.iter().enumerate() {
            draw_whisker(&mut chart, i, r)?;
        }
        let mut legend = Legend::default();
        legend.add("geometric mean of the cell's runs", Mark::Dot(series_style(7).color));
        legend.add(
            if few { "bar: 95 % t interval (n < 3: min–max)" } else { "bar: 95 % t interval on logs" },
            Mark::Tick,
        );
        legend.draw(&key)
    }
}

fn draw_whisker<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    i: usize,
    r: &Interval,
) -> Result<()> {
    let (y, c) = (i as f64, series_style(i).color);
    if r.lo.is_finite() && r.hi.is_finite() {
        let whisker = vec![(r.lo, y), (r.hi, y)];
        chart.draw_series(std::iter::once(PathElement::new(whisker, c.stroke_width(2)))).map_err(de)?;
        for x in [r.lo, r.hi] {
            let cap = vec![(x, y - 0.15), (x, y + 0.15)];
            chart.draw_series(std::iter::once(PathElement::new(cap, c.stroke_width(2)))).map_err(de)?;
        }
    }
    if r.median.is_finite() {
        chart.draw_series(std::iter::once(Circle::new((r.median, y), 5, c.filled()))).map_err(de)?;
    }
    Ok(())
}

struct LatencyOverlay<'a>(&'a SuiteChartData);

impl Chart for LatencyOverlay<'_> {
    fn file_stem(&self) -> &'static str {
        "latency"
    }

    fn size(&self) -> (u32, u32) {
        panel_size(panels(&self.0.cells).len())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let spectrum = |c: &CellRuns| -> Option<Vec<(f64, f64)>> {
            let rows = &c.median_run()?.latency.iter().find(|(n, _)| n == "ingest")?.1;
            Some(super::latency::spectrum(rows))
        };
        let every: Vec<(&str, Vec<(f64, f64)>)> =
            d.cells.iter().filter_map(|c| Some((c.cell.as_str(), spectrum(c)?))).collect();
        let shared = super::latency::latency_range(&every);
        let groups = panels(&d.cells);
        if groups.len() == 1 {
            let title = format!("Ingest latency by percentile, median repetition — {}", d.subtitle);
            return super::latency::draw_spectrum(root, &title, &every, Some(shared));
        }
        let title = format!("Ingest latency by percentile, median repetition, per allocator — {}", d.subtitle);
        for (area, (name, cells)) in stack(&titled(root, &title)?, groups.len()).iter().zip(&groups) {
            let list: Vec<(&str, Vec<(f64, f64)>)> =
                cells.iter().filter_map(|(_, c)| Some((c.cell.as_str(), spectrum(c)?))).collect();
            super::latency::draw_spectrum(area, name, &list, Some(shared))?;
        }
        Ok(())
    }
}

struct HeapByAllocator<'a>(&'a SuiteChartData);

/// The median repetition of the first cell of each allocator (and, in a RocksDB suite,
/// of each choice of who serves the engine's `malloc`, so the `--engine-malloc system`
/// control gets its own line): one picture per allocator, not one per arena setting.
fn heap_picks(cells: &[CellRuns]) -> Vec<(&str, &RunFiles)> {
    let mut seen = Vec::new();
    cells
        .iter()
        .filter_map(|c| {
            let m = c.median_run()?;
            let key = (m.config.node.alloc, m.config.node.engine_malloc);
            (!seen.contains(&key)).then(|| {
                seen.push(key);
                (c.cell.as_str(), m)
            })
        })
        .collect()
}

impl Chart for HeapByAllocator<'_> {
    fn file_stem(&self) -> &'static str {
        "heap_vs_rss"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let picks = heap_picks(&d.cells);
        let samples = || picks.iter().flat_map(|p| p.1.samples.iter());
        let engine = || picks.iter().flat_map(|p| p.1.engine.iter());
        let x_max = samples().map(|s| s.t_s).fold(0.0, f64::max);
        let y_max = headroom(
            samples().map(|s| s.rss.max(s.heap_live.unwrap_or(0.0))).chain(engine().map(|e| e.1)).fold(0.0, f64::max)
                / MIB,
        );
        let what =
            if engine().next().is_some() { "live heap (thin), RocksDB's account (dotted)" } else { "live heap (thin)" };
        let title = format!("RSS (thick) vs {what} — {}", d.subtitle);
        let (plot, key) = with_legend(&titled(root, &title)?);
        let mut chart = time_chart(&plot, "MiB", x_max, y_max)?;
        let mut legend = Legend::default();
        for (i, (cell, run)) in picks.iter().enumerate() {
            let style = series_style(i);
            let rss = run.samples.iter().map(|s| (s.t_s, s.rss / MIB));
            series(&mut chart, &mut legend, rss, format!("{cell}: RSS"), style)?;
            let heap = run.samples.iter().filter_map(|s| Some((s.t_s, s.heap_live? / MIB)));
            series(&mut chart, &mut legend, heap, format!("{cell}: live heap"), style.thin())?;
            if !run.engine.is_empty() {
                let engine = run.engine.iter().map(|e| (e.0, e.1 / MIB));
                let dotted = SeriesStyle { dash: Dash::Dotted, ..style.thin() };
                series(&mut chart, &mut legend, engine, format!("{cell}: RocksDB accounted"), dotted)?;
            }
        }
        legend.draw(&key)
    }
}

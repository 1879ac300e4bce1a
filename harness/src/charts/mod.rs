//! Charts of a run, as SVG (and PNG on request), drawn with plotters and an embedded
//! font so that no system font is needed.
//!
//! # Layout
//! - this module: the [`Chart`] trait, shared style, font registration, rendering,
//!   and [`RunChartData`] (everything a run's charts need, loadable from its files).
//! - one file per chart: [`rss`], [`heap`], [`throughput`], [`latency`]; suite charts in
//!   [`suite`] and [`scaling`].

mod heap;
mod latency;
mod rss;
pub mod scaling;
pub mod suite;
mod throughput;

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, Context, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::results::load::RunFiles;

pub const WIDTH: u32 = 1100;
pub const HEIGHT: u32 = 560;
pub const FONT: &str = "sans-serif";
pub const TITLE_SIZE: u32 = 20;
pub const LABEL_SIZE: u32 = 14;
/// Series colours, in order of use (colour-blind-safe Tableau 10 subset).
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
/// Colour of the i-th series: the palette first, then plotters' 99-colour palette.
pub fn series_color(i: usize) -> RGBColor {
    if let Some(&c) = PALETTE.get(i) {
        return c;
    }
    let (r, g, b) = Palette99::pick(i).rgb();
    RGBColor(r, g, b)
}

/// Background shading of compaction intervals.
pub const COMPACTION_SHADE: RGBColor = RGBColor(255, 190, 110);
pub use crate::units::MIB;

/// One chart: a file name and a drawing routine that works on any backend.
pub trait Chart {
    fn file_stem(&self) -> &'static str;
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;
}

/// Converts any plotters error into anyhow.
pub fn de<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

fn register_embedded_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    ok.then_some(()).ok_or_else(|| anyhow!("the embedded DejaVu font could not be registered"))
}

/// Draws `chart` to `<dir>/<stem>.svg`, and `.png` when asked.
pub fn render<C: Chart>(chart: &C, dir: &Path, png: bool) -> Result<()> {
    register_embedded_font()?;
    let svg = dir.join(format!("{}.svg", chart.file_stem()));
    {
        let root = SVGBackend::new(&svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(de)?;
        chart.draw(&root)?;
        root.present().map_err(de)?;
    }
    if png {
        let path = dir.join(format!("{}.png", chart.file_stem()));
        let root = BitMapBackend::new(&path, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(de)?;
        chart.draw(&root)?;
        root.present().map_err(de)?;
    }
    Ok(())
}

/// What a run's charts show, in chart units (seconds, bytes).
#[derive(Debug, Clone, Default)]
pub struct RunChartData {
    pub title: String,
    /// (t_s, rss, anon, file, hwm)
    pub rss: Vec<(f64, f64, f64, f64, f64)>,
    /// (t_s, heap live bytes, allocator-resident bytes if known)
    pub heap: Vec<(f64, f64, Option<f64>)>,
    /// (t_s, cumulative blocks acked, cumulative bytes acked)
    pub acked: Vec<(f64, f64, f64)>,
    /// (start_s, end_s)
    pub compactions: Vec<(f64, f64)>,
    pub flushes: Vec<f64>,
    /// (histogram name, [(quantile, value_us)])
    pub latency: Vec<(String, Vec<(f64, f64)>)>,
}

impl RunChartData {
    /// Everything from the run's files (see `results::load`).
    pub fn from_files(r: &RunFiles) -> RunChartData {
        RunChartData {
            title: r.title(),
            rss: r.samples.iter().map(|s| (s.t_s, s.rss, s.rss_anon, s.rss_file, s.hwm)).collect(),
            heap: r.samples.iter().filter_map(|s| Some((s.t_s, s.heap_live?, s.allocator_resident))).collect(),
            acked: r.samples.iter().map(|s| (s.t_s, s.blocks_acked, s.bytes_acked)).collect(),
            compactions: r.compactions.clone(),
            flushes: r.flushes.clone(),
            latency: r.latency.clone(),
        }
    }
}

/// The successful runs of one cell, in repetition order.
#[derive(Clone)]
pub struct CellRuns {
    pub cell: String,
    pub runs: Vec<RunFiles>,
}

impl CellRuns {
    /// The repetition whose peak RSS is the median (lower median for even counts).
    pub fn median_run(&self) -> Option<&RunFiles> {
        let mut by_peak: Vec<&RunFiles> = self.runs.iter().collect();
        by_peak.sort_by(|a, b| peak(a).total_cmp(&peak(b)).then_with(|| a.dir.cmp(&b.dir)));
        by_peak.get(by_peak.len().saturating_sub(1) / 2).copied()
    }
}

fn peak(r: &RunFiles) -> f64 {
    r.summary.rss_peak_bytes as f64
}

/// Renders every chart of a run into `dir`.
pub fn render_run(data: &RunChartData, dir: &Path, png: bool) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    render(&rss::RssChart(data), dir, png)?;
    render(&heap::HeapChart(data), dir, png)?;
    render(&throughput::ThroughputChart(data), dir, png)?;
    render(&latency::LatencyChart(data), dir, png)?;
    Ok(())
}

/// A chart over run time in the shared style (x: seconds, y: linear from 0).
pub type TimeChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Builds a [`TimeChart`] with caption, axes and mesh drawn.
pub fn time_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: String,
    y_desc: &str,
    x_max: f64,
    y_max: f64,
) -> Result<TimeChart<'a, DB>> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, TITLE_SIZE))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max.max(1.0), 0f64..y_max)
        .map_err(de)?;
    chart
        .configure_mesh()
        .x_desc("time since node start (s)")
        .y_desc(y_desc)
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(de)?;
    Ok(chart)
}

/// Shades each `(start_s, end_s)` compaction interval over the full height.
pub fn shade_compactions<'a, DB: DrawingBackend + 'a>(
    chart: &mut TimeChart<'a, DB>,
    spans: &[(f64, f64)],
    y_max: f64,
) -> Result<()> {
    let shade = COMPACTION_SHADE.mix(0.3).filled();
    chart
        .draw_series(spans.iter().map(|&(a, b)| Rectangle::new([(a, 0.0), (b, y_max)], shade)))
        .map_err(de)?
        .label("compaction running")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], shade));
    Ok(())
}

/// Draws one labelled line series in the shared width.
pub fn line<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    points: impl IntoIterator<Item = (f64, f64)>,
    label: &str,
    color: RGBColor,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    chart
        .draw_series(LineSeries::new(points, color.stroke_width(2)))
        .map_err(de)?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    Ok(())
}

/// Upper bound for an axis: the data's maximum plus headroom, never zero.
pub fn headroom(max: f64) -> f64 {
    if max > 0.0 && max.is_finite() {
        max * 1.1
    } else {
        1.0
    }
}

/// Draws the series legend in the shared style.
pub fn legend<'a, DB, X, Y>(chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>, pos: SeriesLabelPosition) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, LABEL_SIZE))
        .draw()
        .map_err(de)
}

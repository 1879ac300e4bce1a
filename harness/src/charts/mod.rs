//! Charts of a run, as SVG (and PNG on request), drawn with plotters and an embedded
//! font so that no system font is needed.
//!
//! # Layout
//! - this module: the [`Chart`] trait, font registration, rendering, and
//!   [`RunChartData`] (everything a run's charts need, loadable from its files).
//! - [`style`]: what every chart shares (palette, legend column, title, axes).
//! - one file per chart: [`rss`], [`heap`], [`allocator`], [`ratchet`], [`throughput`], [`latency`];
//!   suite charts in [`suite`] and [`scaling`].

mod allocator;
mod heap;
mod latency;
pub mod pareto;
pub mod power;
mod ratchet;
mod rss;
pub mod scaling;
pub mod style;
pub mod suite;
mod throughput;

#[cfg(test)]
mod layout_tests;

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::results::load::RunFiles;

pub use self::style::{headroom, series, series_style, shade_compactions, time_chart, titled, with_legend, Legend};
pub use self::style::{FONT, LABEL_SIZE};
pub use crate::units::MIB;

/// One chart: a file name and a drawing routine that works on any backend.
pub trait Chart {
    fn file_stem(&self) -> &'static str;
    /// Canvas size in pixels (small multiples are taller).
    fn size(&self) -> (u32, u32) {
        (style::WIDTH, style::HEIGHT)
    }
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

/// Draws `chart` to `<dir>/<stem>.svg`, and `.png` when asked; each file written
/// atomically and never through a symlink (`util::fsx`).
pub fn render<C: Chart>(chart: &C, dir: &Path, png: bool) -> Result<()> {
    register_embedded_font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, chart.size()).into_drawing_area();
        root.fill(&WHITE).map_err(de)?;
        chart.draw(&root)?;
        root.present().map_err(de)?;
    }
    crate::util::fsx::write_atomic(&dir.join(format!("{}.svg", chart.file_stem())), svg.as_bytes())?;
    if png {
        let path = dir.join(format!("{}.png", chart.file_stem()));
        crate::util::fsx::write_atomic_via_path(&path, |tmp| {
            let root = BitMapBackend::new(tmp, chart.size()).into_drawing_area();
            root.fill(&WHITE).map_err(de)?;
            chart.draw(&root)?;
            root.present().map_err(de)
        })?;
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
    /// (t_s, the allocator's own statistics)
    pub allocator: Vec<(f64, syncbench_node::alloc_stats::AllocatorInternal)>,
    /// (t_s, RSS floor bytes) after each compaction (`ratchet.csv`)
    pub ratchet: Vec<(f64, f64)>,
    /// (t_s, highest RSS) of each compaction window (`ratchet.csv`; absent in older files)
    pub window_peaks: Vec<(f64, f64)>,
    /// (t_s, VmRSS − live heap) of each sample the node's live heap was known at
    pub retained: Vec<(f64, f64)>,
    /// `--store rocksdb`: (start_s, end_s) of RocksDB's memtable flushes, and (t_s,
    /// the engine's accounted bytes: memtables, block cache, table readers).
    pub engine_flushes: Vec<(f64, f64)>,
    pub engine: Vec<(f64, f64)>,
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
            allocator: r.allocator.clone(),
            ratchet: r.ratchet.iter().map(|f| (f.t_ms as f64 / 1e3, f.rss_floor_bytes as f64)).collect(),
            window_peaks: r
                .ratchet
                .iter()
                .filter_map(|f| Some((f.peak?.t_ms as f64 / 1e3, f.peak?.rss_bytes as f64)))
                .collect(),
            retained: r
                .samples
                .iter()
                .filter_map(|s| Some((s.t_s, s.rss - s.heap_live.filter(|&h| h > 0.0)?)))
                .collect(),
            engine_flushes: r.engine_flushes.clone(),
            engine: r.engine.clone(),
        }
    }
}

/// The successful runs of one cell, in repetition order.
#[derive(Clone)]
pub struct CellRuns {
    pub cell: String,
    pub runs: Vec<RunFiles>,
    /// Each run's round in an interleaved suite (`None` outside one: a merged report).
    pub rounds: Vec<Option<u32>>,
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
    crate::util::fsx::real_dir(dir)?;
    render(&rss::RssChart(data), dir, png)?;
    render(&heap::HeapChart(data), dir, png)?;
    if !data.allocator.is_empty() {
        render(&allocator::AllocatorChart(data), dir, png)?;
    }
    if data.ratchet.len() >= ratchet::MIN_FLOORS {
        render(&ratchet::RatchetChart(data), dir, png)?;
    }
    render(&throughput::ThroughputChart(data), dir, png)?;
    render(&latency::LatencyChart(data), dir, png)?;
    Ok(())
}

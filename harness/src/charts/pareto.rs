//! `pareto`: a tuning suite's trade-off (`syncbench tune`). One panel per pair of a
//! memory figure (rows) and a cost figure (columns). Each setting is a numbered point at
//! its centre with both intervals as bars; Pareto-optimal settings are filled, the
//! others hollow. The legend maps the numbers to the settings.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{tick, Mark, FONT, LABEL_SIZE};
use super::{de, series_style, titled, with_legend, Chart, Legend};

const HEIGHT: u32 = 760;

/// A figure of one setting: its centre and the interval drawn around it.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub center: f64,
    pub interval: [f64; 2],
}

/// One setting: its legend label, whether it is Pareto-optimal, and its figures in the
/// order of [`ParetoData`]'s axes (`None`: not measured).
pub struct ParetoSetting {
    pub label: String,
    pub optimal: bool,
    pub memory: Vec<Option<Point>>,
    pub cost: Vec<Option<Point>>,
}

/// What the chart draws, built by `syncbench tune` from its tuning (the chart knows
/// nothing of how the figures were compared).
pub struct ParetoData {
    pub title: String,
    /// Axis titles: memory figures (rows) and cost figures (columns).
    pub memory: Vec<String>,
    pub cost: Vec<String>,
    pub settings: Vec<ParetoSetting>,
    /// What the bars are, for the legend.
    pub bars: String,
}

pub struct Pareto<'a>(pub &'a ParetoData);

impl Chart for Pareto<'_> {
    fn file_stem(&self) -> &'static str {
        "pareto"
    }

    fn size(&self) -> (u32, u32) {
        (super::style::WIDTH + 300, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let (plot, key) = with_legend(&titled(root, &d.title)?);
        let (rows, columns) = (d.memory.len().max(1), d.cost.len().max(1));
        for (i, area) in plot.split_evenly((rows, columns)).iter().enumerate() {
            let (row, column) = (i / columns, i % columns);
            let points: Vec<(usize, Point, Point, bool)> = d
                .settings
                .iter()
                .enumerate()
                .filter_map(|(k, s)| Some((k, (*s.cost.get(column)?)?, (*s.memory.get(row)?)?, s.optimal)))
                .collect();
            let axes = (d.cost.get(column).map_or("", String::as_str), d.memory.get(row).map_or("", String::as_str));
            panel(area, &points, axes)?;
        }
        let mut legend = Legend::default();
        for (i, s) in d.settings.iter().enumerate() {
            let mark = if s.optimal { "◆ " } else { "" };
            legend.add(format!("{}. {mark}{}", i + 1, s.label), Mark::Dot(series_style(i).color));
        }
        legend.add("filled ◆: Pareto-optimal; hollow: another setting is as good on all, better on one", Mark::Tick);
        legend.add(d.bars.clone(), Mark::Tick);
        legend.draw(&key)
    }
}

/// An axis spanning `values` with a margin (the differences are the point, not 0).
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.12).max(hi.abs() * 0.02).max(1e-6);
    (lo - pad, hi + pad)
}

/// One panel: (setting index, x point, y point, Pareto-optimal) drawn on axes titled `(x, y)`.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &[(usize, Point, Point, bool)],
    (x_desc, y_desc): (&str, &str),
) -> Result<()> {
    let (x_lo, x_hi) = span(points.iter().flat_map(|p| p.1.interval.into_iter().chain([p.1.center])));
    let (y_lo, y_hi) = span(points.iter().flat_map(|p| p.2.interval.into_iter().chain([p.2.center])));
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .margin_right(16)
        .x_label_area_size(42)
        .y_label_area_size(64)
        .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
        .map_err(de)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&|v| tick(*v, x_hi - x_lo))
        .y_label_formatter(&|v| tick(*v, y_hi - y_lo))
        .label_style((FONT, LABEL_SIZE - 2))
        .axis_desc_style((FONT, LABEL_SIZE - 2))
        .draw()
        .map_err(de)?;
    for &(i, x, y, optimal) in points {
        let c = series_style(i).color;
        let [x0, x1] = x.interval;
        let [y0, y1] = y.interval;
        for bar in [vec![(x0, y.center), (x1, y.center)], vec![(x.center, y0), (x.center, y1)]] {
            chart.draw_series(std::iter::once(PathElement::new(bar, c.mix(0.6).stroke_width(1)))).map_err(de)?;
        }
        let dot = if optimal { c.filled() } else { c.stroke_width(2) };
        let number = Text::new(format!("{}", i + 1), (7, -18), (FONT, LABEL_SIZE - 2).into_font().color(&BLACK));
        let point = EmptyElement::at((x.center, y.center)) + Circle::new((0, 0), 5, dot) + number;
        chart.draw_series(std::iter::once(point)).map_err(de)?;
    }
    Ok(())
}

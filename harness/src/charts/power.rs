//! `power`: the gate's calibration (`syncbench calibrate`) as a power curve — for each
//! gated metric that a memory regression moves, the share of draws the gate failed
//! against the regression's measured size on that metric (0: the A/A false-alarm rate),
//! and the gate as a whole against the injection's share of peak RSS. Grey lines mark
//! the targets: 90 % power, 5 % false alarms.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{line, linear_chart, series as draw_series, Mark, SeriesStyle};
use super::{de, headroom, series_style, titled, with_legend, Chart, Legend};
/// What the chart draws, built by `syncbench calibrate` from its calibration (the chart
/// knows nothing of how draws were made).
pub struct PowerCurves {
    /// "10 baseline, 5 candidate runs, 2000 draws from 15 clean runs".
    pub about: String,
    /// The suite's directory as given.
    pub suite: String,
    /// Per drawn metric: (name, points (effect on the metric in %, share failed in %)),
    /// the first point at 0 the false-alarm rate.
    pub metrics: Vec<(String, Vec<(f64, f64)>)>,
    /// The gate as a whole: (injection as % of peak RSS, share failed in %).
    pub gate: Vec<(f64, f64)>,
    /// A line for the legend only (a metric not drawn and why).
    pub note: Option<String>,
}

pub struct PowerChart<'a>(pub &'a PowerCurves);

impl Chart for PowerChart<'_> {
    fn file_stem(&self) -> &'static str {
        "power"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let c = self.0;
        let title = format!("Gate power: share of draws failed vs regression size ({}) — {}", c.about, c.suite);
        let (plot, key) = with_legend(&titled(root, &title)?);
        let xs = c.metrics.iter().flat_map(|(_, p)| p.iter()).chain(&c.gate).map(|p| p.0);
        let x_max = headroom(xs.fold(1.0, f64::max));
        let mut chart = linear_chart(
            &plot,
            "regression size (% of the metric; the gate: % of peak RSS)",
            "failed (%)",
            x_max,
            100.0,
        )?;
        let mut legend = Legend::default();
        let grey = series_style(7);
        line(&mut chart, vec![(0.0, 90.0), (x_max, 90.0)], grey.thin())?;
        line(&mut chart, vec![(0.0, 5.0), (x_max, 5.0)], grey.thin())?;
        legend.add("grey: 90 % power, 5 % false alarms", Mark::Line(grey.thin()));
        for (i, (name, points)) in c.metrics.iter().enumerate() {
            let style = series_style(i);
            draw_series(&mut chart, &mut legend, points.iter().copied(), name, style)?;
            chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, style.color.filled()))).map_err(de)?;
        }
        let style = series_style(c.metrics.len());
        draw_series(
            &mut chart,
            &mut legend,
            c.gate.iter().copied(),
            "the gate (any metric)",
            SeriesStyle { width: 4, ..style },
        )?;
        if let Some(note) = &c.note {
            legend.add(note.clone(), Mark::Line(grey.thin()));
        }
        legend.draw(&key)
    }
}

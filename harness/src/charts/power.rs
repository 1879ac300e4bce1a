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
use crate::calibrate::Calibration;

/// Metrics drawn: the memory figures an injected allocation moves by a share
/// comparable to the gate's limits (the counts and bytes written do not move; the live
/// heap after the session moves by thousands of percent, off any useful axis — the
/// legend says how often it caught each level).
const DRAWN: &[&str] = &["rss_peak_bytes", "rss_p50_bytes", "heap_live_peak_bytes"];
/// The metric named in the legend only.
const NOTED: &str = "heap_live_end_bytes";

pub struct PowerChart<'a>(pub &'a Calibration);

impl Chart for PowerChart<'_> {
    fn file_stem(&self) -> &'static str {
        "power"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let c = self.0;
        let title = format!(
            "Gate power: share of draws failed vs regression size ({} baseline, {} candidate runs, {} draws from {} clean runs) — {}",
            c.baseline_runs, c.candidate_runs, c.draws, c.clean_runs, c.suite
        );
        let (plot, key) = with_legend(&titled(root, &title)?);
        let drawn = c.metrics.iter().filter(|(k, _)| DRAWN.contains(&k.as_str()));
        let effects = drawn.flat_map(|(_, m)| m.effect_pct.values().copied());
        let levels = c.gate.power.keys().filter_map(|l| l.parse::<f64>().ok());
        let x_max = headroom(effects.chain(levels).fold(1.0, f64::max));
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
        for (i, name) in DRAWN.iter().enumerate() {
            let Some(m) = c.metrics.get(*name) else { continue };
            let mut points = vec![(0.0, m.false_alarm_rate * 100.0)];
            points.extend(m.power.iter().filter_map(|(l, p)| Some((*m.effect_pct.get(l)?, p * 100.0))));
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let style = series_style(i);
            draw_series(&mut chart, &mut legend, points.iter().copied(), *name, style)?;
            chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, style.color.filled()))).map_err(de)?;
        }
        let mut gate = vec![(0.0, c.gate.false_alarm_rate * 100.0)];
        gate.extend(c.gate.power.iter().filter_map(|(l, p)| Some((l.parse::<f64>().ok()?, p * 100.0))));
        gate.sort_by(|a, b| a.0.total_cmp(&b.0));
        let style = series_style(DRAWN.len());
        draw_series(
            &mut chart,
            &mut legend,
            gate.iter().copied(),
            "the gate (any metric)",
            SeriesStyle { width: 4, ..style },
        )?;
        if let Some(m) = c.metrics.get(NOTED) {
            let caught: Vec<String> = m.power.values().map(|p| format!("{:.0} %", p * 100.0)).collect();
            let label = format!("{NOTED} (not drawn, effects {}): caught {}", effect_range(m), caught.join(", "));
            legend.add(label, Mark::Line(grey.thin()));
        }
        legend.draw(&key)
    }
}

/// "+535 … +3030 %": the range of a metric's measured effects.
fn effect_range(m: &crate::calibrate::MetricCalibration) -> String {
    let e: Vec<f64> = m.effect_pct.values().copied().collect();
    let lo = e.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{lo:+.0} … {hi:+.0} %")
}

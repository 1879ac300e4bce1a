//! Latency percentile spectrum: every recorded histogram on log–log axes, x as
//! 1/(1 − percentile) so the tail (99 %, 99.9 %, …) gets room, as HdrHistogram plots it.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{de, series, series_style, titled, with_legend, Chart, Legend, RunChartData, FONT, LABEL_SIZE};

pub struct LatencyChart<'a>(pub &'a RunChartData);

/// Largest x plotted: the 99.999th percentile.
const X_MAX: f64 = 100_000.0;

fn percentile_label(x: &f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x);
    match p {
        p if p < 1e-9 => "0%".into(),
        p if p < 99.0 => format!("{p:.0}%"),
        p => format!("{}%", format!("{p:.5}").trim_end_matches('0').trim_end_matches('.')),
    }
}

impl Chart for LatencyChart<'_> {
    fn file_stem(&self) -> &'static str {
        "latency"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let series: Vec<(&str, Vec<(f64, f64)>)> = d
            .latency
            .iter()
            .map(|(name, rows)| {
                let label = match name.as_str() {
                    "ingest" => "ingest: send → durable ack (per block)",
                    "flush" => "flush: fdatasync per batch",
                    "wal_append" => "wal_append: write per batch",
                    "compaction" => "compaction: per shard",
                    other => other,
                };
                (label, spectrum(rows))
            })
            .collect();
        draw_spectrum(root, &format!("Latency by percentile — {}", d.title), &series, None)
    }
}

/// (quantile, µs) rows as plotted points: (1 / (1 − q), ms), the 100 % row dropped.
pub fn spectrum(rows: &[(f64, f64)]) -> Vec<(f64, f64)> {
    rows.iter().filter(|r| r.0 < 1.0 && r.1 > 0.0).map(|r| ((1.0 / (1.0 - r.0)).min(X_MAX), r.1 / 1e3)).collect()
}

/// Draws labelled spectra on log–log axes in `area`, titled, legend in its column.
pub fn draw_spectrum<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    series_list: &[(&str, Vec<(f64, f64)>)],
    y_range: Option<(f64, f64)>,
) -> Result<()> {
    let (plot, key) = with_legend(&titled(area, title)?);
    let (lo, hi) = y_range.unwrap_or_else(|| latency_range(series_list));
    let mut chart = ChartBuilder::on(&plot)
        .margin(10)
        .margin_right(45)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((1f64..X_MAX).log_scale(), (lo..hi).log_scale())
        .map_err(de)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_label_formatter(&percentile_label)
        .y_label_formatter(&|v| format!("{v:.3}").trim_end_matches('0').trim_end_matches('.').to_owned())
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(de)?;
    let mut legend = Legend::default();
    for (i, (label, points)) in series_list.iter().enumerate() {
        series(&mut chart, &mut legend, points.iter().copied(), *label, series_style(i))?;
    }
    legend.draw(&key)
}

/// The latency axis for `series_list`: its lowest and highest value with a margin.
pub fn latency_range(series_list: &[(&str, Vec<(f64, f64)>)]) -> (f64, f64) {
    let values = series_list.iter().flat_map(|(_, p)| p.iter().map(|p| p.1));
    let (lo, hi) = values.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi > 0.0 {
        (lo / 1.5, hi * 1.5)
    } else {
        (0.001, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(percentile_label(&1.0), "0%");
        assert_eq!(percentile_label(&2.0), "50%");
        assert_eq!(percentile_label(&100.0), "99%");
        assert_eq!(percentile_label(&1000.0), "99.9%");
    }
}

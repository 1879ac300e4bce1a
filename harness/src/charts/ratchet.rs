//! The RSS ratchet (`ratchet.svg`): VmRSS over time (thin), the floor it fell back to
//! after each compaction (dots, from `ratchet.csv`) and the window's peak (triangles),
//! and what the process held beyond its live heap (VmRSS − live heap; drawn from 0, a
//! negative gap at 0). Floors that climb from one compaction to the next are memory
//! the allocator does not give back.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{line, Mark};
use super::{
    de, headroom, series, series_style, shade_compactions, time_chart, titled, with_legend, Chart, Legend,
    RunChartData, MIB,
};

/// Fewest floors the chart is drawn for (one dot shows no trend).
pub const MIN_FLOORS: usize = 2;

pub struct RatchetChart<'a>(pub &'a RunChartData);

impl Chart for RatchetChart<'_> {
    fn file_stem(&self) -> &'static str {
        "ratchet"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let (plot, key) = with_legend(&titled(root, &format!("RSS floor after each compaction — {}", d.title))?);
        let x_max = d.rss.last().map_or(0.0, |r| r.0);
        let y_max = headroom(d.rss.iter().map(|r| r.1).chain(d.retained.iter().map(|r| r.1)).fold(0.0, f64::max) / MIB);
        let mut chart = time_chart(&plot, "MiB", x_max, y_max)?;
        let mut legend = Legend::default();
        shade_compactions(&mut chart, &mut legend, &d.compactions, y_max)?;
        let rss = d.rss.iter().map(|r| (r.0, r.1 / MIB));
        series(&mut chart, &mut legend, rss, "VmRSS (total)", series_style(0).thin())?;
        if !d.retained.is_empty() {
            let retained = d.retained.iter().map(|r| (r.0, r.1.max(0.0) / MIB));
            series(&mut chart, &mut legend, retained, "VmRSS − live heap (retained)", series_style(2))?;
        }
        let floor = series_style(1);
        let floors = || d.ratchet.iter().map(|f| (f.0, f.1 / MIB));
        line(&mut chart, floors(), floor.thin())?;
        chart.draw_series(floors().map(|p| Circle::new(p, 4, floor.color.filled()))).map_err(de)?;
        legend.add("RSS floor after a compaction (lowest sample until the next one)", Mark::Dot(floor.color));
        if !d.window_peaks.is_empty() {
            let peak = series_style(3);
            let peaks = || d.window_peaks.iter().map(|p| (p.0, p.1 / MIB));
            chart.draw_series(peaks().map(|p| TriangleMarker::new(p, 4, peak.color.filled()))).map_err(de)?;
            legend.add("RSS peak of the same window", Mark::Dot(peak.color));
        }
        legend.draw(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{render_run, RunChartData};

    #[test]
    fn drawn_only_from_two_floors() {
        let t = tempfile::tempdir().unwrap();
        let rss = (0..50).map(|i| (f64::from(i) * 0.1, 1e8, 9e7, 1e7, 1e8)).collect();
        let mut data = RunChartData { title: "t".into(), rss, ratchet: vec![(1.0, 9e7)], ..Default::default() };
        render_run(&data, t.path(), false).unwrap();
        assert!(!t.path().join("ratchet.svg").exists(), "one floor shows no trend");
        data.ratchet.push((3.0, 9.5e7));
        data.retained = vec![(1.0, 2e7), (2.0, -1e6)];
        render_run(&data, t.path(), false).unwrap();
        let svg = std::fs::read_to_string(t.path().join("ratchet.svg")).unwrap();
        assert!(svg.contains("RSS floor after a compaction") && svg.contains("<circle"), "floors marked");
    }
}

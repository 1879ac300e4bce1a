//! `comparison.json` and `comparison.md`: per metric and cell, the median over
//! repetitions with its 95 % bootstrap interval, and the ratio to the baseline cell with
//! its interval and a verdict. Built from the runs' `summary.json` files only, so a
//! suite can be re-compared from disk.

use std::fmt::Write as _;

use serde::Serialize;

use crate::results::summary::Summary;
use crate::stats::{self, Direction, Verdict};
use crate::units::MIB;

/// One successful run's summary, tagged with its cell.
pub struct RunRecord {
    pub cell: String,
    pub summary: Summary,
}

/// The compared metrics' names in `comparison.json` (and in `ab`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKey {
    RssPeak,
    RssP50,
    RssMibSPerGib,
    HeapLivePeak,
    RetainedEnd,
    RetainedP50,
    RatchetPerCompaction,
    RatchetPerGib,
    Throughput,
    IngestP50,
    IngestP99,
    FlushP99,
    CompactionTotal,
    Cpu,
    CpuUser,
    Efficiency,
}

/// A compared metric: how it is computed from a summary, its unit, and which way is good.
pub struct Metric {
    pub key: MetricKey,
    pub label: &'static str,
    pub unit: &'static str,
    pub direction: Direction,
    pub extract: fn(&Summary) -> Option<f64>,
}

/// Percentile `p` of a latency histogram in milliseconds.
fn latency_ms(s: &Summary, name: &str, p: fn(&crate::latency::LatencySummary) -> u64) -> Option<f64> {
    Some(p(s.latency_us.get(name)?) as f64 / 1e3)
}

/// The metrics every comparison reports (issue: peak RSS, peak live heap, throughput,
/// ingest p50/p99, flush p99, compaction time, CPU time).
pub const METRICS: &[Metric] = &[
    Metric {
        key: MetricKey::RssPeak,
        label: "peak RSS (VmHWM)",
        unit: "MiB",
        direction: Direction::LowerIsBetter,
        extract: |s| Some(s.rss_peak_bytes as f64 / MIB),
    },
    Metric {
        key: MetricKey::RssP50,
        label: "RSS p50 over time",
        unit: "MiB",
        direction: Direction::LowerIsBetter,
        extract: |s| Some(s.rss_p50_bytes? as f64 / MIB),
    },
    Metric {
        key: MetricKey::RssMibSPerGib,
        label: "RSS × time per GiB ingested",
        unit: "MiB·s/GiB",
        direction: Direction::LowerIsBetter,
        extract: |s| s.rss_mib_s_per_gib,
    },
    Metric {
        key: MetricKey::HeapLivePeak,
        label: "peak live heap",
        unit: "MiB",
        direction: Direction::LowerIsBetter,
        extract: |s| Some(s.heap_live_peak_bytes? as f64 / MIB),
    },
    Metric {
        key: MetricKey::RetainedEnd,
        label: "retained at the end (RssAnon − live heap)",
        unit: "MiB",
        direction: Direction::LowerIsBetter,
        extract: |s| Some(s.retained_end_bytes? as f64 / MIB),
    },
    Metric {
        key: MetricKey::RetainedP50,
        label: "retained (RSS − live heap) p50 over time",
        unit: "MiB",
        direction: Direction::LowerIsBetter,
        extract: |s| Some(s.retained_p50_bytes? as f64 / MIB),
    },
    Metric {
        key: MetricKey::RatchetPerCompaction,
        label: "RSS floor slope per compaction",
        unit: "KiB",
        direction: Direction::LowerIsBetter,
        extract: |s| Some(s.rss_ratchet.as_ref()?.slope_bytes_per_compaction? / 1024.0),
    },
    Metric {
        key: MetricKey::RatchetPerGib,
        label: "RSS floor slope per GiB ingested",
        unit: "MiB/GiB",
        direction: Direction::LowerIsBetter,
        extract: |s| Some(s.rss_ratchet.as_ref()?.slope_bytes_per_gib? / MIB),
    },
    Metric {
        key: MetricKey::Throughput,
        label: "throughput",
        unit: "MiB/s",
        direction: Direction::HigherIsBetter,
        extract: |s| Some(s.throughput_mib_per_s),
    },
    Metric {
        key: MetricKey::IngestP50,
        label: "ingest latency p50",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        extract: |s| latency_ms(s, "ingest", |l| l.p50),
    },
    Metric {
        key: MetricKey::IngestP99,
        label: "ingest latency p99",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        extract: |s| latency_ms(s, "ingest", |l| l.p99),
    },
    Metric {
        key: MetricKey::FlushP99,
        label: "flush latency p99",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        extract: |s| latency_ms(s, "flush", |l| l.p99),
    },
    Metric {
        key: MetricKey::CompactionTotal,
        label: "compaction time, total",
        unit: "s",
        direction: Direction::LowerIsBetter,
        extract: |s| Some(s.compaction_s_total),
    },
    Metric {
        key: MetricKey::Cpu,
        label: "node CPU time (user + sys)",
        unit: "s",
        direction: Direction::LowerIsBetter,
        extract: |s| Some(s.cpu_user_s + s.cpu_sys_s),
    },
    Metric {
        key: MetricKey::CpuUser,
        label: "node user CPU time",
        unit: "s",
        direction: Direction::LowerIsBetter,
        extract: |s| Some(s.cpu_user_s),
    },
    Metric {
        key: MetricKey::Efficiency,
        label: "efficiency (of the lower ceiling)",
        unit: "%",
        direction: Direction::HigherIsBetter,
        extract: |s| Some(s.ceilings.as_ref()?.efficiency? * 100.0),
    },
];

#[derive(Debug, Serialize)]
pub struct CellStat {
    pub cell: String,
    pub n: usize,
    pub values: Vec<f64>,
    pub median: f64,
    pub ci: [f64; 2],
    pub ratio: Option<f64>,
    pub ratio_ci: Option<[f64; 2]>,
    pub verdict: Option<Verdict>,
}

#[derive(Debug, Serialize)]
pub struct MetricTable {
    pub key: MetricKey,
    pub label: &'static str,
    pub unit: &'static str,
    pub direction: Direction,
    pub cells: Vec<CellStat>,
}

#[derive(Debug, Serialize)]
pub struct Comparison {
    pub baseline_cell: String,
    pub floor_pct: f64,
    pub confidence: f64,
    pub resamples: usize,
    pub metrics: Vec<MetricTable>,
}

/// Compares `cells` (in display order) over the successful `runs`.
pub fn compare(cells: &[String], runs: &[RunRecord], baseline: &str, floor_pct: f64) -> Comparison {
    let metrics = METRICS
        .iter()
        .map(|m| {
            let values = |cell: &str| -> Vec<f64> {
                runs.iter().filter(|r| r.cell == cell).filter_map(|r| (m.extract)(&r.summary)).collect()
            };
            let base = values(baseline);
            let cells = cells
                .iter()
                .map(|c| cell_stat(c, values(c), &base, c == baseline, floor_pct / 100.0, m.direction))
                .collect();
            MetricTable { key: m.key, label: m.label, unit: m.unit, direction: m.direction, cells }
        })
        // A metric no run recorded (e.g. efficiency under --no-ceilings) is left out.
        .filter(|t| t.cells.iter().any(|c| c.n > 0))
        .collect();
    Comparison { baseline_cell: baseline.to_owned(), floor_pct, confidence: 0.95, resamples: stats::RESAMPLES, metrics }
}

fn cell_stat(cell: &str, values: Vec<f64>, base: &[f64], is_base: bool, floor: f64, direction: Direction) -> CellStat {
    let (lo, hi) = stats::median_ci(&values);
    // A ratio compares positive amounts only: a slope can be 0 or negative (a floor that
    // does not climb), and a ratio across 0 would call the better cell worse.
    let comparable = !values.is_empty() && !base.is_empty() && values.iter().chain(base).all(|&v| v > 0.0);
    let (ratio, ratio_ci, verdict) = match (is_base, comparable) {
        (true, _) => (Some(1.0), None, Some(Verdict::Baseline)),
        (false, true) => {
            let (r, rlo, rhi) = stats::ratio_ci(&values, base);
            let n = (values.len(), base.len());
            (Some(r), Some([rlo, rhi]), Some(stats::verdict_of(n, rlo, rhi, floor, direction)))
        }
        (false, false) => (None, None, None),
    };
    CellStat {
        cell: cell.to_owned(),
        n: values.len(),
        median: stats::median(&values),
        values,
        ci: [lo, hi],
        ratio,
        ratio_ci,
        verdict,
    }
}

fn num(v: f64) -> String {
    match v {
        v if !v.is_finite() => "–".into(),
        v if v.abs() >= 100.0 => format!("{v:.0}"),
        v if v.abs() >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

fn verdict_text(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::Baseline) => "baseline",
        Some(Verdict::Better) => "**better**",
        Some(Verdict::Worse) => "**worse**",
        Some(Verdict::NoClearDifference) => "no clear difference",
        Some(Verdict::TooFewRuns) => "too few runs (< 3)",
        None => "no data",
    }
}

/// Metrics of the compact table printed at the end of `matrix` (the Markdown has all).
const TERMINAL_METRICS: &[MetricKey] =
    &[MetricKey::RssPeak, MetricKey::RssP50, MetricKey::Throughput, MetricKey::IngestP99];

/// A compact text table: one row per cell, for each key metric its median and its
/// ratio to the baseline cell with the verdict (`=` no clear difference, `n<3` too few
/// runs); `comparison.md` has the intervals and every metric.
pub fn terminal_table(c: &Comparison) -> String {
    let tables: Vec<&MetricTable> =
        TERMINAL_METRICS.iter().filter_map(|k| c.metrics.iter().find(|m| m.key == *k)).collect();
    let Some(first) = tables.first() else { return String::new() };
    let width = first.cells.iter().map(|s| s.cell.len()).max().unwrap_or(4).max(4);
    let mut out = format!("{:width$}  {:>3}", "cell", "n");
    for t in &tables {
        let _ = write!(out, "  {:>28}", format!("{} ({})", t.label, t.unit));
    }
    out.push('\n');
    for (i, cell) in first.cells.iter().enumerate() {
        let _ = write!(out, "{:width$}  {:>3}", cell.cell, cell.n);
        for t in &tables {
            let text = t.cells.get(i).map_or("–".into(), |s| {
                let tag = match s.verdict {
                    Some(Verdict::Baseline) => return format!("{} baseline", num(s.median)),
                    None => return format!("{} no data", num(s.median)),
                    Some(Verdict::Better) => "better",
                    Some(Verdict::Worse) => "WORSE",
                    Some(Verdict::NoClearDifference) => "=",
                    Some(Verdict::TooFewRuns) => "n<3",
                };
                let verdict = format!("×{:.2} {tag}", s.ratio.unwrap_or(0.0));
                format!("{} {verdict}", num(s.median))
            });
            let _ = write!(out, "  {text:>28}");
        }
        out.push('\n');
    }
    out
}

/// The Markdown rendering of a comparison, one table per metric.
pub fn markdown(c: &Comparison, title: &str, failed: &[String]) -> String {
    let mut out = format!("# {title}\n\n");
    let _ = writeln!(
        out,
        "Median over repetitions with a 95 % bootstrap interval ({} resamples); ratio to the baseline cell `{}` \
         with its interval. A difference is called only when the whole ratio interval is beyond ±{} %.\n",
        c.resamples, c.baseline_cell, c.floor_pct
    );
    if !failed.is_empty() {
        let _ = writeln!(out, "Failed runs (excluded, see their `crash/`): {}\n", failed.join(", "));
    }
    for m in &c.metrics {
        let better = match m.direction {
            Direction::LowerIsBetter => "lower is better",
            Direction::HigherIsBetter => "higher is better",
        };
        let _ = writeln!(out, "## {} ({}, {better})\n", m.label, m.unit);
        let _ = writeln!(
            out,
            "| cell | n | median | 95 % CI | ratio | ratio 95 % CI | verdict |\n|---|---|---|---|---|---|---|"
        );
        let base_n = m.cells.iter().find(|s| s.verdict == Some(Verdict::Baseline)).map_or(0, |s| s.n);
        for s in &m.cells {
            let verdict = match s.verdict {
                None if s.n > 0 && base_n > 0 => "no ratio (a value ≤ 0)",
                v => verdict_text(v),
            };
            let ratio = s.ratio.map_or("–".into(), |r| format!("{r:.3}"));
            let rci = s.ratio_ci.map_or("–".into(), |[a, b]| format!("{a:.3} – {b:.3}"));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} – {} | {ratio} | {rci} | {} |",
                s.cell,
                s.n,
                num(s.median),
                num(s.ci[0]),
                num(s.ci[1]),
                verdict
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cell: &str, rss_mib: f64, mib_s: f64) -> RunRecord {
        RunRecord {
            cell: cell.into(),
            summary: Summary::for_test(serde_json::json!({"rss_peak_bytes": (rss_mib * MIB) as u64,
                "throughput_mib_per_s": mib_s, "cpu_user_s": 1.0, "cpu_sys_s": 0.5})),
        }
    }

    #[test]
    fn compares_cells_against_the_baseline() {
        let runs: Vec<RunRecord> = [(150.0, 200.0), (152.0, 210.0), (149.0, 190.0)]
            .iter()
            .map(|&(r, t)| run("streaming", r, t))
            .chain([(1300.0, 205.0), (1280.0, 195.0), (1310.0, 200.0)].iter().map(|&(r, t)| run("buffered", r, t)))
            .collect();
        let c = compare(&["streaming".into(), "buffered".into()], &runs, "streaming", 5.0);
        let table = |key| c.metrics.iter().find(|m| m.key == key).map(|m| &m.cells);
        let rss = table(MetricKey::RssPeak).unwrap();
        assert_eq!(rss[0].verdict, Some(Verdict::Baseline));
        assert_eq!(rss[1].verdict, Some(Verdict::Worse));
        assert!((rss[1].ratio.unwrap() - 1300.0 / 150.0).abs() < 0.01);
        let tput = table(MetricKey::Throughput).unwrap();
        assert_eq!(tput[1].verdict, Some(Verdict::NoClearDifference));
        assert!(table(MetricKey::HeapLivePeak).is_none(), "no heap values in the summaries: no table");
        let md = markdown(&c, "t", &[]);
        assert!(md.contains("| buffered | 3 | 1300 | "), "{md}");
        assert!(md.contains("**worse**"));
    }

    fn slope(cell: &str, bytes_per_compaction: f64) -> RunRecord {
        let ratchet = serde_json::json!({"floors": 5, "rss_floor_first_bytes": 1, "rss_floor_last_bytes": 2,
            "slope_bytes_per_compaction": bytes_per_compaction, "slope_bytes_per_gib": null});
        RunRecord { cell: cell.into(), summary: Summary::for_test(serde_json::json!({"rss_ratchet": ratchet})) }
    }

    #[test]
    fn slopes_are_compared_and_no_ratio_is_taken_across_zero() {
        let runs: Vec<RunRecord> = [10.0, 11.0, 12.0]
            .iter()
            .map(|&k| slope("a", k * 1024.0))
            .chain([40.0, 41.0, 42.0].iter().map(|&k| slope("b", k * 1024.0)))
            .chain([-3.0, 5.0, 6.0].iter().map(|&k| slope("c", k * 1024.0)))
            .collect();
        let c = compare(&["a".into(), "b".into(), "c".into()], &runs, "a", 5.0);
        let t = c.metrics.iter().find(|m| m.key == MetricKey::RatchetPerCompaction).unwrap();
        assert_eq!((t.label, t.unit), ("RSS floor slope per compaction", "KiB"));
        assert_eq!(t.cells[0].median, 11.0);
        assert_eq!(t.cells[1].verdict, Some(Verdict::Worse));
        assert_eq!((t.cells[2].median, t.cells[2].ratio, t.cells[2].verdict), (5.0, None, None));
        assert!(c.metrics.iter().all(|m| m.key != MetricKey::RatchetPerGib), "no slope per GiB: no table");
        assert!(markdown(&c, "t", &[]).contains("| c | 3 | 5.00 | "), "{}", markdown(&c, "t", &[]));
        assert!(markdown(&c, "t", &[]).contains("no ratio (a value ≤ 0)"));
    }

    #[test]
    fn no_verdict_from_fewer_than_three_runs() {
        // Two runs a side with a large gap, and a cell with one run: a "95 % interval"
        // of one value is that value, so neither may be called worse.
        let runs: Vec<RunRecord> = [150.0, 151.0]
            .iter()
            .map(|&r| run("a", r, 200.0))
            .chain([300.0, 310.0].iter().map(|&r| run("b", r, 200.0)))
            .chain([400.0].iter().map(|&r| run("c", r, 200.0)))
            .collect();
        let c = compare(&["a".into(), "b".into(), "c".into()], &runs, "a", 5.0);
        let rss = &c.metrics.iter().find(|m| m.key == MetricKey::RssPeak).unwrap().cells;
        assert_eq!(rss[1].verdict, Some(Verdict::TooFewRuns));
        assert_eq!(rss[2].verdict, Some(Verdict::TooFewRuns));
        assert!(markdown(&c, "t", &[]).contains("too few runs (< 3)"));
    }
}

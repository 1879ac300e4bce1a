//! `comparison.json` and `comparison.md`: per metric and cell, the centre of its
//! repetitions with a 95 % t interval (on logs for ratio metrics; fewer than 3 runs: the
//! range, labelled so), and the change against the baseline cell with its interval, its
//! Benjamini–Hochberg-adjusted p, its minimum detectable effect and a verdict (the rules
//! in `stats/`). Built from the runs' `summary.json` files only, so a
//! suite can be re-compared from disk.

use std::fmt::Write as _;

use serde::Serialize;

use crate::results::ratchet::Floor;
use crate::results::summary::Summary;
use crate::stats::{self, Design, Direction, Scale, Side, TTest, Verdict};
use crate::units::MIB;

/// One successful run: its cell, its round in an interleaved suite (`None` for runs
/// not taken in rounds), its summary, its RSS floors (`ratchet.csv`) and, in a RocksDB
/// run, the memory neither the program nor the engine accounts for
/// (`RunFiles::beyond_engine_p50_bytes`).
pub struct RunRecord {
    pub cell: String,
    pub round: Option<u32>,
    pub summary: Summary,
    pub floors: Vec<Floor>,
    pub beyond_engine_p50_bytes: Option<f64>,
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
    EngineAccountedP50,
    BeyondEngineP50,
    RatchetPerCompaction,
    RatchetPerGib,
    Throughput,
    IngestP50,
    IngestP99,
    FlushP99,
    CompactionTotal,
    Cpu,
    CpuUser,
    CpuSysShare,
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
        key: MetricKey::EngineAccountedP50,
        label: "RocksDB's own account (memtables + block cache + table readers) p50 over time",
        unit: "MiB",
        direction: Direction::LowerIsBetter,
        extract: |s| Some(s.engine.as_ref()?.accounted_p50_bytes as f64 / MIB),
    },
    Metric {
        key: MetricKey::BeyondEngineP50,
        label: "RssAnon − live heap − RocksDB's account, p50 over time",
        unit: "MiB",
        direction: Direction::LowerIsBetter,
        // From the run's samples and engine figures (`RunRecord::beyond_engine_p50_bytes`).
        extract: |_| None,
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
    // The share, not the seconds: on a shared host the same work takes more or fewer
    // CPU seconds from hour to hour (user and system alike), which hides a purge
    // setting's cost in the totals; the kernel's share of them (madvise calls, the page
    // faults that refill purged pages, direct I/O) does not move with the host's speed.
    Metric {
        key: MetricKey::CpuSysShare,
        label: "node CPU in the kernel (sys ÷ (user + sys))",
        unit: "%",
        direction: Direction::LowerIsBetter,
        extract: |s| (s.cpu_sys_s > 0.0).then(|| 100.0 * s.cpu_sys_s / (s.cpu_user_s + s.cpu_sys_s)),
    },
    Metric {
        key: MetricKey::Efficiency,
        label: "efficiency (of the lower ceiling)",
        unit: "%",
        direction: Direction::HigherIsBetter,
        extract: |s| Some(s.ceilings.as_ref()?.efficiency? * 100.0),
    },
];

/// One cell of one metric: its runs, their centre and interval, and the comparison
/// with the baseline cell.
#[derive(Debug, Serialize)]
pub struct CellStat {
    pub cell: String,
    pub n: usize,
    pub values: Vec<f64>,
    pub median: f64,
    /// The geometric mean of the runs (the mean, for a signed metric such as a slope):
    /// the centre the interval and the comparison are about.
    pub center: f64,
    /// Its 95 % t interval (on logs for a positive metric); `None` below
    /// [`stats::MIN_RUNS_FOR_VERDICT`] runs, where only the range is shown.
    pub ci: Option<[f64; 2]>,
    /// Lowest and highest run.
    pub range: [f64; 2],
    /// Against the baseline cell (absent for the baseline itself, and without a test:
    /// fewer than 2 runs a side, or a ratio of values that are not all positive).
    pub vs_baseline: Option<VsBaseline>,
    pub verdict: Option<Verdict>,
}

/// A cell against the baseline cell.
#[derive(Debug, Clone, Serialize)]
pub struct VsBaseline {
    /// Paired by round (interleaved runs) or Welch (groups not run in rounds).
    pub design: Design,
    /// A ratio of geometric means (t on logs) or a difference of means (t on values).
    pub scale: Scale,
    /// Rounds paired, or the smaller group's runs.
    pub n: usize,
    pub df: f64,
    pub estimate: f64,
    pub ci: [f64; 2],
    /// p-value of "the change is within the floor", and after the suite's correction.
    pub p: f64,
    pub p_adjusted: f64,
    /// The smallest change this comparison would call 80 % of the time at the level
    /// the family's first call needs: a fraction of the baseline for a ratio, the
    /// metric's unit for a difference.
    pub mde: f64,
    #[serde(skip)]
    test: Option<TTest>,
    #[serde(skip)]
    side: Option<Side>,
}

#[derive(Debug, Serialize)]
pub struct MetricTable {
    pub key: MetricKey,
    pub label: &'static str,
    pub unit: &'static str,
    pub direction: Direction,
    pub scale: Scale,
    pub cells: Vec<CellStat>,
}

#[derive(Debug, Serialize)]
pub struct Comparison {
    pub baseline_cell: String,
    pub floor_pct: f64,
    pub confidence: f64,
    /// Family-wise level of the verdicts, after the correction.
    pub alpha: f64,
    /// `benjamini_hochberg`, over every comparison of the suite (`family_size`).
    pub correction: &'static str,
    pub family_size: usize,
    /// Whether runs were paired by round where both cells had one (interleaved suites).
    pub paired_by_round: bool,
    pub metrics: Vec<MetricTable>,
}

/// Whether a metric is compared as a ratio (positive amounts) or a difference (a
/// slope can be 0 or negative).
fn scale_of(key: MetricKey) -> Scale {
    match key {
        MetricKey::RatchetPerCompaction | MetricKey::RatchetPerGib => Scale::Difference,
        _ => Scale::Ratio,
    }
}

/// A run's value of `m`: from its summary, except the floor slopes, which are
/// re-fitted from its floors after the ramp (the same rule for runs recorded before
/// the summary's slopes left the ramp out), with their standard errors.
fn value_of(m: &Metric, r: &RunRecord) -> Option<(f64, Option<f64>)> {
    let (per_compaction, per_gib) = match m.key {
        MetricKey::BeyondEngineP50 => return r.beyond_engine_p50_bytes.map(|b| (b / MIB, None)),
        MetricKey::RatchetPerCompaction | MetricKey::RatchetPerGib if !r.floors.is_empty() => {
            crate::results::ratchet::steady_slopes(&r.floors, r.summary.bytes_ingested)
        }
        _ => return (m.extract)(&r.summary).map(|v| (v, None)),
    };
    let (s, unit) = match m.key {
        MetricKey::RatchetPerCompaction => (per_compaction?, 1024.0),
        _ => (per_gib?, MIB),
    };
    Some((s.slope / unit, s.stderr.map(|e| e / unit)))
}

/// Compares `cells` (in display order) over the successful `runs`. Runs with a round
/// are paired by it where both cells have that round (`paired`), else compared as
/// groups; every comparison of the suite is one family for the correction.
pub fn compare(cells: &[String], runs: &[RunRecord], baseline: &str, floor_pct: f64, paired: bool) -> Comparison {
    let floor = floor_pct / 100.0;
    let mut metrics: Vec<MetricTable> = METRICS
        .iter()
        .map(|m| {
            let scale = scale_of(m.key);
            let of = |cell: &str| -> Vec<(Option<u32>, f64, Option<f64>)> {
                runs.iter()
                    .filter(|r| r.cell == cell)
                    .filter_map(|r| value_of(m, r).map(|(v, se)| (r.round.filter(|_| paired), v, se)))
                    .collect()
            };
            let base = of(baseline);
            let cells = cells.iter().map(|c| cell_stat(c, &of(c), &base, c == baseline, scale, floor)).collect();
            MetricTable { key: m.key, label: m.label, unit: m.unit, direction: m.direction, scale, cells }
        })
        // A metric no run recorded (e.g. efficiency under --no-ceilings) is left out.
        .filter(|t| t.cells.iter().any(|c| c.n > 0))
        .collect();
    let family_size = adjust_and_judge(&mut metrics, floor);
    Comparison {
        baseline_cell: baseline.to_owned(),
        floor_pct,
        confidence: stats::CONFIDENCE,
        alpha: stats::ALPHA,
        correction: "benjamini_hochberg",
        family_size,
        paired_by_round: paired,
        metrics,
    }
}

/// Adjusts every comparison's p-value over the whole family (Benjamini–Hochberg),
/// sets the verdicts, and the minimum detectable effects at the level the family's
/// first call needs (α ÷ family size, its strictest step); returns the family's size.
fn adjust_and_judge(metrics: &mut [MetricTable], floor: f64) -> usize {
    let ps: Vec<f64> =
        metrics.iter().flat_map(|m| m.cells.iter().filter_map(|c| c.vs_baseline.as_ref().map(|v| v.p))).collect();
    let adjusted = stats::multiplicity::benjamini_hochberg(&ps);
    let family = ps.len();
    let mut next = adjusted.into_iter();
    for table in metrics.iter_mut() {
        let (direction, floor) = (table.direction, floor_for(table.scale, floor));
        for c in table.cells.iter_mut() {
            let Some(v) = c.vs_baseline.as_mut() else { continue };
            v.p_adjusted = next.next().unwrap_or(f64::NAN);
            let (Some(test), Some(side)) = (v.test, v.side) else { continue };
            c.verdict = Some(stats::verdict((v.n, v.n), v.p_adjusted, side, direction));
            v.mde = test.minimum_detectable(floor, stats::ALPHA / family.max(1) as f64);
        }
    }
    family
}

/// The floor of a comparison: a fraction of the baseline for a ratio; none for a
/// difference (a slope's practical size has no natural share; any change beyond the
/// noise is called).
fn floor_for(scale: Scale, floor: f64) -> f64 {
    match scale {
        Scale::Ratio => floor,
        Scale::Difference => 0.0,
    }
}

type Point = (Option<u32>, f64, Option<f64>);

fn cell_stat(cell: &str, values: &[Point], base: &[Point], is_base: bool, scale: Scale, floor: f64) -> CellStat {
    let v: Vec<f64> = values.iter().map(|p| p.1).collect();
    let center_ci = match scale {
        Scale::Ratio => stats::compare::geometric(&v, stats::CONFIDENCE),
        Scale::Difference => stats::compare::arithmetic(&v, stats::CONFIDENCE),
    };
    let enough = v.len() >= stats::MIN_RUNS_FOR_VERDICT;
    let range = [v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(f64::NEG_INFINITY, f64::max)];
    let (vs_baseline, verdict) = if is_base {
        (None, Some(Verdict::Baseline))
    } else {
        (against(base, values, scale, floor_for(scale, floor)), None)
    };
    CellStat {
        cell: cell.to_owned(),
        n: v.len(),
        median: stats::median(&v),
        center: center_ci.map_or_else(|| stats::median(&v), |c| c.0),
        ci: center_ci.filter(|_| enough).map(|(_, (lo, hi))| [lo, hi]),
        range,
        values: v,
        vs_baseline,
        verdict,
    }
}

/// The comparison of `cand` with `base`: paired by round when at least 2 rounds have
/// both, else Welch; a slope's t also respects each run's own standard error (the
/// spread between runs cannot be less than what one run alone is unsure of).
fn against(base: &[Point], cand: &[Point], scale: Scale, floor: f64) -> Option<VsBaseline> {
    let pairs: Vec<(f64, f64)> =
        cand.iter().filter_map(|c| Some((base.iter().find(|b| b.0.is_some() && b.0 == c.0)?.1, c.1))).collect();
    let test = if pairs.len() >= 2 {
        stats::compare::paired(&pairs, scale)?
    } else {
        let within = |g: &[Point]| {
            let se: Vec<f64> = g.iter().filter_map(|p| p.2).collect();
            (se.len() == g.len() && !se.is_empty()).then(|| se.iter().map(|s| s * s).sum::<f64>() / se.len() as f64)
        };
        let (b, c): (Vec<f64>, Vec<f64>) = (base.iter().map(|p| p.1).collect(), cand.iter().map(|p| p.1).collect());
        stats::compare::welch(&b, &c, scale, within(base), within(cand))?
    };
    let (lo, hi) = test.interval(stats::CONFIDENCE);
    let (p, side) = test.p_beyond_floor(floor);
    Some(VsBaseline {
        design: test.design,
        scale,
        n: test.n.0.min(test.n.1),
        df: test.df,
        estimate: test.value(),
        ci: [lo, hi],
        p,
        p_adjusted: f64::NAN,
        mde: f64::NAN,
        test: Some(test),
        side: Some(side),
    })
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
        Some(Verdict::TooFewRuns) => "too few runs (< 3): none called",
        None => "no data",
    }
}

/// Metrics of the compact table printed at the end of `matrix` (the Markdown has all).
const TERMINAL_METRICS: &[MetricKey] =
    &[MetricKey::RssPeak, MetricKey::RssP50, MetricKey::Throughput, MetricKey::IngestP99];

/// A compact text table: one row per cell, for each key metric its centre and its
/// ratio to the baseline cell with the verdict (`=` no clear difference, `n<3` too few
/// runs); `comparison.md` has the intervals, the MDEs and every metric.
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
            let text = t.cells.get(i).map_or("–".into(), terminal_cell);
            let _ = write!(out, "  {text:>28}");
        }
        out.push('\n');
    }
    let _ = write!(
        out,
        "(geometric means; × ratio to {} with its verdict, {}; comparison.md has intervals and MDEs)",
        c.baseline_cell,
        method_words(c)
    );
    out
}

fn terminal_cell(s: &CellStat) -> String {
    let tag = match s.verdict {
        Some(Verdict::Baseline) => return format!("{} baseline", num(s.center)),
        None => return format!("{} no data", num(s.center)),
        Some(Verdict::Better) => "better",
        Some(Verdict::Worse) => "WORSE",
        Some(Verdict::NoClearDifference) => "=",
        Some(Verdict::TooFewRuns) => "n<3",
    };
    let ratio = s.vs_baseline.as_ref().map_or(f64::NAN, |v| v.estimate);
    format!("{} ×{:.2} {tag}", num(s.center), ratio)
}

/// "paired by round, t on logs, Benjamini–Hochberg over 32 comparisons".
fn method_words(c: &Comparison) -> String {
    let design = if c.paired_by_round { "paired by round where both cells ran it" } else { "Welch (groups)" };
    format!("{design}, t on logs, Benjamini–Hochberg over {} comparisons at α {}", c.family_size, c.alpha)
}

/// The Markdown rendering of a comparison, one table per metric.
pub fn markdown(c: &Comparison, title: &str, failed: &[String]) -> String {
    let md = crate::util::text::markdown_text;
    let mut out = format!("# {}\n\n", md(title));
    let _ = writeln!(
        out,
        "Per cell: the geometric mean of its runs with a 95 % t interval on logs (a slope: the mean, t on values); \
         with fewer than 3 runs only their range is shown and nothing is called. Against the baseline cell `{}`: \
         the ratio of geometric means ({}) with its 95 % interval (a slope: the difference), and a verdict only \
         when the change is beyond ±{} % (a slope: beyond 0) at α = {} after Benjamini–Hochberg over all {} \
         comparisons of this suite. MDE: the change each row would have called 80 % of the time with its own \
         noise and n, at the level the suite's first call needs (α ÷ {}) — \"no clear difference\" means \
         smaller than that, or not seen.\n",
        md(&c.baseline_cell),
        if c.paired_by_round {
            "paired by round where both cells ran it: the mean of per-round log ratios"
        } else {
            "Welch's t on the two groups' logs"
        },
        c.floor_pct,
        c.alpha,
        c.family_size,
        c.family_size
    );
    if !failed.is_empty() {
        let _ = writeln!(out, "Failed runs (excluded, see their `crash/`): {}\n", md(&failed.join(", ")));
    }
    for m in &c.metrics {
        markdown_table(&mut out, m);
    }
    out
}

fn markdown_table(out: &mut String, m: &MetricTable) {
    let better = match m.direction {
        Direction::LowerIsBetter => "lower is better",
        Direction::HigherIsBetter => "higher is better",
    };
    let _ = writeln!(out, "## {} ({}, {better})\n", m.label, m.unit);
    let (centre, against) = match m.scale {
        Scale::Ratio => ("geo. mean", "ratio"),
        Scale::Difference => ("mean", "difference"),
    };
    let _ = writeln!(
        out,
        "| cell | n | {centre} | 95 % CI (or range, n < 3) | {against} | 95 % CI | method | p adj. | MDE | verdict |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for s in &m.cells {
        let spread = match s.ci {
            Some([a, b]) => format!("{} – {}", num(a), num(b)),
            None if s.n == 0 => "–".into(),
            None => format!("range {} – {} (n = {})", num(s.range[0]), num(s.range[1]), s.n),
        };
        let (est, ci, method, p, mde) = match &s.vs_baseline {
            Some(v) => (
                format!("{:.3}", v.estimate),
                format!("{:.3} – {:.3}", v.ci[0], v.ci[1]),
                format!(
                    "{}, n {}",
                    match v.design {
                        Design::Paired => "paired",
                        Design::Welch => "Welch",
                    },
                    v.n
                ),
                format!("{:.3}", v.p_adjusted),
                match v.scale {
                    Scale::Ratio if v.mde.is_finite() => format!("{:.1} %", v.mde * 100.0),
                    Scale::Difference if v.mde.is_finite() => format!("{} {}", num(v.mde), m.unit),
                    _ => "–".into(),
                },
            ),
            None => Default::default(),
        };
        let verdict = match s.verdict {
            None if s.n > 0 && s.vs_baseline.is_none() && m.scale == Scale::Ratio => "no ratio (a value ≤ 0, or n < 2)",
            v => verdict_text(v),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {spread} | {est} | {ci} | {method} | {p} | {mde} | {verdict} |",
            crate::util::text::markdown_text(&s.cell),
            s.n,
            num(s.center)
        );
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cell: &str, round: u32, rss_mib: f64, mib_s: f64) -> RunRecord {
        RunRecord {
            cell: cell.into(),
            round: Some(round),
            summary: Summary::for_test(serde_json::json!({"rss_peak_bytes": (rss_mib * MIB) as u64,
                "throughput_mib_per_s": mib_s, "cpu_user_s": 1.0, "cpu_sys_s": 0.5})),
            floors: Vec::new(),
            beyond_engine_p50_bytes: None,
        }
    }

    fn table(c: &Comparison, key: MetricKey) -> Option<&Vec<CellStat>> {
        c.metrics.iter().find(|m| m.key == key).map(|m| &m.cells)
    }

    fn rocksdb_run(cell: &str, round: u32, accounted_mib: f64, beyond_mib: f64) -> RunRecord {
        let engine = serde_json::json!({"accounted_p50_bytes": (accounted_mib * MIB) as u64,
            "accounted_peak_bytes": 0, "memtables_peak_bytes": 0, "block_cache_peak_bytes": 0,
            "table_readers_peak_bytes": 0, "flush_periods": 0, "compaction_periods": 0});
        RunRecord {
            cell: cell.into(),
            round: Some(round),
            summary: Summary::for_test(serde_json::json!({"engine": engine})),
            floors: Vec::new(),
            beyond_engine_p50_bytes: Some(beyond_mib * MIB),
        }
    }

    #[test]
    fn a_rocksdb_suite_compares_the_engines_account_and_what_lies_beyond_it() {
        let mut runs = Vec::new();
        for (round, jitter) in [(1, 0.0), (2, 3.0), (3, -2.0), (4, 1.0), (5, -1.0)] {
            runs.push(rocksdb_run("glibc", round, 80.0 + jitter, 260.0 + 4.0 * jitter));
            runs.push(rocksdb_run("jemalloc", round, 80.0 - jitter, 135.0 + jitter));
        }
        let c = compare(&["glibc".into(), "jemalloc".into()], &runs, "glibc", 5.0, true);
        let beyond = &table(&c, MetricKey::BeyondEngineP50).expect("the metric is compared")[1];
        let v = beyond.vs_baseline.as_ref().unwrap();
        assert!((v.estimate - 135.0 / 260.0).abs() < 0.02, "{}", v.estimate);
        assert_eq!(beyond.verdict, Some(Verdict::Better));
        let accounted = &table(&c, MetricKey::EngineAccountedP50).unwrap()[1];
        assert_eq!(accounted.verdict, Some(Verdict::NoClearDifference), "the engine's own account is the same");
        // A native suite has neither figure: both metrics are left out, not shown empty.
        let native =
            compare(&["a".into(), "b".into()], &[run("a", 1, 1.0, 1.0), run("b", 1, 1.0, 1.0)], "a", 5.0, true);
        assert!(
            table(&native, MetricKey::BeyondEngineP50).is_none()
                && table(&native, MetricKey::EngineAccountedP50).is_none()
        );
    }

    #[test]
    fn compares_cells_against_the_baseline() {
        let runs: Vec<RunRecord> = [(150.0, 200.0), (152.0, 210.0), (149.0, 190.0)]
            .iter()
            .enumerate()
            .map(|(i, &(r, t))| run("streaming", i as u32 + 1, r, t))
            .chain(
                [(1300.0, 205.0), (1280.0, 195.0), (1310.0, 200.0)]
                    .iter()
                    .enumerate()
                    .map(|(i, &(r, t))| run("buffered", i as u32 + 1, r, t)),
            )
            .collect();
        let c = compare(&["streaming".into(), "buffered".into()], &runs, "streaming", 5.0, true);
        let rss = table(&c, MetricKey::RssPeak).unwrap();
        assert_eq!(rss[0].verdict, Some(Verdict::Baseline));
        assert_eq!(rss[1].verdict, Some(Verdict::Worse));
        let v = rss[1].vs_baseline.as_ref().unwrap();
        assert_eq!((v.design, v.n), (Design::Paired, 3));
        assert!((v.estimate - 8.63).abs() < 0.05, "{}", v.estimate);
        assert!(v.mde.is_finite() && v.p_adjusted <= 0.05);
        let tput = table(&c, MetricKey::Throughput).unwrap();
        assert_eq!(tput[1].verdict, Some(Verdict::NoClearDifference));
        assert!(table(&c, MetricKey::HeapLivePeak).is_none(), "no heap values in the summaries: no table");
        let md = markdown(&c, "t", &[]);
        assert!(md.contains("| buffered | 3 | 1297 | "), "{md}");
        assert!(md.contains("**worse**") && md.contains("paired, n 3") && md.contains("Benjamini–Hochberg"), "{md}");
        // The same runs without rounds (a merged report) are compared as groups.
        let unpaired = compare(&["streaming".into(), "buffered".into()], &runs, "streaming", 5.0, false);
        let v = table(&unpaired, MetricKey::RssPeak).unwrap()[1].vs_baseline.clone().unwrap();
        assert_eq!(v.design, Design::Welch);
    }

    fn slope(cell: &str, bytes_per_compaction: f64) -> RunRecord {
        let ratchet = serde_json::json!({"floors": 5, "rss_floor_first_bytes": 1, "rss_floor_last_bytes": 2,
            "slope_bytes_per_compaction": bytes_per_compaction, "slope_bytes_per_gib": null});
        RunRecord {
            cell: cell.into(),
            round: None,
            summary: Summary::for_test(serde_json::json!({"rss_ratchet": ratchet})),
            floors: Vec::new(),
            beyond_engine_p50_bytes: None,
        }
    }

    #[test]
    fn slopes_are_compared_as_differences_even_across_zero() {
        let runs: Vec<RunRecord> = [10.0, 11.0, 12.0]
            .iter()
            .map(|&k| slope("a", k * 1024.0))
            .chain([40.0, 41.0, 42.0].iter().map(|&k| slope("b", k * 1024.0)))
            .chain([-3.0, 5.0, 6.0].iter().map(|&k| slope("c", k * 1024.0)))
            .collect();
        let c = compare(&["a".into(), "b".into(), "c".into()], &runs, "a", 5.0, true);
        let t = c.metrics.iter().find(|m| m.key == MetricKey::RatchetPerCompaction).unwrap();
        assert_eq!((t.label, t.unit, t.scale), ("RSS floor slope per compaction", "KiB", Scale::Difference));
        assert_eq!(t.cells[0].center, 11.0);
        assert_eq!(t.cells[1].verdict, Some(Verdict::Worse));
        let c_vs = t.cells[2].vs_baseline.as_ref().unwrap();
        assert!((c_vs.estimate - (8.0 / 3.0 - 11.0)).abs() < 1e-9, "{}", c_vs.estimate);
        assert_eq!(t.cells[2].verdict, Some(Verdict::NoClearDifference), "a wide spread across 0");
        assert!(markdown(&c, "t", &[]).contains("| difference |"));
    }

    /// Regression (verdicts issue): with three runs a side the "95 % CI" was the
    /// range of the runs, and complete separation was called. Now fewer than 3 runs
    /// show their range, labelled, and call nothing; an interval is a t interval.
    #[test]
    fn no_interval_and_no_verdict_from_fewer_than_three_runs() {
        let runs: Vec<RunRecord> = [150.0, 151.0]
            .iter()
            .enumerate()
            .map(|(i, &r)| run("a", i as u32 + 1, r, 200.0))
            .chain([300.0, 310.0].iter().enumerate().map(|(i, &r)| run("b", i as u32 + 1, r, 200.0)))
            .chain([400.0].iter().map(|&r| run("c", 1, r, 200.0)))
            .collect();
        let c = compare(&["a".into(), "b".into(), "c".into()], &runs, "a", 5.0, true);
        let rss = table(&c, MetricKey::RssPeak).unwrap();
        assert_eq!(rss[1].verdict, Some(Verdict::TooFewRuns));
        assert_eq!(rss[1].ci, None);
        let md = markdown(&c, "t", &[]);
        assert!(md.contains("range 300 – 310 (n = 2)") && md.contains("too few runs (< 3): none called"), "{md}");
        assert!(!md.contains("bootstrap"), "{md}");
    }
}

//! The RSS ratchet of a long run: whether the node's resident set falls back to the
//! same floor after each compaction or creeps upward from one compaction to the next
//! (allocator retention, fragmentation), and how much the process holds beyond its
//! live heap over the run.
//!
//! Owns `ratchet.csv` (the floors, one row per completed compaction that a sample
//! followed, with the highest RSS of the same window) and the figures of
//! `summary.json` computed from them and from the node's stats: `rss_ratchet`,
//! `rss_window_peaks`, `retained_p50_bytes`, `retained_max_bytes`,
//! `retained_last_bytes`, `arenas_first`, `arenas_max`, `arenas_last`.
//!
//! One time axis: a sample's `t_ms` (the sampler's monotonic clock since the node's
//! spawn) and a node event's `t_ms` (the node's wall-clock stamp minus time zero's, see
//! `RunClock`) count from the same zero, so they are compared as they are.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::latest_at_or_before;
use crate::error::input;
use crate::record::events::{CompactionSpan, StatsPoint};
use crate::record::sample::Sample;
use crate::stats::slope::Slope;
use crate::units::{fmt_bytes, MIB};

/// The floors' file in a run directory (written only when there is a floor).
pub const RATCHET_CSV: &str = "ratchet.csv";
/// Its header line.
pub const CSV_HEADER: &str = "compaction,shard,t_ms,rss_floor_bytes,bytes_acked,peak_t_ms,rss_peak_bytes";
/// The header before the window's peak was recorded (read back without peaks).
const CSV_HEADER_FLOORS_ONLY: &str = "compaction,shard,t_ms,rss_floor_bytes,bytes_acked";
/// Fewest floors a slope is fitted to.
const MIN_FLOORS_FOR_SLOPE: usize = 3;
/// Window peaks and floor slopes are taken once this share of the run's bytes is in
/// (the cache and index fill, the first shards seal): the steady state, not the ramp.
/// One cut for both (in the allocators soak suite 61–144 % of a glibc run's floor rise
/// came in its first quarter; a slope fitted through that measured the ramp).
pub const STEADY_AFTER_SHARE: f64 = 0.10;
/// Fewest windows after the ramp whose peaks are summarized.
const MIN_WINDOWS_FOR_PEAKS: usize = 3;
const GIB: f64 = (1u64 << 30) as f64;

/// The lowest sampled RSS after one completed compaction, until the next one completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Floor {
    /// The compaction's position (from 1) among the run's completed compactions, by end time.
    pub compaction: u64,
    pub shard: u64,
    /// When the lowest sample was taken.
    pub t_ms: u64,
    pub rss_floor_bytes: u64,
    /// Bytes acknowledged by then (the sample's).
    pub bytes_acked: u64,
    /// The highest sampled RSS of the same window, and when; `None` in files written
    /// before peaks were recorded.
    pub peak: Option<WindowPeak>,
}

/// The highest RSS sampled in one compaction window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPeak {
    pub t_ms: u64,
    pub rss_bytes: u64,
}

/// `summary.json` `rss_window_peaks`: whether the peak RSS stays flat in a long run —
/// the highest RSS of each compaction window (from one compaction's end to the next's)
/// whose floor came once the first tenth of the run's bytes was acknowledged. Absent
/// with fewer than 3 such windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowPeaks {
    pub windows: u64,
    /// Windows whose floor came before this many bytes were acknowledged were left out.
    pub after_bytes_acked: u64,
    pub min_bytes: u64,
    pub median_bytes: u64,
    pub max_bytes: u64,
}

/// `summary.json` `rss_ratchet`: the floors in brief (the list is `ratchet.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatchetSummary {
    pub floors: u64,
    pub rss_floor_first_bytes: u64,
    pub rss_floor_last_bytes: u64,
    /// Least-squares slope of the floor over the compaction's position, fitted to the
    /// floors after the ramp (see `slope_after_bytes_acked`); absent with fewer than 3
    /// of them.
    pub slope_bytes_per_compaction: Option<f64>,
    /// Least-squares slope of the floor over GiB acknowledged, the same floors; absent
    /// with fewer than 3 or when they all fell at the same acknowledged count.
    pub slope_bytes_per_gib: Option<f64>,
    /// The slopes' standard errors (this run's own uncertainty; absent with fewer than
    /// 3 floors, and in runs recorded before they were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slope_stderr_bytes_per_compaction: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slope_stderr_bytes_per_gib: Option<f64>,
    /// Floors before this many bytes were acknowledged (the first tenth, as for the
    /// window peaks) are left out of the slopes; absent in runs recorded before the
    /// slopes left out the ramp (their slopes include it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slope_after_bytes_acked: Option<u64>,
}

/// A run's floor slopes after the ramp: per compaction and per GiB acknowledged.
pub fn steady_slopes(floors: &[Floor], bytes_acked_total: u64) -> (Option<Slope>, Option<Slope>) {
    let after = (bytes_acked_total as f64 * STEADY_AFTER_SHARE) as u64;
    let kept: Vec<&Floor> = floors.iter().filter(|f| f.bytes_acked >= after).collect();
    if kept.len() < MIN_FLOORS_FOR_SLOPE {
        return (None, None);
    }
    let fit = |x: fn(&Floor) -> f64| {
        crate::stats::slope::ols(&kept.iter().map(|f| (x(f), f.rss_floor_bytes as f64)).collect::<Vec<_>>())
    };
    (fit(|f| f.compaction as f64), fit(|f| f.bytes_acked as f64 / GIB))
}

/// Live heap against RSS over the run, and glibc's arena count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    pub p50_bytes: Option<i64>,
    pub max_bytes: Option<i64>,
    pub last_bytes: Option<i64>,
    pub arenas_first: Option<u64>,
    pub arenas_max: Option<u64>,
    pub arenas_last: Option<u64>,
}

/// The floor after each completed compaction (ordered by end): the lowest RSS sampled
/// from its end up to the next compaction's end (the last one has none: no floor).
/// A window without a sample has no floor. `samples` are in time order.
pub fn floors(samples: &[Sample], compactions: &[CompactionSpan]) -> Vec<Floor> {
    let mut ends: Vec<(u64, u64, u64)> =
        compactions.iter().filter_map(|c| Some((c.end_ms?, c.start_ms, c.shard))).collect();
    ends.sort_unstable();
    let at = |t: u64| samples.partition_point(|s| s.t_ms < t);
    (0..ends.len())
        .filter_map(|i| {
            let (end, _, shard) = ends[i];
            // The last compaction has no next one: its window would run into the node's
            // shutdown, when the session's memory (queues, cache) is freed, and drag
            // the slope down; it gets no floor.
            let until = at(ends.get(i + 1)?.0);
            let window = samples.get(at(end)..until)?;
            let lowest = window.iter().min_by_key(|s| s.mem.rss)?;
            // The first of equal highs: max_by_key would take the last.
            let highest = window.iter().rev().max_by_key(|s| s.mem.rss)?;
            Some(Floor {
                compaction: i as u64 + 1,
                shard,
                t_ms: lowest.t_ms,
                rss_floor_bytes: lowest.mem.rss,
                bytes_acked: lowest.bytes_acked,
                peak: Some(WindowPeak { t_ms: highest.t_ms, rss_bytes: highest.mem.rss }),
            })
        })
        .collect()
}

/// The floors in brief; `None` without a floor. The slopes leave out the ramp (the
/// floors before the first tenth of `bytes_acked_total`, see [`steady_slopes`]).
pub fn summarize(floors: &[Floor], bytes_acked_total: u64) -> Option<RatchetSummary> {
    let (first, last) = (floors.first()?, floors.last()?);
    let (per_compaction, per_gib) = steady_slopes(floors, bytes_acked_total);
    let round = |s: Option<Slope>| s.map(|s| s.slope.round());
    let stderr = |s: Option<Slope>| s.and_then(|s| s.stderr).map(f64::round);
    Some(RatchetSummary {
        floors: floors.len() as u64,
        rss_floor_first_bytes: first.rss_floor_bytes,
        rss_floor_last_bytes: last.rss_floor_bytes,
        slope_bytes_per_compaction: round(per_compaction),
        slope_bytes_per_gib: round(per_gib),
        slope_stderr_bytes_per_compaction: stderr(per_compaction),
        slope_stderr_bytes_per_gib: stderr(per_gib),
        slope_after_bytes_acked: Some((bytes_acked_total as f64 * STEADY_AFTER_SHARE) as u64),
    })
}

/// The window peaks after the ramp in brief: windows whose floor came once the first
/// tenth of `bytes_acked_total` was acknowledged; `None` with fewer than 3 of them.
pub fn window_peaks(floors: &[Floor], bytes_acked_total: u64) -> Option<WindowPeaks> {
    let after = (bytes_acked_total as f64 * STEADY_AFTER_SHARE) as u64;
    let mut peaks: Vec<u64> =
        floors.iter().filter(|f| f.bytes_acked >= after).filter_map(|f| Some(f.peak?.rss_bytes)).collect();
    if peaks.len() < MIN_WINDOWS_FOR_PEAKS {
        return None;
    }
    peaks.sort_unstable();
    Some(WindowPeaks {
        windows: peaks.len() as u64,
        after_bytes_acked: after,
        min_bytes: peaks[0],
        median_bytes: peaks[(peaks.len() - 1) / 2],
        max_bytes: peaks[peaks.len() - 1],
    })
}

impl WindowPeaks {
    /// The largest distance of the lowest or highest peak from the median, percent.
    pub fn spread_pct(&self) -> f64 {
        let m = self.median_bytes as f64;
        (self.max_bytes as f64 - m).max(m - self.min_bytes as f64) / m * 100.0
    }

    /// The human summary's line.
    pub fn human(&self) -> String {
        let pct = |b: u64| (b as f64 / self.median_bytes as f64 - 1.0) * 100.0;
        format!(
            "RSS peaks    median {} over {} compaction windows after the first 10 % ingested, {:+.1} % … {:+.1} % (within ±{:.1} %)",
            fmt_bytes(self.median_bytes as f64),
            self.windows,
            pct(self.min_bytes),
            pct(self.max_bytes),
            self.spread_pct()
        )
    }
}

/// For each stats event that counted a live heap, the RSS of the latest sample at or
/// before it minus that heap (a node that does not count its heap reports 0).
pub fn retained_series(samples: &[Sample], stats: &[StatsPoint]) -> Vec<(u64, i64)> {
    let counted: Vec<&StatsPoint> = stats.iter().filter(|p| p.heap_live_bytes > 0).collect();
    let rss = latest_at_or_before(counted.iter().map(|p| p.t_ms), samples, |s| s.t_ms);
    rss.zip(&counted).filter_map(|(s, p)| Some((p.t_ms, s?.mem.rss as i64 - p.heap_live_bytes))).collect()
}

/// Retention over the run ([`retained_series`]: its median, maximum and last value) and
/// the arena count (first, maximum, last) from the node's stats.
pub fn retention(samples: &[Sample], stats: &[StatsPoint]) -> Retention {
    let series: Vec<i64> = retained_series(samples, stats).into_iter().map(|p| p.1).collect();
    let mut sorted = series.clone();
    sorted.sort_unstable();
    let arenas = || stats.iter().filter_map(|p| p.arenas);
    Retention {
        p50_bytes: sorted.get(sorted.len().saturating_sub(1) / 2).copied(),
        max_bytes: sorted.last().copied(),
        last_bytes: series.last().copied(),
        arenas_first: arenas().next(),
        arenas_max: arenas().max(),
        arenas_last: arenas().next_back(),
    }
}

/// `ratchet.csv`; `None` without a floor (no file is written then).
pub fn csv(floors: &[Floor]) -> Option<String> {
    if floors.is_empty() {
        return None;
    }
    let mut out = format!("{CSV_HEADER}\n");
    for f in floors {
        let _ = write!(out, "{},{},{},{},{}", f.compaction, f.shard, f.t_ms, f.rss_floor_bytes, f.bytes_acked);
        let _ = match f.peak {
            Some(p) => writeln!(out, ",{},{}", p.t_ms, p.rss_bytes),
            None => writeln!(out, ",,"),
        };
    }
    Some(out)
}

/// Reads `ratchet.csv` back (no file: no floors); errors name file and line (exit 2).
pub fn read_csv(path: &Path) -> Result<Vec<Floor>> {
    if fs::symlink_metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        return Ok(Vec::new());
    }
    let text = crate::util::fsx::read_result_file(path, crate::record::sample::MAX_SAMPLES_BYTES, "ratchet floors")?;
    if !text.is_empty() && !text.ends_with('\n') {
        let n = text.lines().count();
        return Err(input(format!("{}:{n}: the last row has no newline: the file was cut short", path.display())));
    }
    let mut lines = text.lines();
    let columns = match lines.next() {
        Some(CSV_HEADER) => 7,
        Some(CSV_HEADER_FLOORS_ONLY) => 5,
        got => {
            return Err(input(format!(
                "{}:1: expected the header `{CSV_HEADER}`, got `{}`",
                path.display(),
                crate::util::text::quote_line(got.unwrap_or(""))
            )))
        }
    };
    lines.enumerate().map(|(i, line)| parse_row(line, columns).ok_or_else(|| bad_row(path, i + 2, line))).collect()
}

/// A row of 5 whole numbers, or of 7 whose last two (the peak) may both be empty.
fn parse_row(line: &str, columns: usize) -> Option<Floor> {
    let cells: Vec<&str> = line.split(',').collect();
    if cells.len() != columns {
        return None;
    }
    let whole = |c: &str| c.parse::<u64>().ok();
    let v: Vec<u64> = cells[..5].iter().map(|c| whole(c)).collect::<Option<_>>()?;
    let peak = match cells.get(5..) {
        Some([t, rss]) if t.is_empty() && rss.is_empty() => None,
        Some([t, rss]) => Some(WindowPeak { t_ms: whole(t)?, rss_bytes: whole(rss)? }),
        _ => None,
    };
    let [compaction, shard, t_ms, rss_floor_bytes, bytes_acked] = v[..] else { return None };
    Some(Floor { compaction, shard, t_ms, rss_floor_bytes, bytes_acked, peak })
}

fn bad_row(path: &Path, line_no: usize, line: &str) -> anyhow::Error {
    let got = crate::util::text::quote_line(line);
    input(format!("{}:{line_no}: expected whole numbers ({CSV_HEADER}), got `{got}`", path.display()))
}

impl RatchetSummary {
    /// The human summary's line.
    pub fn human(&self) -> String {
        let se = |s: Option<f64>| s.map_or(String::new(), |s| format!(" ± {:.2}", s / MIB));
        let slopes = match (self.slope_bytes_per_compaction, self.slope_bytes_per_gib) {
            (Some(c), Some(g)) => format!(
                " ({:+.2}{} MiB/compaction, {:+.2}{} MiB/GiB ingested, after the first 10 %)",
                c / MIB,
                se(self.slope_stderr_bytes_per_compaction),
                g / MIB,
                se(self.slope_stderr_bytes_per_gib)
            ),
            (Some(c), None) => {
                format!(
                    " ({:+.2}{} MiB/compaction, after the first 10 %)",
                    c / MIB,
                    se(self.slope_stderr_bytes_per_compaction)
                )
            }
            _ => format!(" (no slope from fewer than {MIN_FLOORS_FOR_SLOPE} floors after the first 10 %)"),
        };
        format!(
            "RSS floor    {} → {} after {} compactions{slopes}",
            fmt_bytes(self.rss_floor_first_bytes as f64),
            fmt_bytes(self.rss_floor_last_bytes as f64),
            self.floors
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::ProcMemory;

    fn sample(t_ms: u64, rss: u64, bytes_acked: u64) -> Sample {
        Sample { t_ms, mem: ProcMemory { rss, ..Default::default() }, bytes_acked, ..Default::default() }
    }

    fn done(shard: u64, start_ms: u64, end_ms: u64) -> CompactionSpan {
        CompactionSpan { shard, start_ms, end_ms: Some(end_ms), bytes: 0, bytes_out: 0 }
    }

    fn floor(compaction: u64, rss_floor_bytes: u64, bytes_acked: u64) -> Floor {
        Floor { compaction, shard: compaction, t_ms: compaction * 1000, rss_floor_bytes, bytes_acked, peak: None }
    }

    #[test]
    fn the_floor_is_the_lowest_sample_from_each_end_to_the_next() {
        let samples: Vec<Sample> = [(900, 10), (1000, 50), (1100, 40), (1200, 45), (2000, 70), (2100, 60), (2500, 65)]
            .iter()
            .map(|&(t, rss)| sample(t, rss, t * 10))
            .collect();
        // Listed out of end order, one still running (no floor), one whose window
        // (2050..2050, the next ends at the same moment) holds no sample.
        let spans = [
            done(7, 1800, 2000),
            done(3, 500, 1000),
            CompactionSpan { shard: 9, start_ms: 2200, end_ms: None, bytes: 0, bytes_out: 0 },
            done(8, 1900, 2050),
            done(5, 1950, 2050),
        ];
        let f = floors(&samples, &spans);
        assert_eq!(
            f,
            [
                // 900 ms (RSS 10) is before the first end: not in its window.
                // Its peak: 1000 ms (RSS 50), the highest from its end to the next.
                Floor {
                    compaction: 1,
                    shard: 3,
                    t_ms: 1100,
                    rss_floor_bytes: 40,
                    bytes_acked: 11_000,
                    peak: Some(WindowPeak { t_ms: 1000, rss_bytes: 50 }),
                },
                // Window 2000..2050: only the 2000 ms sample (the end itself counts).
                Floor {
                    compaction: 2,
                    shard: 7,
                    t_ms: 2000,
                    rss_floor_bytes: 70,
                    bytes_acked: 20_000,
                    peak: Some(WindowPeak { t_ms: 2000, rss_bytes: 70 }),
                },
                // Compaction 3 (shard 8, 2050..2050: ends tied, the earlier start first)
                // has no sample; 4 (shard 5), the last, has no next one: no floor.
            ]
        );
    }

    #[test]
    fn windows_and_retention_read_samples_and_events_on_one_axis() {
        // Samples and events both count from the node's spawn: a compaction ending at
        // 1000 ms owns the 1000 ms sample, not the one a millisecond before.
        let samples = [sample(999, 1, 0), sample(1000, 80, 0), sample(1500, 90, 0)];
        assert_eq!(floors(&samples, &[done(1, 0, 1000), done(2, 900, 1600)])[0].t_ms, 1000);
        // A stats event is paired with the latest sample at or before it, never a later one.
        let stats = [
            StatsPoint { t_ms: 998, heap_live_bytes: 5, ..Default::default() },
            StatsPoint { t_ms: 1499, heap_live_bytes: 30, ..Default::default() },
            StatsPoint { t_ms: 1500, heap_live_bytes: 0, ..Default::default() },
        ];
        assert_eq!(retained_series(&samples, &stats), [(1499, 50)], "998: no sample yet; 1500: heap not counted");
    }

    #[test]
    fn slopes_of_a_linear_ratchet_are_exact() {
        // +2 MiB per compaction, 0.5 GiB acknowledged per compaction: +4 MiB per GiB.
        let mib = 1u64 << 20;
        let f: Vec<Floor> = (1..=6).map(|i| floor(i, 100 * mib + 2 * mib * i, i * (1 << 29))).collect();
        let s = summarize(&f, 0).unwrap();
        assert_eq!(s.floors, 6);
        assert_eq!((s.rss_floor_first_bytes, s.rss_floor_last_bytes), (102 * mib, 112 * mib));
        assert_eq!(s.slope_bytes_per_compaction, Some(2.0 * mib as f64));
        assert_eq!(s.slope_bytes_per_gib, Some(4.0 * mib as f64));
        assert_eq!((s.slope_stderr_bytes_per_compaction, s.slope_stderr_bytes_per_gib), (Some(0.0), Some(0.0)));
        assert_eq!(
            s.human(),
            "RSS floor    102.00 MiB → 112.00 MiB after 6 compactions (+2.00 ± 0.00 MiB/compaction, +4.00 ± 0.00 MiB/GiB ingested, after the first 10 %)"
        );
        // A floor that falls has a negative slope.
        let falling: Vec<Floor> = (1..=4).map(|i| floor(i, 1000 - 100 * i, i)).collect();
        assert_eq!(summarize(&falling, 0).unwrap().slope_bytes_per_compaction, Some(-100.0));
    }

    /// Regression (verdicts issue): the floor slope was fitted through the start-up ramp
    /// (cache and index filling), which the window peaks already left out: a run that
    /// climbs 30 MiB in its first tenth and then stays flat got a steep "ratchet".
    #[test]
    fn the_slope_leaves_out_the_first_tenth_like_the_window_peaks() {
        let mib = 1u64 << 20;
        // 20 floors, one per 5 % of 1000 bytes: the first two (before 10 %) climb.
        let f: Vec<Floor> =
            (1..=20).map(|i| floor(i, if i <= 1 { 10 * mib } else { 100 * mib + (i % 2) * mib }, i * 50)).collect();
        let s = summarize(&f, 1000).unwrap();
        assert_eq!(s.slope_after_bytes_acked, Some(100));
        let slope = s.slope_bytes_per_compaction.unwrap();
        assert!(slope.abs() < 0.1 * mib as f64, "flat after the ramp: {slope}");
        let with_ramp = crate::stats::slope::ols(
            &f.iter().map(|f| (f.compaction as f64, f.rss_floor_bytes as f64)).collect::<Vec<_>>(),
        );
        assert!(with_ramp.unwrap().slope > 0.5 * mib as f64, "the control: the ramp alone makes a slope");
        assert!(s.slope_stderr_bytes_per_compaction.unwrap() > 0.0);
    }

    #[test]
    fn fewer_than_three_floors_or_one_acked_count_have_no_slope() {
        let two = [floor(1, 10, 1), floor(2, 20, 2)];
        let s = summarize(&two, 0).unwrap();
        assert_eq!((s.slope_bytes_per_compaction, s.slope_bytes_per_gib), (None, None));
        assert!(s.human().ends_with("(no slope from fewer than 3 floors after the first 10 %)"), "{}", s.human());
        assert_eq!(summarize(&[], 0), None);
        // Every floor after ingest ended: one acknowledged count, no slope per GiB.
        let after = [floor(1, 10, 7), floor(2, 20, 7), floor(3, 30, 7)];
        let s = summarize(&after, 0).unwrap();
        assert_eq!((s.slope_bytes_per_compaction, s.slope_bytes_per_gib), (Some(10.0), None));
    }

    #[test]
    fn retention_and_arenas_over_time() {
        let samples: Vec<Sample> = (0..5).map(|i| sample(i * 100, 1000 + i * 100, 0)).collect();
        let heap = [900, 800, 1000, 700, 1200];
        let stats: Vec<StatsPoint> = (0..5)
            .map(|i| StatsPoint {
                t_ms: i * 100 + 50,
                heap_live_bytes: heap[i as usize],
                arenas: [None, Some(2), Some(8), Some(4), Some(4)][i as usize],
                ..Default::default()
            })
            .collect();
        // RSS − heap: 100, 300, 200, 600, 200.
        let r = retention(&samples, &stats);
        assert_eq!((r.p50_bytes, r.max_bytes, r.last_bytes), (Some(200), Some(600), Some(200)));
        assert_eq!((r.arenas_first, r.arenas_max, r.arenas_last), (Some(2), Some(8), Some(4)));
        assert_eq!(retention(&samples, &[]), Retention::default());
    }

    #[test]
    fn the_csv_reads_back_and_bad_rows_are_located() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join(RATCHET_CSV);
        assert!(read_csv(&path).unwrap().is_empty(), "no file, no floors");
        assert_eq!(csv(&[]), None);
        let mut f = [floor(1, 10, 3), floor(3, 12, 9)];
        f[1].peak = Some(WindowPeak { t_ms: 3500, rss_bytes: 20 });
        let text = csv(&f).unwrap();
        assert_eq!(
            text,
            "compaction,shard,t_ms,rss_floor_bytes,bytes_acked,peak_t_ms,rss_peak_bytes\n1,1,1000,10,3,,\n3,3,3000,12,9,3500,20\n"
        );
        fs::write(&path, &text).unwrap();
        assert_eq!(read_csv(&path).unwrap(), f);
        for bad in ["4,4,4000,x,1,,", "4,4,4000,1,1,5000,", "4,4,4000,1,1"] {
            fs::write(&path, format!("{text}{bad}\n")).unwrap();
            let err = read_csv(&path).unwrap_err().to_string();
            assert!(err.contains("ratchet.csv:4:") && err.contains(bad), "{err}");
        }
        // Files written before peaks were recorded read back without them.
        fs::write(&path, "compaction,shard,t_ms,rss_floor_bytes,bytes_acked\n1,1,1000,10,3\n").unwrap();
        assert_eq!(read_csv(&path).unwrap(), [floor(1, 10, 3)]);
        fs::write(&path, "compaction,shard\n").unwrap();
        assert!(read_csv(&path).unwrap_err().to_string().contains("ratchet.csv:1: expected the header"));
    }

    #[test]
    fn window_peaks_leave_out_the_first_tenth_and_need_three_windows() {
        let with_peak = |c: u64, acked: u64, rss: u64| Floor {
            peak: Some(WindowPeak { t_ms: c * 1000 + 500, rss_bytes: rss }),
            ..floor(c, rss / 2, acked)
        };
        // 1,000 bytes in all: windows before 100 acknowledged are the ramp.
        let f = [
            with_peak(1, 50, 400),
            with_peak(2, 100, 190),
            with_peak(3, 400, 200),
            with_peak(4, 700, 210),
            floor(5, 100, 800),
            with_peak(6, 900, 220),
        ];
        let p = window_peaks(&f, 1000).unwrap();
        assert_eq!(
            p,
            WindowPeaks { windows: 4, after_bytes_acked: 100, min_bytes: 190, median_bytes: 200, max_bytes: 220 }
        );
        assert_eq!(p.spread_pct(), 10.0);
        assert!(
            p.human().contains("over 4 compaction windows") && p.human().ends_with("-5.0 % … +10.0 % (within ±10.0 %)"),
            "{}",
            p.human()
        );
        assert_eq!(window_peaks(&f[..3], 1000), None, "two windows after the ramp");
    }
}

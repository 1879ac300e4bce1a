//! The files of a run directory (docs/metrics-and-files.md): names, `samples.csv`, `summary.json`.
//!
//! # Layout
//! - this module: the run directory name, `samples.csv`, atomic JSON writes.
//! - [`summary`]: `summary.json` (computed by `run/summarize.rs`, `Summary::from_run`), and the
//!   human summary printed at the end.
//! - [`config_file`]: `config.json`, typed.
//! - [`memory`]: time-weighted RSS figures.
//! - [`ratchet`]: the RSS floor after each compaction (`ratchet.csv`), its slopes, and
//!   retention (RSS − live heap) and arena counts over the run.
//! - [`load`]: a run directory read back (the only input of charts and comparisons).
//! - [`suite`]: `suite.json`, a suite's runs, its comparison and charts.

pub mod config_file;
pub mod load;
pub mod memory;
pub mod ratchet;
pub mod suite;
pub mod summary;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Result;

use crate::record::events::StatsPoint;
use crate::record::sample::Sample;

/// Writes `v` as pretty-printed JSON with a final newline, atomically (see [`write_atomic`]).
pub fn write_json(path: &Path, v: &impl serde::Serialize) -> Result<()> {
    write_atomic(path, (serde_json::to_string_pretty(v)? + "\n").as_bytes())
}

/// Writes `bytes` to `path` atomically, never through a symlink or over anything but
/// a regular file (see `util::fsx`). The error names the full path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::util::fsx::write_atomic(path, bytes)
}

/// Default parent of run directories.
pub const RESULTS_DIR: &str = "results";

/// `results/<UTC timestamp>_<cell>`.
pub fn default_run_dir(start: SystemTime, cell: &str) -> PathBuf {
    Path::new(RESULTS_DIR).join(format!("{}_{cell}", crate::time::stamp(start)))
}

/// Column names of `samples.csv`, in order.
pub const SAMPLE_COLUMNS: &[&str] = &[
    "t_ms",
    "rss_bytes",
    "rss_anon_bytes",
    "rss_file_bytes",
    "hwm_bytes",
    "swap_bytes",
    "cpu_user_ms",
    "cpu_sys_ms",
    "heap_live_bytes",
    "alloc_count",
    "alloc_bytes_total",
    "allocator_resident_bytes",
    "arenas",
    "io_read_bytes",
    "io_write_bytes",
    "blocks_acked",
    "bytes_acked",
    "queue_hash",
    "queue_write",
    "compactions_running",
    "sys_cpu_busy_pct",
    "sys_iowait_pct",
    "mem_available_bytes",
    "engine_memtables_bytes",
    "engine_block_cache_bytes",
    "engine_table_readers_bytes",
    "engine_block_cache_pinned_bytes",
];

/// For rows at ascending times, the latest of `stats` (also ascending by `time`) at or
/// before each row: how the node's stats events are merged into sample rows, both when
/// `samples.csv` is written and when a run recorded before one time zero is repaired.
pub fn latest_at_or_before<'a, S, T: PartialOrd>(
    rows: impl IntoIterator<Item = T> + 'a,
    stats: &'a [S],
    time: impl Fn(&S) -> T + 'a,
) -> impl Iterator<Item = Option<&'a S>> + 'a {
    let mut next = 0;
    rows.into_iter().map(move |t| {
        while next < stats.len() && time(&stats[next]) <= t {
            next += 1;
        }
        next.checked_sub(1).map(|i| &stats[i])
    })
}

/// Renders samples as CSV, each row merged with the node's latest `stats` event at or
/// before it (node stats arrive once a second; samples every interval). Node columns
/// are empty until the first stats event.
pub fn samples_csv(samples: &[Sample], stats: &[StatsPoint]) -> String {
    let mut out = SAMPLE_COLUMNS.join(",");
    out.push('\n');
    let merged = latest_at_or_before(samples.iter().map(|s| s.t_ms), stats, |p| p.t_ms);
    for (s, node) in samples.iter().zip(merged) {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let m = s.mem;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            s.t_ms,
            m.rss,
            m.rss_anon,
            m.rss_file,
            m.hwm,
            m.swap,
            s.cpu_user_ms,
            s.cpu_sys_ms,
            opt(node.map(|n| n.heap_live_bytes.to_string())),
            opt(node.map(|n| n.alloc_count.to_string())),
            opt(node.map(|n| n.alloc_bytes_total.to_string())),
            opt(node.and_then(|n| n.allocator_resident_bytes).map(|v| v.to_string())),
            opt(node.and_then(|n| n.arenas).map(|v| v.to_string())),
            s.io_read_bytes,
            s.io_write_bytes,
            s.blocks_acked,
            s.bytes_acked,
            opt(node.map(|n| n.queue_hash.to_string())),
            opt(node.map(|n| n.queue_write.to_string())),
            opt(node.map(|n| n.compactions_running.to_string())),
            s.sys_cpu_busy_pct,
            s.sys_iowait_pct,
            s.mem_available_bytes,
            opt(node.and_then(|n| n.engine).map(|e| e.memtables_bytes.to_string())),
            opt(node.and_then(|n| n.engine).map(|e| e.block_cache_bytes.to_string())),
            opt(node.and_then(|n| n.engine).map(|e| e.table_readers_bytes.to_string())),
            opt(node.and_then(|n| n.engine).map(|e| e.block_cache_pinned_bytes.to_string())),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_take_the_latest_stats_before_them() {
        let samples = [Sample { t_ms: 50, ..Default::default() }, Sample { t_ms: 1500, ..Default::default() }];
        let stats = [StatsPoint { t_ms: 1000, heap_live_bytes: 7, ..Default::default() }];
        let csv = samples_csv(&samples, &stats);
        let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
        assert_eq!(rows[0].len(), SAMPLE_COLUMNS.len());
        assert_eq!(rows[1][8], "");
        assert_eq!(rows[2][8], "7");
        assert!(rows.iter().all(|r| r.len() == SAMPLE_COLUMNS.len()));
    }
}

//! A suite's comparison and charts, drawn from its files: `comparison.{json,md}` (see
//! [`super::comparison`]), the suite charts, and the heap-site table of profiled cells.
//! Used when `matrix` and `ab` finish, and by `report` to re-render or merge.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;

use super::comparison::{self, Comparison, MetricKey, RunRecord};
use crate::charts::suite::{Interval, SuiteChartData};
use crate::charts::CellRuns;
use crate::options::IngestOptions;
use crate::record::outcome::Outcome;
use crate::results::load::RunFiles;
use crate::results::suite::{read, Cell, SuiteFile};
use crate::settings::Allocator;

impl Cell {
    /// The options of this cell's runs: `base` with the cell's own axes.
    pub fn apply(&self, base: &IngestOptions) -> IngestOptions {
        IngestOptions {
            alloc: self.alloc,
            arena_max: self.arena_max,
            alloc_conf: self.alloc_conf.clone(),
            compaction: self.compaction,
            compaction_concurrency: self.compaction_concurrency,
            store: self.store,
            engine_malloc: self.engine_malloc,
            workload: syncbench_workloads::WorkloadSpec {
                shard_size: self.shard_size.unwrap_or(base.workload.shard_size),
                ..base.workload.clone()
            },
            node_bin: self.node_bin.clone().or_else(|| base.node_bin.clone()),
            // Only jemalloc cells can be profiled; the others run as usual.
            heap_profile: base.heap_profile.filter(|_| self.alloc == Allocator::Jemalloc && !self.unprofiled),
            peers: self.peers.unwrap_or(base.peers),
            worker_threads: self.worker_threads.or(base.worker_threads),
            duration: self.duration_s.map(std::time::Duration::from_secs).or(base.duration),
            node_args: match self.inject_retained_mib.filter(|&n| n > 0) {
                Some(n) => base.node_args.iter().cloned().chain([format!("--inject-retained-mib={n}")]).collect(),
                None => base.node_args.clone(),
            },
            ..base.clone()
        }
    }
}

/// Re-derives a suite's comparison and charts from suite.json and its runs.
pub fn render(suite: &Path, png: bool) -> Result<Comparison> {
    render_file(suite, &read(suite)?, png)
}

/// [`render`] with suite.json already read.
pub fn render_file(suite: &Path, file: &SuiteFile, png: bool) -> Result<Comparison> {
    let d = &file.definition;
    let mut failed = Vec::new();
    let mut grouped: Vec<CellRuns> =
        d.cells.iter().map(|c| CellRuns { cell: c.name.clone(), runs: Vec::new(), rounds: Vec::new() }).collect();
    for r in file.runs(suite)? {
        if r.outcome != Outcome::Ok {
            let name = r.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or(r.cell);
            failed.push(format!("{name} ({})", r.outcome));
            continue;
        }
        if let Some(g) = grouped.iter_mut().find(|g| g.cell == r.cell) {
            g.runs.push(RunFiles::load(&r.dir)?);
            g.rounds.push(Some(r.rep));
        }
    }
    if let Some(sig) = &file.interrupted {
        let total = d.cells.len() * d.repeat as usize;
        failed.push(format!("(the suite was interrupted by {sig} after {} of its {total} runs)", file.order.len()));
    }
    let title = format!("{} — {} cells × {} repetitions", d.workload, d.cells.len(), d.repeat);
    let framing =
        Framing { baseline: &d.baseline_cell, floor_pct: d.floor_pct, title: &title, failed: &failed, paired: true };
    write_comparison(suite, &grouped, &framing, png)
}

/// How the runs of a comparison are compared and titled.
pub struct Framing<'a> {
    /// The cell every other cell is compared with.
    pub baseline: &'a str,
    /// Changes smaller than this many percent are not called.
    pub floor_pct: f64,
    pub title: &'a str,
    /// Runs that failed, listed under the table.
    pub failed: &'a [String],
    /// Whether the k-th run of every cell ran in the same round (interleaved suites:
    /// paired tests) or not (runs gathered from elsewhere: Welch).
    pub paired: bool,
}

/// Writes `comparison.{json,md}` and the suite charts of `grouped` into `dir`.
pub fn write_comparison(dir: &Path, grouped: &[CellRuns], framing: &Framing, png: bool) -> Result<Comparison> {
    let Framing { baseline, floor_pct: floor, title, failed, paired } = *framing;
    let records: Vec<RunRecord> = grouped
        .iter()
        .flat_map(|g| {
            g.runs.iter().enumerate().map(|(i, r)| RunRecord {
                cell: g.cell.clone(),
                round: g.rounds.get(i).copied().flatten(),
                summary: r.summary.clone(),
                floors: r.ratchet.clone(),
                beyond_engine_p50_bytes: r.beyond_engine_p50_bytes(),
            })
        })
        .collect();
    let names: Vec<String> = grouped.iter().map(|g| g.cell.clone()).collect();
    let cmp = comparison::compare(&names, &records, baseline, floor, paired);
    crate::results::write_json(&dir.join("comparison.json"), &cmp)?;
    let mut md = comparison::markdown(&cmp, title, failed);
    md.push_str(&heap_sites_section(grouped));
    crate::util::fsx::write_atomic(&dir.join("comparison.md"), md.as_bytes())?;
    let hosts: BTreeSet<&str> = grouped.iter().flat_map(|g| g.runs.iter().map(|r| r.config.host())).collect();
    let workloads: BTreeSet<&str> =
        grouped.iter().flat_map(|g| g.runs.iter().map(|r| r.config.workload.name.as_str())).collect();
    let subtitle = format!(
        "{} · {}",
        workloads.into_iter().collect::<Vec<_>>().join(", "),
        hosts.into_iter().collect::<Vec<_>>().join(", ")
    );
    let data = SuiteChartData {
        subtitle,
        rss_peak_mib: intervals(&cmp, MetricKey::RssPeak),
        throughput_mib_s: intervals(&cmp, MetricKey::Throughput),
        cells: grouped.to_vec(),
    };
    crate::charts::suite::render_suite(&data, &dir.join("charts"), png)?;
    Ok(cmp)
}

/// For cells with heap profiles: their top sites at the peak side by side (empty when
/// no run was profiled, so suites without profiles render as before).
fn heap_sites_section(grouped: &[CellRuns]) -> String {
    use crate::heap::diff::{markdown, GroupSites};
    let groups: Vec<GroupSites> = grouped
        .iter()
        .filter_map(|g| GroupSites::of(&g.cell, &g.runs.iter().map(|r| &r.summary).collect::<Vec<_>>()))
        .collect();
    if groups.is_empty() {
        return String::new();
    }
    format!(
        "## Heap at the peak: top allocation sites (jemalloc heap profiles)\n\n\
         Mean bytes each site held in the profile taken nearest each run's largest live heap \
         (share of the profile's live bytes); each run's flame graph is its `heap/peak.svg`. \
         Cells without profiles (glibc, mimalloc) are not listed.\n\n{}\n",
        markdown(&groups)
    )
}

fn intervals(c: &Comparison, key: MetricKey) -> Vec<Interval> {
    // Below 3 runs there is no interval: the whisker is the range, labelled so.
    let to_interval = |s: &comparison::CellStat| {
        let [lo, hi] = s.ci.unwrap_or(s.range);
        Interval { cell: s.cell.clone(), median: s.center, lo, hi, n: s.n }
    };
    c.metrics.iter().find(|m| m.key == key).map(|m| m.cells.iter().map(to_interval).collect()).unwrap_or_default()
}

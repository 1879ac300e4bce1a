//! Reading a run directory back from its files: what charts, `report` and comparisons
//! need. Charts are always drawn from these files (also right after a run), so that
//! re-rendering a committed run reproduces its charts byte for byte.
//!
//! Every JSON file is read into its type ([`Summary`], [`ConfigFile`], the events of
//! [`LoggedEvent`]); errors name the file, line:column and field (exit 2).

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use syncbench_node::alloc_stats::AllocatorInternal;
use syncbench_node::config::StoreKind;
use syncbench_node::events::NodeEvent;

use super::config_file::ConfigFile;
use super::ratchet::Floor;
use super::summary::Summary;
use crate::error::input;

/// One row of `samples.csv`, the columns charts use (bytes, seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SampleRow {
    pub t_s: f64,
    pub rss: f64,
    pub rss_anon: f64,
    pub rss_file: f64,
    pub hwm: f64,
    pub heap_live: Option<f64>,
    pub allocator_resident: Option<f64>,
    pub blocks_acked: f64,
    pub bytes_acked: f64,
}

/// A run directory, loaded.
#[derive(Debug, Clone)]
pub struct RunFiles {
    pub dir: PathBuf,
    pub summary: Summary,
    pub config: ConfigFile,
    pub samples: Vec<SampleRow>,
    /// (start_s, end_s); a compaction still running at the end ends at the last sample.
    pub compactions: Vec<Span>,
    pub flushes: Vec<f64>,
    /// (histogram name, [(quantile, value_us)]), ingest first.
    pub latency: Vec<(String, Vec<(f64, f64)>)>,
    /// (t_s, the allocator's own statistics) from the node's `stats` events.
    pub allocator: Vec<(f64, AllocatorInternal)>,
    /// The RSS floor after each compaction (`ratchet.csv`; none without the file).
    pub ratchet: Vec<Floor>,
    /// `--store rocksdb`: (start_s, end_s) of each period a RocksDB memtable flush ran
    /// (its compactions are in `compactions`), and (t_s, the engine's accounted bytes).
    pub engine_flushes: Vec<Span>,
    pub engine: Vec<(f64, f64)>,
}

/// Reads a JSON file into `T`; errors name file, line:column and field (exit 2).
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = crate::util::fsx::read_result_file(path, MAX_JSON_BYTES, "JSON file")?;
    parse_json(&text, path, 1)
}

/// Largest JSON file of a run or suite read (summary.json and config.json are a few
/// KiB, the suite.json of the largest matrix a few MiB).
pub const MAX_JSON_BYTES: u64 = 64 << 20;
use crate::record::sample::MAX_SAMPLES_BYTES;
/// Most rows of `samples.csv` read (the sampler keeps at most this many).
pub const MAX_SAMPLE_ROWS: usize = crate::record::sample::MAX_SAMPLES;
/// Largest `events.jsonl` read (a day of stats events with every glibc arena listed).
pub const MAX_EVENTS_BYTES: u64 = 1 << 30;
/// Largest `.hgrm` file read (a few KiB).
const MAX_HGRM_BYTES: u64 = 1 << 20;

/// Parses `text` into `T`; `text` starts on line `first_line` of `file` (a JSON Lines
/// file is parsed line by line), so errors name the file's own line:column and field.
pub fn parse_json<T: DeserializeOwned>(text: &str, file: &Path, first_line: usize) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = match e.path().to_string() {
            p if p == "." || p == "?" => "(document)".to_owned(),
            p => p,
        };
        let inner = e.into_inner();
        let message = inner.to_string();
        let message = message.split(" at line ").next().unwrap_or_default();
        let line = first_line + inner.line().saturating_sub(1);
        input(format!("{}:{line}:{}: field `{field}`: {message}", file.display(), inner.column()))
    })
}

impl RunFiles {
    pub fn load(dir: &Path) -> Result<RunFiles> {
        let summary = read_json(&dir.join("summary.json"))?;
        let config: ConfigFile = read_json(&dir.join("config.json"))?;
        let mut samples = chart_rows(read_samples(&dir.join("samples.csv"))?);
        let end = samples.last().map_or(0.0, |s| s.t_s);
        let mut events = read_events(&dir.join("events.jsonl"))?;
        if config.time_zero.is_none() {
            events.repair_time_zero(&mut samples);
        }
        let (compactions, flushes) = events.spans(end);
        let (compactions, flushes) = (chart_spans(compactions, end), chart_marks(flushes));
        let latency = load_hgrms(&dir.join("latency"))?;
        let allocator = std::mem::take(&mut events.allocator);
        let engine_flushes = chart_spans(events.engine_flush_spans(end), end);
        let engine = std::mem::take(&mut events.engine);
        let ratchet = super::ratchet::read_csv(&dir.join(super::ratchet::RATCHET_CSV))?;
        Ok(RunFiles {
            dir: dir.to_owned(),
            summary,
            config,
            samples,
            compactions,
            flushes,
            latency,
            allocator,
            ratchet,
            engine_flushes,
            engine,
        })
    }

    /// A run of `summary` and `config` (a `config.json` value) with no samples, events,
    /// latency or ratchet: what tests of code that reads only those two need.
    #[cfg(test)]
    pub fn for_test(summary: serde_json::Value, config: serde_json::Value) -> RunFiles {
        RunFiles {
            dir: PathBuf::from("r"),
            summary: Summary::for_test(summary),
            config: serde_json::from_value(config).expect("a test config.json"),
            samples: Vec::new(),
            compactions: Vec::new(),
            flushes: Vec::new(),
            latency: Vec::new(),
            allocator: Vec::new(),
            ratchet: Vec::new(),
            engine_flushes: Vec::new(),
            engine: Vec::new(),
        }
    }

    /// `--store rocksdb`: the median over the run of RssAnon − live heap − RocksDB's own
    /// account at each sample (the engine's figure the latest at or before it): what
    /// the allocators hold beyond what the program's counting allocator and the engine
    /// say is in use (anonymous memory only: mapped code and libraries are no
    /// allocator's). `None` without engine figures or a counted live heap.
    pub fn beyond_engine_p50_bytes(&self) -> Option<f64> {
        let mut engine = self.engine.iter().peekable();
        let mut current = None;
        let mut values = Vec::new();
        for s in &self.samples {
            while let Some(&(_, bytes)) = engine.next_if(|e| e.0 <= s.t_s) {
                current = Some(bytes);
            }
            if let (Some(accounted), Some(live)) = (current, s.heap_live) {
                values.push(s.rss_anon - live - accounted);
            }
        }
        values.sort_by(f64::total_cmp);
        values.get(values.len().checked_sub(1)? / 2).copied()
    }

    pub fn host(&self) -> String {
        self.config.host().to_owned()
    }

    pub fn workload(&self) -> String {
        self.config.workload.name.clone()
    }

    /// `<alloc>[_arenaN]_<mode>_cc<N>`: the run's configuration.
    pub fn cell(&self) -> String {
        self.config.cell()
    }

    /// `<workload> · <alloc> · <mode> cc<N> · <host>`.
    pub fn title(&self) -> String {
        let n = &self.config.node;
        let store = match (n.store, n.engine_malloc) {
            (StoreKind::Native, _) => n.compaction.to_string(),
            (StoreKind::Rocksdb, crate::settings::EngineMalloc::Allocator) => "rocksdb".into(),
            (StoreKind::Rocksdb, crate::settings::EngineMalloc::System) => "rocksdb (engine on glibc)".into(),
        };
        format!("{} · {} · {store} cc{} · {}", self.workload(), n.alloc, n.compaction_concurrency, self.host())
    }
}

/// A histogram's name and its (quantile, value in µs) rows.
pub type Percentiles = (String, Vec<(f64, f64)>);

/// Every `latency/*.hgrm` as (name, [(quantile, value_us)]), ingest first. A file
/// that is not a percentile distribution is an input error naming it and its line.
pub fn load_hgrms(dir: &Path) -> Result<Vec<Percentiles>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Some(name) = entry.file_name().to_string_lossy().strip_suffix(".hgrm").map(str::to_owned) else {
            continue;
        };
        let path = entry.path();
        let text = crate::util::fsx::read_result_file(&path, MAX_HGRM_BYTES, "latency distribution")?;
        let rows = crate::latency::parse_hgrm(&text).map_err(|e| input(format!("{}:{e}", path.display())))?;
        if !rows.is_empty() {
            out.push((name, rows));
        }
    }
    out.sort_by_key(|(n, _)| (n != "ingest", n.clone()));
    Ok(out)
}

/// Most sample rows a loaded run keeps. `RunFiles::samples` feed the charts only (every
/// figure is computed from the run, not from this): a longer run is drawn from the
/// rows of lowest and highest RSS of each of `MAX_CHART_ROWS / 2` equal slices, so an
/// SVG stays a few MiB however long the run and no peak or trough is lost. No
/// committed run comes near (the longest has 4,375 rows).
pub const MAX_CHART_ROWS: usize = 20_000;

fn chart_rows(rows: Vec<SampleRow>) -> Vec<SampleRow> {
    if rows.len() <= MAX_CHART_ROWS {
        return rows;
    }
    let slice = rows.len().div_ceil(MAX_CHART_ROWS / 2);
    let mut kept = Vec::with_capacity(MAX_CHART_ROWS);
    for chunk in rows.chunks(slice) {
        let by_rss = |a: &&SampleRow, b: &&SampleRow| a.rss.total_cmp(&b.rss);
        let (lo, hi) = (chunk.iter().min_by(by_rss), chunk.iter().max_by(by_rss));
        let (Some(lo), Some(hi)) = (lo, hi) else { continue };
        let (first, second) = if lo.t_s <= hi.t_s { (lo, hi) } else { (hi, lo) };
        kept.push(*first);
        if second.t_s != first.t_s {
            kept.push(*second);
        }
    }
    kept
}

/// Most compaction spans and flush marks a loaded run keeps for its charts (the
/// longest committed run has ~1,000 compactions and ~2,000 flushes: drawn as they are).
/// Beyond it, spans closer than 1/[`MAX_CHART_MARKS`] of the run apart are merged into
/// one shaded stretch, and flushes are thinned evenly: a chart stays a few MiB however
/// many events a run had.
pub const MAX_CHART_MARKS: usize = 5_000;

fn chart_spans(spans: Vec<Span>, end_s: f64) -> Vec<Span> {
    if spans.len() <= MAX_CHART_MARKS {
        return spans;
    }
    let gap = end_s.max(1e-9) / MAX_CHART_MARKS as f64;
    let mut merged: Vec<Span> = Vec::with_capacity(MAX_CHART_MARKS);
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a <= last.1 + gap => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

fn chart_marks(marks: Vec<f64>) -> Vec<f64> {
    if marks.len() <= MAX_CHART_MARKS {
        return marks;
    }
    let step = marks.len().div_ceil(MAX_CHART_MARKS);
    marks.into_iter().step_by(step).collect()
}

/// Largest value accepted in `samples.csv` (bytes, ms, counts): 1e15 is ~900 TiB or
/// ~31,000 years of milliseconds; anything larger is a corrupt file, not a measurement.
const MAX_SAMPLE_VALUE: f64 = 1e15;

/// The columns of `samples.csv` the charts read, in [`SampleRow`]'s order.
const SAMPLE_COLUMNS: [&str; 9] = [
    "t_ms",
    "rss_bytes",
    "rss_anon_bytes",
    "rss_file_bytes",
    "hwm_bytes",
    "heap_live_bytes",
    "allocator_resident_bytes",
    "blocks_acked",
    "bytes_acked",
];

fn read_samples(path: &Path) -> Result<Vec<SampleRow>> {
    let text = crate::util::fsx::read_result_file(path, MAX_SAMPLES_BYTES, "samples")?;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(input(format!(
            "{}:{}: the last row has no newline: the file was cut short",
            path.display(),
            text.lines().count()
        )));
    }
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| input(format!("{}:1:1: expected a `{name}` column", path.display())))
    };
    let idx: Vec<usize> = SAMPLE_COLUMNS.map(col).into_iter().collect::<Result<_>>()?;
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        if rows.len() >= MAX_SAMPLE_ROWS {
            return Err(input(format!("{}: expected at most {MAX_SAMPLE_ROWS} rows, got more", path.display())));
        }
        let row = sample_row(line, &header, &idx, (path, i + 2))?;
        // Equal times are legal: two samples can fall in the same millisecond (runs
        // committed in November have such rows); going back is not.
        if rows.last().is_some_and(|r: &SampleRow| r.t_s > row.t_s) {
            return Err(input(format!(
                "{}:{}: column `t_ms`: expected a time no earlier than the previous row's, got {}",
                path.display(),
                i + 2,
                row.t_s * 1e3
            )));
        }
        rows.push(row);
    }
    Ok(rows)
}

/// One row of `samples.csv` (`at`: the file and the row's line number), its cells
/// taken from the columns `idx` names.
fn sample_row(line: &str, header: &[&str], idx: &[usize], at: (&Path, usize)) -> Result<SampleRow> {
    let (path, line_no) = at;
    let cells: Vec<&str> = line.split(',').collect();
    let get = |k: usize| -> Result<Option<f64>> {
        match cells.get(idx[k]).copied() {
            None => Err(input(format!(
                "{}:{line_no}: expected {} columns, got {}",
                path.display(),
                header.len(),
                cells.len()
            ))),
            Some("") => Ok(None),
            Some(v) => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && (0.0..=MAX_SAMPLE_VALUE).contains(&x) => Ok(Some(x)),
                _ => Err(input(format!(
                    "{}:{line_no}: column `{}`: expected a number in 0..=1e15, got `{}`",
                    path.display(),
                    crate::util::text::quote_line(header[idx[k]]),
                    crate::util::text::quote_line(v)
                ))),
            },
        }
    };
    let req = |k: usize| get(k).map(|v| v.unwrap_or(0.0));
    Ok(SampleRow {
        t_s: req(0)? / 1e3,
        rss: req(1)?,
        rss_anon: req(2)?,
        rss_file: req(3)?,
        hwm: req(4)?,
        heap_live: get(5)?,
        allocator_resident: get(6)?,
        blocks_acked: req(7)?,
        bytes_acked: req(8)?,
    })
}

/// (start_s, end_s) of something that took time.
pub type Span = (f64, f64);

/// What charts need from `events.jsonl`, times in seconds.
#[derive(Debug, Default)]
struct Events {
    /// (start, end if seen, shard) of each compaction, paired as the run paired them
    /// ([`crate::record::events::open_start_of`]).
    compactions: Vec<(f64, Option<f64>, u64)>,
    flushes: Vec<f64>,
    /// (t, live heap, allocator-resident) of each node `stats` event.
    stats: Vec<(f64, Option<f64>, Option<f64>)>,
    /// (t, the allocator's own statistics) of each node `stats` event that has them.
    allocator: Vec<(f64, AllocatorInternal)>,
    /// `t_ms` of the harness's `run_start` event, in seconds.
    run_start: Option<f64>,
    /// (start, end if seen) of each period RocksDB ran a memtable flush.
    engine_flushes: Vec<(f64, Option<f64>)>,
    /// (t, RocksDB's accounted bytes) of each node `stats` event that has them.
    engine: Vec<(f64, f64)>,
}

/// The shard key under which RocksDB's compaction periods are paired with the node's
/// own compactions (no shard of a store reaches it).
const ENGINE_COMPACTION_KEY: u64 = u64::MAX;

// Longest `events.jsonl` line read: the harness writes node lines cut to this bound.
use crate::record::events::MAX_EVENT_LINE_BYTES;

/// One line of `events.jsonl` as far as readers need it: when, and what. A line that
/// is neither a node event nor a harness event known here is `Other` (an event type of
/// a newer node, a harness event nothing reads).
#[derive(Debug, Deserialize)]
pub struct LoggedEvent {
    #[serde(default)]
    pub t_ms: f64,
    #[serde(flatten)]
    pub event: Logged,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Logged {
    Node(NodeEvent),
    Harness(crate::record::events::HarnessEvent),
    Other(serde::de::IgnoredAny),
}

/// Reads `events.jsonl`; errors name file, line, column and field (exit 2).
fn read_events(path: &Path) -> Result<Events> {
    use crate::record::events::HarnessEvent;
    let file = crate::util::fsx::open_result_file(path, MAX_EVENTS_BYTES, "events")?;
    let mut reader = std::io::BufReader::new(file);
    let mut ev = Events::default();
    let mut bytes = Vec::new();
    for i in 0.. {
        let more = crate::util::lines::read_bounded_line(&mut reader, &mut bytes, MAX_EVENT_LINE_BYTES + 1)
            .map_err(|e| input(format!("{}: cannot read: {e}", path.display())))?;
        if !more {
            break;
        }
        if bytes.len() > MAX_EVENT_LINE_BYTES {
            return Err(input(format!(
                "{}:{}: expected a line of at most {MAX_EVENT_LINE_BYTES} bytes",
                path.display(),
                i + 1
            )));
        }
        let line = std::str::from_utf8(&bytes)
            .map_err(|_| input(format!("{}:{}: expected UTF-8 text", path.display(), i + 1)))?;
        let line = if i == 0 { line.trim_start_matches('\u{feff}') } else { line };
        if line.trim().is_empty() {
            continue;
        }
        let e: LoggedEvent = parse_json(line, path, i + 1)?;
        let t = e.t_ms / 1e3;
        match e.event {
            Logged::Node(NodeEvent::CompactionStart { shard, .. }) => ev.compactions.push((t, None, shard)),
            Logged::Node(NodeEvent::CompactionEnd(c)) => {
                let open = |s: &(f64, Option<f64>, u64), shard| s.2 == shard && s.1.is_none();
                if let Some(span) = crate::record::events::open_start_of(&mut ev.compactions, c.shard, open) {
                    span.1 = Some(t);
                }
            }
            Logged::Node(NodeEvent::FlushEnd(_)) => ev.flushes.push(t),
            Logged::Node(NodeEvent::EngineJobStart { kind }) => ev.engine_job(t, kind, true),
            Logged::Node(NodeEvent::EngineJobEnd { kind, .. }) => ev.engine_job(t, kind, false),
            Logged::Node(NodeEvent::Stats(s)) => {
                let resident = s.allocator.as_ref().and_then(|a| a.resident_bytes()).map(|b| b as f64);
                ev.stats.push((t, s.heap_live_bytes.map(|b| b as f64), resident));
                ev.allocator.extend(s.allocator.map(|a| (t, a)));
                ev.engine.extend(s.engine.map(|e| (t, e.accounted_bytes() as f64)));
            }
            Logged::Harness(HarnessEvent::RunStart { .. }) => ev.run_start = Some(t),
            _ => {}
        }
    }
    Ok(ev)
}

impl Events {
    /// A RocksDB job period starting or ending at `t`: compactions beside the node's
    /// own, flushes on their own.
    fn engine_job(&mut self, t: f64, kind: syncbench_node::events::EngineJob, start: bool) {
        use syncbench_node::events::EngineJob;
        match (kind, start) {
            (EngineJob::Compaction, true) => self.compactions.push((t, None, ENGINE_COMPACTION_KEY)),
            (EngineJob::Compaction, false) => {
                let open = |s: &(f64, Option<f64>, u64), key| s.2 == key && s.1.is_none();
                if let Some(span) =
                    crate::record::events::open_start_of(&mut self.compactions, ENGINE_COMPACTION_KEY, open)
                {
                    span.1 = Some(t);
                }
            }
            (EngineJob::Flush, true) => self.engine_flushes.push((t, None)),
            (EngineJob::Flush, false) => {
                if let Some(span) = self.engine_flushes.iter_mut().rev().find(|s| s.1.is_none()) {
                    span.1 = Some(t);
                }
            }
        }
    }

    /// RocksDB flush periods (one still running at the end ends at `end_s`).
    fn engine_flush_spans(&self, end_s: f64) -> Vec<Span> {
        self.engine_flushes.iter().map(|&(start, end)| (start, end.unwrap_or(end_s))).collect()
    }

    /// Runs recorded before every file shared one time zero counted events from the
    /// harness's start but samples from the node's spawn, which the `run_start` event
    /// marks. Shifts the events onto the samples' axis and re-merges the node's stats
    /// into the sample rows (their columns had been merged on the shifted axis).
    fn repair_time_zero(&mut self, samples: &mut [SampleRow]) {
        let Some(offset) = self.run_start.filter(|&o| o > 0.0) else { return };
        let shift = |t: &mut f64| *t = (*t - offset).max(0.0);
        for c in &mut self.compactions {
            shift(&mut c.0);
            c.1.iter_mut().for_each(shift);
        }
        self.flushes.iter_mut().for_each(shift);
        self.stats.iter_mut().for_each(|s| shift(&mut s.0));
        self.allocator.iter_mut().for_each(|s| shift(&mut s.0));
        self.engine.iter_mut().for_each(|s| shift(&mut s.0));
        let times: Vec<f64> = samples.iter().map(|r| r.t_s).collect();
        let merged = super::latest_at_or_before(times, &self.stats, |s| s.0);
        for (row, latest) in samples.iter_mut().zip(merged) {
            row.heap_live = latest.and_then(|s| s.1);
            row.allocator_resident = latest.and_then(|s| s.2);
        }
    }

    /// Compaction intervals (one still running at the end ends at `end_s`) and flushes.
    fn spans(&self, end_s: f64) -> (Vec<Span>, Vec<f64>) {
        let mut spans: Vec<Span> =
            self.compactions.iter().map(|&(start, end, _)| (start, end.unwrap_or(end_s))).collect();
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        (spans, self.flushes.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    use crate::record::events::CompactionSpan;

    /// A committed run of 2026-11-21 (shard scaling) has two samples in one millisecond;
    /// `report` refused the whole suite after times were required to increase strictly.
    #[test]
    fn samples_in_the_same_millisecond_are_read_and_times_going_back_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.csv");
        let header = "t_ms,rss_bytes,rss_anon_bytes,rss_file_bytes,hwm_bytes,heap_live_bytes,\
                      allocator_resident_bytes,blocks_acked,bytes_acked\n";
        let row = |t: u32| format!("{t},100,90,10,100,,,1,1\n");
        std::fs::write(&path, format!("{header}{}{}{}", row(10), row(20), row(20))).unwrap();
        assert_eq!(read_samples(&path).unwrap().len(), 3);
        std::fs::write(&path, format!("{header}{}{}", row(20), row(10))).unwrap();
        let e = read_samples(&path).unwrap_err().to_string();
        assert!(e.contains("samples.csv:3: column `t_ms`: expected a time no earlier"), "{e}");
    }

    /// The run paired compaction events with the latest open start of a shard, the
    /// loader with the first: one rule now (`record::events::open_start_of`).
    #[test]
    fn compactions_pair_on_load_as_they_paired_live() {
        let mut ev = Events::default();
        let open = |s: &(f64, Option<f64>, u64), shard| s.2 == shard && s.1.is_none();
        for (t, start, shard) in [(1.0, true, 7), (2.0, true, 7), (3.0, false, 7), (4.0, true, 8)] {
            if start {
                ev.compactions.push((t, None, shard));
            } else if let Some(s) = crate::record::events::open_start_of(&mut ev.compactions, shard, open) {
                s.1 = Some(t);
            }
        }
        let (spans, _) = ev.spans(10.0);
        assert_eq!(spans, vec![(1.0, 10.0), (2.0, 3.0), (4.0, 10.0)], "the end closes the latest start");
        let mut live = vec![
            CompactionSpan { shard: 7, start_ms: 1000, end_ms: None, bytes: 0, bytes_out: 0 },
            CompactionSpan { shard: 7, start_ms: 2000, end_ms: None, bytes: 0, bytes_out: 0 },
        ];
        let open_live = |c: &CompactionSpan, shard| c.shard == shard && c.end_ms.is_none();
        crate::record::events::open_start_of(&mut live, 7, open_live).unwrap().end_ms = Some(3000);
        assert_eq!((live[0].end_ms, live[1].end_ms), (None, Some(3000)), "live: the same rule");
    }

    /// Regression (hostile round 3): 400,000 compactions and flushes made a 75 MB SVG.
    #[test]
    fn a_run_with_countless_events_is_charted_from_a_bounded_number() {
        let spans: Vec<Span> = (0..400_000).map(|i| (i as f64, i as f64 + 0.5)).collect();
        let merged = chart_spans(spans, 400_000.0);
        assert!(merged.len() <= MAX_CHART_MARKS, "{}", merged.len());
        assert_eq!((merged[0].0, merged.last().unwrap().1), (0.0, 399_999.5), "the whole stretch stays shaded");
        assert!(chart_marks((0..400_000).map(f64::from).collect()).len() <= MAX_CHART_MARKS);
        let few = vec![(1.0, 2.0), (5.0, 6.0)];
        assert_eq!(chart_spans(few.clone(), 10.0), few, "a run with few events is drawn as it is");
    }

    #[test]
    fn a_long_run_is_charted_from_a_bounded_number_of_rows_keeping_extremes() {
        let rows: Vec<SampleRow> = (0..100_000)
            .map(|i| SampleRow {
                t_s: i as f64,
                rss: if i == 54_321 { 9e9 } else { (i % 7) as f64 },
                ..Default::default()
            })
            .collect();
        let kept = chart_rows(rows);
        assert!(kept.len() <= MAX_CHART_ROWS, "{}", kept.len());
        assert!(kept.iter().any(|r| r.rss == 9e9), "the peak survives");
        assert!(kept.windows(2).all(|w| w[0].t_s < w[1].t_s), "time order kept");
        let short: Vec<SampleRow> = (0..10).map(|i| SampleRow { t_s: i as f64, ..Default::default() }).collect();
        assert_eq!(chart_rows(short.clone()), short);
    }

    #[test]
    fn beyond_engine_subtracts_the_engine_figure_latest_at_each_sample() {
        let t = tempfile::tempdir().unwrap();
        old_run(t.path());
        let mut r = RunFiles::load(t.path()).unwrap();
        let mib = 1_048_576.0;
        r.samples = (0..6)
            .map(|i| SampleRow {
                t_s: f64::from(i),
                rss_anon: 100.0 * mib,
                heap_live: Some(20.0 * mib),
                ..Default::default()
            })
            .collect();
        r.engine = Vec::new();
        assert_eq!(r.beyond_engine_p50_bytes(), None, "no engine figures: not a RocksDB run");
        // 30 MiB from 0.5 s, 70 MiB from 2.5 s: samples at 1–2 s leave 50 MiB, at 3–5 s
        // 10 MiB; the sample at 0 s precedes any figure and is left out.
        r.engine = vec![(0.5, 30.0 * mib), (2.5, 70.0 * mib)];
        assert_eq!(r.beyond_engine_p50_bytes(), Some(10.0 * mib));
    }

    fn config(time_zero: Option<&str>) -> String {
        format!(
            r#"{{"workload": {{"name": "smoke", "blocks": 1, "shard_size": 1, "seed": 1}},
                "node": {{"alloc": "glibc", "compaction": "streaming", "compaction_concurrency": 1, "writer_batch": 1}},
                "time_zero": {}}}"#,
            time_zero.unwrap_or("null")
        )
    }

    /// A run recorded before one time zero: events counted from the harness's start,
    /// 5 s before the node's spawn (`run_start`), samples from the spawn.
    fn old_run(dir: &Path) {
        let summary = serde_json::to_string(&Summary::for_test(serde_json::json!({}))).unwrap();
        fs::write(dir.join("summary.json"), summary).unwrap();
        fs::write(dir.join("config.json"), config(None)).unwrap();
        let events = [
            r#"{"t_ms": 5000, "source": "harness", "event": "run_start"}"#,
            r#"{"t_ms": 5500, "source": "node", "event": "stats", "heap_live_bytes": 7, "allocator": {"resident_bytes": 9}}"#,
            r#"{"t_ms": 6000, "source": "node", "event": "compaction_start", "shard": 1}"#,
            r#"{"t_ms": 6500, "source": "node", "event": "compaction_end", "shard": 1}"#,
        ];
        fs::write(dir.join("events.jsonl"), events.join("\n")).unwrap();
        let header = "t_ms,rss_bytes,rss_anon_bytes,rss_file_bytes,hwm_bytes,heap_live_bytes,allocator_resident_bytes,blocks_acked,bytes_acked";
        let rows = ["100,1,1,0,1,,,0,0", "600,1,1,0,1,,,0,0", "1600,1,1,0,1,,,0,0"];
        fs::write(dir.join("samples.csv"), format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    }

    #[test]
    fn a_bad_event_line_is_located_at_its_own_line() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("events.jsonl");
        fs::write(&path, "{\"t_ms\": 1, \"event\": \"ready\"}\n\n{\"t_ms\": \"x\"}\n").unwrap();
        let err = read_events(&path).unwrap_err().to_string();
        assert!(err.contains("events.jsonl:3:"), "{err}");
        assert!(!err.contains("events.jsonl:3:1:"), "one line number, not two: {err}");
    }

    #[test]
    fn runs_recorded_before_one_time_zero_are_repaired_on_load() {
        let t = tempfile::tempdir().unwrap();
        old_run(t.path());
        let r = RunFiles::load(t.path()).unwrap();
        assert_eq!(r.compactions, vec![(1.0, 1.5)], "events shifted by the run_start offset");
        let heap: Vec<Option<f64>> = r.samples.iter().map(|s| s.heap_live).collect();
        assert_eq!(heap, [None, Some(7.0), Some(7.0)], "node stats re-merged on the repaired axis");
        assert_eq!(r.samples[1].allocator_resident, Some(9.0));
        // A run that states its time zero is read as recorded.
        let zero = r#"{"event": "node_spawn", "unix_ms": 1, "utc": "", "applies_to": []}"#;
        fs::write(t.path().join("config.json"), config(Some(zero))).unwrap();
        let r = RunFiles::load(t.path()).unwrap();
        assert_eq!(r.compactions, vec![(6.0, 6.5)]);
        assert!(r.samples.iter().all(|s| s.heap_live.is_none()));
    }
}

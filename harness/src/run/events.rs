//! `events.jsonl`: the node's events and the harness's own, on one time axis.
//!
//! ## Format
//! One JSON object per line: `t_ms` (milliseconds since the run's time zero, the
//! node's spawn: see [`RunClock`]), `source` (`node` or `harness`), then the event —
//! a [`NodeEvent`] with the node's `unix_ms`, or a [`HarnessEvent`]. A node line that is
//! not a known event is kept as `unparsed_output` with its text. The node events the
//! charts and summary need are also kept in memory as [`NodeObservations`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use syncbench_node::config::NodeMode;
use syncbench_node::events::{EventLine, NodeEvent, NodeStart, NodeSummary, Stats};
use syncbench_node::heap_profile::{HeapProfileTaken, ProfileKind};

pub use crate::record::events::{CompactionSpan, ExitRecord, HarnessEvent, StatsPoint};
use crate::time::{unix_ms, RunClock};

/// Events kept in memory for the crash bundle's tail.
const TAIL_EVENTS: usize = 200;
/// Longest node line accepted (a stats event is < 1 KiB); longer lines are cut.
const MAX_LINE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub ready: bool,
    pub stats: Vec<StatsPoint>,
    pub compactions: Vec<CompactionSpan>,
    pub node_start: Option<NodeStart>,
    pub node_summary: Option<NodeSummary>,
    pub errors: Vec<String>,
    pub tail: VecDeque<String>,
    /// Heap profile files the node announced (at most the node's own bound).
    pub heap_profiles: Vec<HeapProfileTaken>,
    /// The node's `ingest_stall` events: how often and how long its writer waited for
    /// the compaction backlog (`--max-compaction-backlog`).
    pub stalls: StallTotals,
    /// `--store rocksdb`: RocksDB memtable flush and compaction periods begun.
    pub engine_jobs: (u64, u64),
}

/// Sums of the node's `ingest_stall` events.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StallTotals {
    pub count: u64,
    pub waited_ms: f64,
}

/// Shared, lock-protected view of what the node reported.
#[derive(Default)]
pub struct NodeObservations {
    pub state: Mutex<Observed>,
    pub ready_cv: Condvar,
}

impl Observed {
    /// What the node said it does with blocks (`node_start` `mode`: `store`, `sink`,
    /// `null_writer`); `None` for a node that did not say (e.g. another implementation).
    pub fn node_mode(&self) -> Option<NodeMode> {
        self.node_start.as_ref()?.mode
    }

    /// The run's largest live heap: the stats events' and the node's own (2 ms) peak.
    pub fn heap_live_peak_bytes(&self) -> Option<i64> {
        let stats_peak = self.stats.iter().map(|s| s.heap_live_bytes);
        stats_peak.chain(self.node_summary.as_ref().and_then(|n| n.heap_live_peak_bytes)).max()
    }
}

impl NodeObservations {
    /// Waits until the node reports `ready` or `timeout` passes or `gone()` says it died.
    pub fn wait_ready(&self, timeout: Duration, gone: impl Fn() -> bool) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let Ok(mut s) = self.state.lock() else {
            return false;
        };
        while !s.ready {
            let now = std::time::Instant::now();
            if now >= deadline || gone() {
                return false;
            }
            s = match self.ready_cv.wait_timeout(s, Duration::from_millis(50).min(deadline - now)) {
                Ok((s, _)) => s,
                Err(_) => return false,
            };
        }
        true
    }

    pub fn snapshot<T>(&self, f: impl FnOnce(&Observed) -> T) -> Option<T> {
        self.state.lock().ok().map(|s| f(&s))
    }
}

/// (path as text, placeholder) for each of `paths`, longest first (a directory inside
/// another is replaced before its parent), each also in its resolved form.
pub fn redactions(paths: &[(&Path, &'static str)]) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for &(p, placeholder) in paths {
        let absolute = std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
        let real = std::fs::canonicalize(p).unwrap_or_else(|_| absolute.clone());
        for form in [absolute, real] {
            let text = form.display().to_string();
            if text.len() > 1 && !out.iter().any(|(t, _)| *t == text) {
                out.push((text, placeholder));
            }
        }
    }
    out.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
    out
}

/// `text` with each path of `redactions` replaced by its placeholder.
pub fn redact(text: &str, redactions: &[(String, &'static str)]) -> String {
    redactions.iter().fold(text.to_owned(), |t, (path, placeholder)| t.replace(path.as_str(), placeholder))
}

/// Who wrote a line of `events.jsonl`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Source {
    Node,
    Harness,
}

/// A line as written: time, source, then the event's own fields.
#[derive(Serialize)]
struct Logged<'a, E: Serialize> {
    t_ms: u64,
    source: Source,
    #[serde(flatten)]
    event: &'a E,
}

/// A node line that is not a known event, kept verbatim.
#[derive(Serialize)]
#[serde(tag = "event", rename = "unparsed_output")]
struct Unparsed<'a> {
    text: &'a str,
}

/// The run's event log file.
pub struct EventLog {
    out: Mutex<BufWriter<File>>,
    clock: RunClock,
    /// (this machine's path, placeholder): replaced in every line written, so the
    /// node's messages (which name its data directory) leave no machine path in a
    /// results directory that may be committed.
    redactions: Vec<(String, &'static str)>,
}

impl EventLog {
    pub fn create(path: &Path, clock: RunClock) -> Result<EventLog> {
        let f = crate::util::fsx::create_new(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(EventLog { out: Mutex::new(BufWriter::new(f)), clock, redactions: Vec::new() })
    }

    /// The log with `paths` (a directory and its placeholder each) replaced in every
    /// line written (see [`redact`]).
    pub fn redacting(mut self, paths: &[(&Path, &'static str)]) -> EventLog {
        self.redactions = redactions(paths);
        self
    }

    fn t_ms(&self, unix: u64) -> u64 {
        self.clock.t_ms_of_unix(unix)
    }

    fn write(&self, line: &str, tail: Option<&NodeObservations>) {
        let redacted = redact(line, &self.redactions);
        let line = redacted.as_str();
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{line}");
        }
        if let Some(obs) = tail {
            if let Ok(mut s) = obs.state.lock() {
                if s.tail.len() == TAIL_EVENTS {
                    s.tail.pop_front();
                }
                s.tail.push_back(line.to_owned());
            }
        }
    }

    /// Records a harness event.
    pub fn harness(&self, event: &HarnessEvent) {
        let t_ms = self.t_ms(unix_ms(SystemTime::now()));
        if let Ok(text) = serde_json::to_string(&Logged { t_ms, source: Source::Harness, event }) {
            self.write(&text, None);
        }
    }

    /// Records one line of node stdout and updates the observations.
    pub fn node_line(&self, line: &str, obs: &NodeObservations) {
        let line =
            if line.len() > MAX_LINE_BYTES { &line[..line.floor_char_boundary_compat(MAX_LINE_BYTES)] } else { line };
        let text = match serde_json::from_str::<EventLine>(line) {
            Ok(e) => {
                let t_ms = self.t_ms(e.unix_ms);
                let text = serde_json::to_string(&Logged { t_ms, source: Source::Node, event: &e });
                observe(obs, t_ms, e.event);
                text
            }
            Err(_) => {
                let t_ms = self.t_ms(unix_ms(SystemTime::now()));
                serde_json::to_string(&Logged { t_ms, source: Source::Node, event: &Unparsed { text: line } })
            }
        };
        if let Ok(text) = text {
            self.write(&text, Some(obs));
        }
    }

    pub fn flush(&self) {
        if let Ok(mut out) = self.out.lock() {
            let _ = out.flush();
        }
    }
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, at: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut at: usize) -> usize {
        while !self.is_char_boundary(at) {
            at -= 1;
        }
        at
    }
}

/// Heap profiles kept from one run: the node's periodic bound plus the peak and the end.
const HEAP_PROFILES_MAX: usize = syncbench_node::heap_profile::PERIODIC_MAX as usize + 2;

/// A newer peak profile replaces the older one (the node overwrote its file); others
/// are kept in the order announced, up to [`HEAP_PROFILES_MAX`].
fn keep_profile(kept: &mut Vec<HeapProfileTaken>, taken: HeapProfileTaken) {
    if taken.kind == ProfileKind::Peak {
        kept.retain(|t| t.kind != ProfileKind::Peak);
    }
    if kept.len() < HEAP_PROFILES_MAX {
        kept.push(taken);
    }
}

fn observe(obs: &NodeObservations, t: u64, e: NodeEvent) {
    let Ok(mut s) = obs.state.lock() else { return };
    match e {
        NodeEvent::Ready { .. } => {
            s.ready = true;
            obs.ready_cv.notify_all();
        }
        NodeEvent::Stats(stats) => s.stats.push(StatsPoint::of(t, &stats)),
        NodeEvent::CompactionStart { shard, bytes, .. } => {
            s.compactions.push(CompactionSpan { shard, start_ms: t, end_ms: None, bytes, bytes_out: 0 })
        }
        NodeEvent::CompactionEnd(end) => {
            let open = |c: &CompactionSpan, shard| c.shard == shard && c.end_ms.is_none();
            if let Some(c) = crate::record::events::open_start_of(&mut s.compactions, end.shard, open) {
                c.end_ms = Some(t);
                c.bytes_out = end.bytes_out;
            }
        }
        NodeEvent::NodeStart(start) => s.node_start = Some(*start),
        NodeEvent::EngineJobStart { kind } => match kind {
            syncbench_node::events::EngineJob::Flush => s.engine_jobs.0 += 1,
            syncbench_node::events::EngineJob::Compaction => s.engine_jobs.1 += 1,
        },
        NodeEvent::NodeSummary(summary) => s.node_summary = Some(summary),
        NodeEvent::Error { message, .. } => s.errors.push(message),
        NodeEvent::HeapProfile(taken) => keep_profile(&mut s.heap_profiles, taken),
        NodeEvent::IngestStall { waited_ms, .. } => {
            let t = &mut s.stalls;
            (t.count, t.waited_ms) = (t.count + 1, t.waited_ms + waited_ms);
        }
        _ => {}
    }
}

impl StatsPoint {
    fn of(t_ms: u64, s: &Stats) -> StatsPoint {
        StatsPoint {
            t_ms,
            heap_live_bytes: s.heap_live_bytes.unwrap_or(0),
            alloc_count: s.alloc_count,
            alloc_bytes_total: s.alloc_bytes_total,
            allocator_resident_bytes: s.allocator.as_ref().and_then(|a| a.resident_bytes()),
            arenas: s.allocator.as_ref().and_then(|a| a.arenas()),
            queue_hash: s.queues.queue_hash,
            queue_write: s.queues.queue_write,
            compactions_running: s.queues.compactions_running,
            engine: s.engine,
        }
    }
}

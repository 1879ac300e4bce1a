//! `events.jsonl`: the node's events and the harness's own, on one time axis.
//!
//! Every line gets `t_ms` (milliseconds since the run's time zero, the node's spawn:
//! see [`RunClock`]) and `source`
//! (`node` or `harness`); node lines keep their own fields. The node events the charts
//! and summary need are also kept in memory as [`NodeObservations`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use crate::time::{unix_ms, RunClock};

/// Events kept in memory for the crash bundle's tail.
const TAIL_EVENTS: usize = 200;
/// Longest node line accepted (a stats event is < 1 KiB); longer lines are cut.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// One `stats` event of the node.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatsPoint {
    pub t_ms: u64,
    pub heap_live_bytes: i64,
    pub alloc_count: u64,
    pub alloc_bytes_total: u64,
    /// The allocator's own view of memory it holds (jemalloc resident, mimalloc rss,
    /// glibc arena + mmap bytes).
    pub allocator_resident_bytes: Option<u64>,
    pub arenas: Option<u64>,
    pub queue_hash: u64,
    pub queue_write: u64,
    pub compactions_running: u64,
}

/// One compaction, from `compaction_start` to `compaction_end`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompactionSpan {
    pub shard: u64,
    pub start_ms: u64,
    pub end_ms: Option<u64>,
    pub bytes: u64,
    pub bytes_out: u64,
}

#[derive(Debug, Default)]
pub struct Observed {
    pub ready: bool,
    pub stats: Vec<StatsPoint>,
    pub compactions: Vec<CompactionSpan>,
    pub node_start: Option<Value>,
    pub node_summary: Option<Value>,
    pub errors: Vec<String>,
    pub tail: VecDeque<String>,
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
    pub fn node_mode(&self) -> Option<&str> {
        self.node_start.as_ref()?.get("mode")?.as_str()
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

/// The run's event log file.
pub struct EventLog {
    out: Mutex<BufWriter<File>>,
    clock: RunClock,
}

impl EventLog {
    pub fn create(path: &Path, clock: RunClock) -> Result<EventLog> {
        let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(EventLog { out: Mutex::new(BufWriter::new(f)), clock })
    }

    fn t_ms(&self, unix: u64) -> u64 {
        self.clock.t_ms_of_unix(unix)
    }

    fn write(&self, line: &str, tail: Option<&NodeObservations>) {
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
    pub fn harness(&self, event: &str, fields: Value) {
        let mut m = Map::new();
        m.insert("t_ms".into(), self.t_ms(unix_ms(SystemTime::now())).into());
        m.insert("source".into(), "harness".into());
        m.insert("event".into(), event.into());
        if let Value::Object(f) = fields {
            m.extend(f);
        }
        self.write(&Value::Object(m).to_string(), None);
    }

    /// Records one line of node stdout and updates the observations.
    pub fn node_line(&self, line: &str, obs: &NodeObservations) {
        let line =
            if line.len() > MAX_LINE_BYTES { &line[..line.floor_char_boundary_compat(MAX_LINE_BYTES)] } else { line };
        let Ok(Value::Object(node)) = serde_json::from_str::<Value>(line) else {
            let m = serde_json::json!({"t_ms": self.t_ms(unix_ms(SystemTime::now())), "source": "node", "event": "unparsed_output", "text": line});
            self.write(&m.to_string(), Some(obs));
            return;
        };
        let unix = node.get("unix_ms").and_then(Value::as_u64).unwrap_or_else(|| unix_ms(SystemTime::now()));
        let t = self.t_ms(unix);
        let mut m = Map::new();
        m.insert("t_ms".into(), t.into());
        m.insert("source".into(), "node".into());
        m.extend(node.clone());
        self.write(&Value::Object(m).to_string(), Some(obs));
        observe(obs, t, &node);
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

fn observe(obs: &NodeObservations, t: u64, e: &Map<String, Value>) {
    let u = |k: &str| e.get(k).and_then(Value::as_u64).unwrap_or(0);
    let Ok(mut s) = obs.state.lock() else { return };
    match e.get("event").and_then(Value::as_str).unwrap_or("") {
        "ready" => {
            s.ready = true;
            obs.ready_cv.notify_all();
        }
        "stats" => {
            let a = e.get("allocator").cloned().unwrap_or_default();
            let au = |k: &str| a.get(k).and_then(Value::as_u64);
            let resident =
                au("resident_bytes").or(au("rss_bytes")).or_else(|| Some(au("arena_bytes")? + au("mmap_bytes")?));
            s.stats.push(StatsPoint {
                t_ms: t,
                heap_live_bytes: e.get("heap_live_bytes").and_then(Value::as_i64).unwrap_or(0),
                alloc_count: u("alloc_count"),
                alloc_bytes_total: u("alloc_bytes_total"),
                allocator_resident_bytes: resident,
                arenas: au("arenas"),
                queue_hash: u("queue_hash"),
                queue_write: u("queue_write"),
                compactions_running: u("compactions_running"),
            });
        }
        "compaction_start" => s.compactions.push(CompactionSpan {
            shard: u("shard"),
            start_ms: t,
            end_ms: None,
            bytes: u("bytes"),
            bytes_out: 0,
        }),
        "compaction_end" => {
            let shard = u("shard");
            if let Some(c) = s.compactions.iter_mut().rev().find(|c| c.shard == shard && c.end_ms.is_none()) {
                c.end_ms = Some(t);
                c.bytes_out = u("bytes_out");
            }
        }
        "node_start" => s.node_start = Some(Value::Object(e.clone())),
        "node_summary" => s.node_summary = Some(Value::Object(e.clone())),
        "error" => s.errors.push(e.get("message").and_then(Value::as_str).unwrap_or("").to_owned()),
        _ => {}
    }
}

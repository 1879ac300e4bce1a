//! What `events.jsonl` holds that the run's figures are computed from: the node's
//! `stats` points, its compactions as spans, and the harness's own events.

use serde::{Deserialize, Serialize};

/// Longest node output line kept (a stats event is < 1 KiB); the rest of a longer line
/// is read and dropped, so a node printing without newlines cannot grow the harness.
pub const MAX_EVENT_LINE_BYTES: usize = 64 * 1024;

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
    /// `--store rocksdb`: the engine's own memory accounting.
    pub engine: Option<syncbench_node::events::EngineMemory>,
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

/// The harness's own events.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum HarnessEvent {
    /// The node was spawned (time zero; in runs recorded before one time zero, the
    /// offset between the events' and the samples' axes). Readers need only its time.
    RunStart {
        #[serde(default)]
        node_pid: u32,
        #[serde(default)]
        alloc: String,
        #[serde(default)]
        workload: String,
        #[serde(default)]
        mem_limit: serde_json::Value,
    },
    /// The node was reaped.
    RunEnd { wall_s: f64, exit: Option<ExitRecord> },
    /// The driver failed (socket, protocol).
    DriverError { message: String },
}

/// How the node exited.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ExitRecord {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

/// The one rule pairing a `compaction_end` with its `compaction_start`, live
/// (`run/events.rs`) and on load (`results/load.rs`) alike: the end closes the latest
/// start of its shard that is still open (a start repeated without an end stays open,
/// and runs to the end of the run). `open_for(span, shard)` says whether a span is an
/// open one of that shard.
pub fn open_start_of<S>(spans: &mut [S], shard: u64, open_for: impl Fn(&S, u64) -> bool) -> Option<&mut S> {
    spans.iter_mut().rev().find(|s| open_for(s, shard))
}

//! The node's JSONL event stream on stdout: one [`EventLine`] per line, `unix_ms` (wall
//! clock, so the driver can align it with its own samples) and the [`NodeEvent`]
//! flattened beside it, tagged by `event`.
//!
//! These types are the contract between the node and everything that reads its events
//! (the harness while a run goes, `syncbench report` from `events.jsonl` afterwards):
//! the node writes them, readers deserialize them, nobody indexes JSON by key.
//!
//! ## Format
//! ```text
//! {"unix_ms":1764363000123,"event":"compaction_end","shard":3,"mode":"streaming",…}
//! ```
//! Fields added after the first recorded runs carry `#[serde(default)]`, so runs
//! recorded before them still read.

use std::io::{self, Write};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::alloc_stats::AllocatorInternal;
use crate::mode::{CompactionMode, NodeMode, StoreKind};

/// One line of the node's stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventLine {
    /// Wall clock when the event was emitted, milliseconds since the Unix epoch.
    pub unix_ms: u64,
    #[serde(flatten)]
    pub event: NodeEvent,
}

/// Everything the node reports, in the order a run usually sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum NodeEvent {
    /// Boxed: announced once per run, and the largest event by far.
    NodeStart(Box<NodeStart>),
    /// One per torn WAL tail truncated at startup (unacknowledged data only).
    WalTornTail {
        shard: u64,
        file: String,
        offset: u64,
        bytes: u64,
        reason: String,
    },
    /// A file startup recovery removed (e.g. a segment without its commit).
    OrphanRemoved {
        shard: u64,
        file: String,
    },
    /// What startup recovery found.
    Recovery {
        shards_sealed: u64,
        shards_open: u64,
        blocks: u64,
    },
    /// Listening; `socket` is the file name only (events end up in committed results).
    Ready {
        socket: Option<String>,
    },
    FlushStart {
        batch: u64,
        blocks: u64,
        shards: u64,
    },
    FlushEnd(FlushEnd),
    CompactionStart {
        shard: u64,
        #[serde(default)]
        mode: Option<CompactionMode>,
        #[serde(default)]
        bytes: u64,
    },
    CompactionEnd(CompactionEnd),
    /// The writer stopped taking blocks for `waited_ms` because `backlog` sealed shards
    /// waited for or were in compaction, more than `--max-compaction-backlog` (`limit`).
    IngestStall {
        backlog: u64,
        limit: u64,
        waited_ms: f64,
    },
    /// `--retain-shards`: a sealed shard older than the retained ones was deleted
    /// (its tombstone written first, see `store`).
    ShardExpired {
        shard: u64,
        bytes: u64,
    },
    /// The first WAL the filesystem would not open with O_DIRECT.
    DirectIoRefused {
        path: String,
        message: String,
    },
    /// Boxed: the allocators' statistics make it the largest frequent event.
    Stats(Box<Stats>),
    /// `--store rocksdb`: RocksDB began running a flush or a compaction (none was
    /// running before). Seen by polling its `num-running-*` properties every
    /// [`ENGINE_POLL_MS`] ms: a job shorter than that may go unseen.
    EngineJobStart {
        kind: EngineJob,
    },
    /// `--store rocksdb`: no job of `kind` runs any more; `duration_ms` since the start.
    EngineJobEnd {
        kind: EngineJob,
        duration_ms: f64,
    },
    /// The node's own account of the session, just before `Done`.
    NodeSummary(NodeSummary),
    /// `--churn-threads`: every churn thread has finished.
    ChurnDone {
        threads: u64,
        buffers: u64,
        buffer_bytes: u64,
    },
    /// A heap profile file the node kept (`--heap-profile-dir`; see `heap_profile`).
    HeapProfile(crate::heap_profile::HeapProfileTaken),
    Error {
        stage: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shard: Option<u64>,
        message: String,
    },
}

/// Who the node is and how it is configured. Every field has a default so that a node
/// of another implementation that announces only some of them is still understood.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeStart {
    pub pid: u32,
    pub allocator: String,
    pub allocator_version: String,
    pub node_version: String,
    pub shard_size: u64,
    pub writer_batch: u64,
    pub compaction: CompactionMode,
    pub compaction_concurrency: u64,
    pub hash_threads: usize,
    /// The runtime's worker threads, the peer connections served, the recent-block
    /// cache budget and `--retain-shards` (absent in runs recorded before they existed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_threads: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peers: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_mib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_shards: Option<u64>,
    /// `--max-compaction-backlog` (absent in runs recorded before it existed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_compaction_backlog: Option<u64>,
    /// `--compaction-readers` (absent in runs recorded before it existed: one reader).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction_readers: Option<u64>,
    /// `--compaction-window-bytes` in use: 0 when `--compaction-readers` above 1 takes
    /// precedence (absent in runs recorded before it existed: records read one at a
    /// time, in block order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction_window_bytes: Option<u64>,
    /// `--chunk-bytes`, `--queue-blocks` and `--max-batch-delay-ms` (absent in runs
    /// recorded before they were announced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_blocks: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch_delay_ms: Option<u64>,
    /// What the node does with blocks; absent in runs recorded before it was announced.
    pub mode: Option<NodeMode>,
    /// `--store` (absent in runs recorded before there was a choice: native).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreKind>,
    /// Which allocator serves `malloc` as a shared library (RocksDB) resolves it:
    /// read off the process at start (`engine_malloc`), not assumed from the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_malloc: Option<String>,
    pub build: Option<Build>,
    /// The allocator- and loader-changing variables in the node's own environment
    /// (`self_report::allocator_env`; absent in runs recorded before it was announced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocator_env: Option<std::collections::BTreeMap<String, String>>,
}

/// The commit a node binary was built from (embedded at compile time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    pub git_sha: String,
    /// `"true"`, `"false"` or `"unknown"` (outside a git checkout).
    pub git_dirty: String,
}

impl Build {
    /// This binary's build, as its build script recorded it.
    pub fn this() -> Build {
        Build { git_sha: env!("SYNCBENCH_GIT_SHA").into(), git_dirty: env!("SYNCBENCH_GIT_DIRTY").into() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlushEnd {
    pub batch: u64,
    pub blocks: u64,
    pub bytes: u64,
    pub shards: u64,
    pub append_us: u64,
    pub fsync_us: u64,
    pub duration_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompactionEnd {
    pub shard: u64,
    #[serde(default)]
    pub mode: Option<CompactionMode>,
    #[serde(default)]
    pub bytes: u64,
    #[serde(default)]
    pub bytes_out: u64,
    #[serde(default)]
    pub records: u64,
    #[serde(default)]
    pub duration_ms: f64,
}

/// Depths of the bounded queues between pipeline stages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueDepths {
    pub queue_hash: u64,
    pub queue_write: u64,
    pub compactions_queued: u64,
    pub compactions_running: u64,
}

/// Periodic statistics (`--stats-interval-ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    #[serde(flatten)]
    pub queues: QueueDepths,
    #[serde(default)]
    pub blocks_received: u64,
    #[serde(default)]
    pub blocks_durable: u64,
    #[serde(default)]
    pub heap_live_bytes: Option<i64>,
    #[serde(default)]
    pub heap_live_peak_bytes: Option<i64>,
    #[serde(default)]
    pub alloc_count: u64,
    #[serde(default)]
    pub alloc_bytes_total: u64,
    /// The allocator's own statistics (absent in runs recorded before they were sent).
    #[serde(default)]
    pub allocator: Option<AllocatorInternal>,
    /// `--store rocksdb`: the engine's own memory accounting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineMemory>,
}

/// How often a rocksdb node polls RocksDB for running flushes and compactions.
pub const ENGINE_POLL_MS: u64 = 20;

/// A kind of RocksDB background job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineJob {
    Flush,
    Compaction,
}

/// RocksDB's own account of its memory (`rocksdb.*` properties, summed over the
/// column families), sent in `stats` events under `engine`.
///
/// ## Format
/// ```text
/// {"memtables_bytes":…,"block_cache_bytes":…,"table_readers_bytes":…,
///  "block_cache_pinned_bytes":…,"flushes_running":0,"compactions_running":1}
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineMemory {
    /// `rocksdb.cur-size-all-mem-tables`: active and immutable memtables.
    pub memtables_bytes: u64,
    /// `rocksdb.block-cache-usage` of the shared block cache (`--cache-mib`).
    pub block_cache_bytes: u64,
    /// `rocksdb.estimate-table-readers-mem`: index and filter blocks held outside the cache.
    pub table_readers_bytes: u64,
    /// `rocksdb.block-cache-pinned-usage`: cache entries in use (part of `block_cache_bytes`).
    pub block_cache_pinned_bytes: u64,
    pub flushes_running: u64,
    pub compactions_running: u64,
}

impl EngineMemory {
    /// What the engine accounts for: memtables, block cache and table readers.
    pub fn accounted_bytes(&self) -> u64 {
        self.memtables_bytes + self.block_cache_bytes + self.table_readers_bytes
    }
}

/// The node's account of a finished session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeSummary {
    pub blocks_received: u64,
    pub blocks_durable: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_received: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_payload_bytes_written: Option<u64>,
    /// True if every WAL bypassed the page cache; absent if none was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_io: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_live_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_live_peak_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alloc_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alloc_bytes_total: Option<u64>,
    /// What the node read about itself from `/proc/self` at the end.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_report: Option<crate::self_report::SelfReport>,
    /// Set by a lying node (`--lie`), which says so here and nowhere else.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lie: bool,
}

/// A thread-safe JSONL writer; each line is flushed at once so the driver sees events
/// live and a crash loses none that were emitted.
pub struct Events {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Events {
    pub fn stdout() -> Events {
        Events { out: Mutex::new(Box::new(io::stdout())) }
    }

    pub fn to_writer(w: impl Write + Send + 'static) -> Events {
        Events { out: Mutex::new(Box::new(w)) }
    }

    /// Emits `event` stamped with the current wall clock.
    pub fn emit(&self, event: NodeEvent) {
        let Ok(text) = serde_json::to_string(&EventLine { unix_ms: unix_ms(), event }) else { return };
        // A closed stdout (driver gone) must not kill the node mid-write: ignore errors.
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{text}").and_then(|_| out.flush());
        }
    }
}

pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc_stats::GlibcStats;

    #[test]
    fn every_event_reads_back_as_written() {
        let stats = NodeEvent::Stats(Box::new(Stats {
            queues: QueueDepths { queue_hash: 1, queue_write: 2, compactions_queued: 0, compactions_running: 1 },
            blocks_received: 10,
            blocks_durable: 8,
            heap_live_bytes: Some(1 << 20),
            heap_live_peak_bytes: Some(2 << 20),
            alloc_count: 5,
            alloc_bytes_total: 6,
            allocator: Some(AllocatorInternal::Glibc(GlibcStats {
                arena_bytes: 7,
                mmap_bytes: 8,
                ..Default::default()
            })),
            engine: Some(EngineMemory { memtables_bytes: 9, compactions_running: 1, ..Default::default() }),
        }));
        let end = NodeEvent::CompactionEnd(CompactionEnd {
            shard: 3,
            mode: Some(CompactionMode::Streaming),
            bytes: 9,
            bytes_out: 10,
            records: 11,
            duration_ms: 1.5,
        });
        let stall = NodeEvent::IngestStall { backlog: 6, limit: 4, waited_ms: 2.5 };
        for event in [stats, end, stall, NodeEvent::Ready { socket: Some("node.sock".into()) }] {
            let line = EventLine { unix_ms: 42, event };
            let text = serde_json::to_string(&line).unwrap();
            assert!(text.starts_with("{\"unix_ms\":42,\"event\":"), "{text}");
            assert_eq!(serde_json::from_str::<EventLine>(&text).unwrap(), line);
        }
    }

    #[test]
    fn events_recorded_before_later_fields_still_read() {
        let old = r#"{"unix_ms": 1, "event": "compaction_start", "shard": 1}"#;
        let e: EventLine = serde_json::from_str(old).unwrap();
        assert_eq!(e.event, NodeEvent::CompactionStart { shard: 1, mode: None, bytes: 0 });
        let old_stats = r#"{"unix_ms": 1, "event": "stats", "heap_live_bytes": 7, "allocator": {"resident_bytes": 9}}"#;
        let NodeEvent::Stats(s) = serde_json::from_str::<EventLine>(old_stats).unwrap().event else { panic!() };
        assert_eq!((s.heap_live_bytes, s.allocator.and_then(|a| a.resident_bytes())), (Some(7), Some(9)));
    }
}

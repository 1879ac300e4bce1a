//! The system under test: a sharded chain-history store fed blocks over a Unix socket.
//!
//! Modelled on real history nodes (README.md, "The incident"): blocks arrive out of order
//! over many peer connections, each served by a task on a tokio multi-thread runtime
//! that decodes them into many small owned objects; they are hashed on a verify pool,
//! appended to per-shard write-ahead logs in fdatasync'd batches, acknowledged, kept in
//! an index and a recent-block cache, and compacted into sorted segments (on the
//! runtime's blocking pool) once a shard is complete — with the buffered (pre-fix) or
//! streaming (fixed) compaction of the incident report — and, with `--retain-shards`,
//! expired again.
//!
//! # Layout
//! - [`config`]: command-line flags, and `to_args`, their inverse.
//! - [`mode`]: [`CompactionMode`] and [`mode::NodeMode`] (store, sink, null writer).
//! - [`server`]: socket, handshakes of the peer connections, the runtime and the
//!   pipeline's threads.
//! - [`peer`]: one runtime task per peer connection (async frame reader, decode).
//! - [`unstored`]: `--sink` and the frame helpers it shares with [`liar`] (`--lie`).
//! - [`pipeline`]: bounded queues (task → thread, thread → thread) and the verify stage.
//! - [`writer`]: the batch writer, single owner of all WALs; acks durable batches.
//! - [`cache`]: the long-lived block index and the bounded recent-block cache.
//! - [`retention`]: `--retain-shards`: tombstones, then deletion of old shards.
//! - [`wal`]: write-ahead log format, writer, reader, recovery.
//! - [`segment`]: sealed segment format, writer, reader.
//! - [`compaction`]: buffered and streaming compaction, bounded by a queue; the backlog
//!   limit (`--max-compaction-backlog`) the writer waits on.
//! - [`direct_io`]: aligned O_DIRECT writes and reads for WALs and segments (page cache bypassed).
//! - [`store`]: data directory layout, startup recovery, the read path for `verify`.
//! - [`events`]: [`events::NodeEvent`], the typed JSONL events every reader deserializes.
//! - [`histograms`]: latency histograms sent with `Done`.
//! - [`self_report`]: the node's own VmHWM and I/O for `node_summary`.
//! - [`alloc_stats`]: the interface each allocator binary implements, and each
//!   allocator's typed statistics.
//! - [`churn`]: `--churn-threads`, a positive control for allocator fragmentation.
//! - [`fault`]: fault injection (deaths on demand, whitebox kill points).
//! - [`heap_profile`]: when heap profiles are taken, and the interface a profiling
//!   allocator binary implements.
//!
//! # Invariants
//! - A block is acknowledged only after its WAL record and a later commit marker are
//!   fdatasync'd: every acknowledged block survives `kill -9`.
//! - Every length read from the socket or from disk is checked before allocating.
//! - Sealed WALs waiting for compaction are bounded however slow compaction is: above
//!   `--max-compaction-backlog` of them the writer stops taking blocks (after
//!   acknowledging what is durable). With `--retain-shards` too, so is all disk use.
//! - The node never depends on the harness; it shares only `syncbench-proto`.
//!
//! # Exit codes
//! 0 session finished; 1 runtime error (I/O, protocol); 2 usage; 3 the store holds
//! damaged acknowledged data (file and offset on stderr), refusing to start.

pub mod alloc_stats;
pub mod cache;
pub mod churn;
pub mod compaction;
pub mod config;
pub mod direct_io;
pub mod engine;
pub mod engine_malloc;
pub mod events;
pub mod fault;
pub mod heap_profile;
pub mod histograms;
pub mod liar;
pub mod mode;
pub mod peer;
pub mod pipeline;
pub mod retention;
#[cfg(feature = "rocksdb")]
pub mod rocks;
pub mod segment;
pub mod self_report;
pub mod server;
pub mod store;
pub mod unstored;
pub mod wal;
pub mod writer;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

pub use alloc_stats::{AllocatorStats, HeapCounters};
pub use config::{CompactionMode, Config};

/// Exit code when the store holds damaged acknowledged data.
pub const EXIT_CORRUPT: u8 = 3;

/// Why the node stopped.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error(transparent)]
    Frame(#[from] syncbench_proto::FrameError),
    #[error("driver connection lost: {0}")]
    Disconnected(std::io::Error),
    #[error("compaction failed: {0}")]
    Compaction(String),
    #[error("cannot start a thread: {0}")]
    Spawn(std::io::Error),
}

impl NodeError {
    pub fn io(path: &Path, source: std::io::Error) -> NodeError {
        NodeError::Io { path: path.to_owned(), source }
    }
}

/// What `node-<alloc> identify` prints: one JSON line saying what this binary is, so
/// the harness can check a `--node-bin` against `--alloc` (and `--heap-profile`)
/// before it labels a run with them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub allocator: String,
    pub allocator_version: String,
    pub heap_profiler: bool,
    /// The stores this binary can run (absent from binaries older than `--store`).
    #[serde(default)]
    pub stores: Vec<mode::StoreKind>,
    /// Which allocator serves a shared library's `malloc` (see `engine_malloc`).
    #[serde(default)]
    pub engine_malloc: Option<String>,
    pub node_version: String,
    pub build: events::Build,
}

/// The `main` of every allocator binary.
pub fn main(alloc: &'static dyn AllocatorStats) -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == "identify") {
        let id = Identity {
            allocator: alloc.name().into(),
            allocator_version: alloc.version(),
            heap_profiler: alloc.heap_profiler().is_some(),
            stores: mode::StoreKind::compiled_in(),
            engine_malloc: engine_malloc::probe(alloc),
            node_version: env!("CARGO_PKG_VERSION").into(),
            build: events::Build::this(),
        };
        return match serde_json::to_string(&id) {
            Ok(line) if writeln!(std::io::stdout(), "{line}").is_ok() => ExitCode::SUCCESS,
            _ => ExitCode::FAILURE,
        };
    }
    if std::env::args_os().nth(1).is_some_and(|a| a == "export") {
        let rest: Vec<std::ffi::OsString> = std::env::args_os().skip(2).collect();
        #[cfg(feature = "rocksdb")]
        return rocks::export::main(&rest);
        #[cfg(not(feature = "rocksdb"))]
        {
            let _ = rest;
            eprintln!("node: error: export: this binary was built without RocksDB (use node-<alloc>-rocksdb)");
            return ExitCode::from(2);
        }
    }
    let cfg = Config::parse();
    if !mode::StoreKind::compiled_in().contains(&cfg.store) {
        eprintln!(
            "node: error: --store {}: this binary ({}) was built without it; use node-{}-rocksdb",
            cfg.store,
            alloc.name(),
            alloc.name()
        );
        return ExitCode::from(2);
    }
    match (&cfg.heap_profile_dir, alloc.heap_profiler()) {
        (Some(_), None) => {
            eprintln!(
                "node: error: --heap-profile-dir: this binary ({}) has no heap profiler; \
                 use a profiling build (node-jemalloc-prof)",
                alloc.name()
            );
            return ExitCode::from(2);
        }
        (None, Some(profiler)) => {
            if let Err(e) = profiler.set_active(false) {
                eprintln!("node: error: cannot turn heap sampling off: {e}");
                return ExitCode::FAILURE;
            }
        }
        _ => {}
    }
    match server::run(&cfg, alloc) {
        Ok(()) => ExitCode::SUCCESS,
        Err(NodeError::Store(e)) if e.is_corruption() => {
            eprintln!("node: {e}");
            ExitCode::from(EXIT_CORRUPT)
        }
        Err(e) => {
            eprintln!("node: error: {e}");
            ExitCode::FAILURE
        }
    }
}

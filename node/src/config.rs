//! Command-line configuration of a node binary (`node-glibc`, `node-jemalloc`, …).

use std::path::PathBuf;

use clap::Parser;

use crate::fault::Fault;

/// How a complete shard's WAL becomes a sorted segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CompactionMode {
    /// Read the whole WAL into memory, clone every payload, sort, build the segment in
    /// memory, write it at once: the incident's pre-fix behaviour (peak ≈ 3 × WAL size).
    Buffered,
    /// Scan record headers into an offset index, read records on demand in block
    /// order, write in bounded chunks: the fix (peak ≈ index + one record + 1 MiB).
    Streaming,
}

impl CompactionMode {
    /// The flag value and the name used in events, run names and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            CompactionMode::Buffered => "buffered",
            CompactionMode::Streaming => "streaming",
        }
    }
}

/// Blocks per writer batch unless told otherwise (the seed node's batch size).
pub const DEFAULT_WRITER_BATCH: u64 = 512;

/// A sharded chain-history store fed blocks over a Unix socket.
#[derive(Debug, Clone, Parser)]
#[command(name = "node", version, about)]
pub struct Config {
    /// Unix socket to listen on (created 0600; its directory should be 0700).
    #[arg(long)]
    pub socket: PathBuf,
    /// Data directory (created if missing).
    #[arg(long)]
    pub data: PathBuf,
    /// Blocks per shard.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub shard_size: u64,
    /// Blocks per writer batch (appended, fdatasync'd, then acknowledged together).
    #[arg(long, default_value_t = DEFAULT_WRITER_BATCH, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub writer_batch: u64,
    /// Longest a partial batch waits for more blocks before it is committed anyway.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub max_batch_delay_ms: u64,
    #[arg(long, value_enum, default_value_t = CompactionMode::Streaming)]
    pub compaction: CompactionMode,
    /// Compactions allowed to run at once; further complete shards wait in a queue.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub compaction_concurrency: u64,
    /// Hash/verify worker threads (default: available cores, at most 8).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub hash_threads: Option<u64>,
    /// Capacity, in blocks, of each queue between pipeline stages.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4_096))]
    pub queue_blocks: u64,
    /// Interval of `stats` events.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub stats_interval_ms: u64,
    /// Leak this many bytes per received block (tests leak detection).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=16_777_216))]
    pub inject_leak_bytes_per_block: u64,
    /// Burn this much CPU per block in the hash stage (tests slowdown detection).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub burn_cpu_us_per_block: u64,
    /// Acknowledge every block on receipt, without decoding, hashing or storing it: a
    /// null node that measures the driver's own ceiling.
    #[arg(long)]
    pub sink: bool,
    /// Decode and hash every block as usual, then drop it and acknowledge in batches
    /// without writing anything: the node's CPU ceiling (its pipeline minus the disk).
    #[arg(long, conflicts_with = "sink")]
    pub null_writer: bool,
    /// Break the ingest protocol this way (a fake node for testing the harness's
    /// acknowledgement accounting; see `liar`).
    #[arg(long, value_enum, conflicts_with_all = ["sink", "null_writer"])]
    pub lie: Option<crate::liar::Lie>,
    /// Die this way at the `--fault-at-block`-th received block.
    #[arg(long, value_enum)]
    pub fault: Option<Fault>,
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub fault_at_block: u64,
}

impl Config {
    /// What the node does with blocks, as announced in `node_start`: `store`, `sink` or
    /// `null_writer`. A lying node (`--lie`) announces `store`, as a buggy node would.
    pub fn mode(&self) -> &'static str {
        if self.sink {
            "sink"
        } else if self.null_writer {
            "null_writer"
        } else {
            "store"
        }
    }

    pub fn hash_threads(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        self.hash_threads.map_or(cores.min(8), |n| n as usize)
    }
}

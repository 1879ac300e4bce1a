//! Command-line configuration of a node binary (`node-glibc`, `node-jemalloc`, …).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

pub use crate::mode::{CompactionMode, NodeMode, StoreKind};

use crate::compaction::streaming::Reads;
use crate::fault::Fault;

/// Blocks per writer batch unless told otherwise (the seed node's batch size).
pub const DEFAULT_WRITER_BATCH: u64 = 512;
/// Upper bounds of the node's flags; drivers check their own flags against the same.
pub const SHARD_SIZE_MAX: u64 = 10_000_000;
/// Largest `--inject-retained-mib` (a calibration knob, not a way to exhaust a host).
pub const INJECT_RETAINED_MIB_MAX: u64 = 16 * 1024;
pub const WRITER_BATCH_MAX: u64 = 65_536;
pub const COMPACTION_CONCURRENCY_MAX: u64 = 64;
pub const PEERS_MAX: u64 = 256;
pub const WORKER_THREADS_MAX: u64 = 256;
/// Bounds of `--chunk-bytes`: the mid-size range where glibc keeps freed buffers in its
/// arenas once its dynamic mmap threshold has risen (128 KiB up to 32 MiB).
pub const CHUNK_BYTES_MIN: u64 = 128 << 10;
pub const CHUNK_BYTES_MAX: u64 = 32 << 20;
/// Default `--cache-mib`: the recent-block cache of a node serving this workload
/// (about 1,000 mainnet-sized blocks of decoded headers, transactions and receipts).
pub const DEFAULT_CACHE_MIB: u64 = 64;
/// Default `--max-compaction-backlog`: sealed shards that may wait for compaction before
/// the writer stops taking blocks. Four shards of the default workload's size leave room
/// for a burst (a batch can seal a shard while another compacts) and bound the sealed
/// WALs on disk to four shards' worth.
pub const DEFAULT_COMPACTION_BACKLOG: u64 = 4;
pub const COMPACTION_BACKLOG_MAX: u64 = 1_024;
/// Most `--compaction-readers`.
pub const COMPACTION_READERS_MAX: u64 = 16;
/// A `--compaction-window-bytes` that covers most of how far the default workload's
/// parallel fetch displaces records in a WAL: in sealed WALs of its, at most 32–41 MiB
/// of records were read ahead of their turn, half the time under 16 MiB.
pub const WIDE_COMPACTION_WINDOW_BYTES: u64 = 32 << 20;
/// `--store rocksdb`: all column families' WAL bytes before RocksDB flushes the oldest
/// memtables (bounds the WAL on disk and what recovery replays).
pub const ROCKSDB_MAX_TOTAL_WAL_BYTES: u64 = 512 << 20;
/// Most `--compaction-window-bytes`.
pub const COMPACTION_WINDOW_BYTES_MAX: u64 = 1 << 30;

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
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=SHARD_SIZE_MAX))]
    pub shard_size: u64,
    /// Blocks per writer batch (appended, fdatasync'd, then acknowledged together).
    #[arg(long, default_value_t = DEFAULT_WRITER_BATCH, value_parser = clap::value_parser!(u64).range(1..=WRITER_BATCH_MAX))]
    pub writer_batch: u64,
    /// Longest a partial batch waits for more blocks before it is committed anyway.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub max_batch_delay_ms: u64,
    /// Where blocks are kept: the node's own WALs and segments, or RocksDB (binaries
    /// built with the `rocksdb` feature only, `node-<alloc>-rocksdb`). With `rocksdb`,
    /// `--compaction-concurrency` sets RocksDB's background jobs (compactions + one
    /// flush), `--cache-mib` its block cache, and the `--compaction*`/`--chunk-bytes`
    /// flags of the native store's compaction are not used.
    #[arg(long, value_enum, default_value_t = StoreKind::Native)]
    pub store: StoreKind,
    #[arg(long, value_enum, default_value_t = CompactionMode::Streaming)]
    pub compaction: CompactionMode,
    /// Compactions allowed to run at once; further complete shards wait in a queue.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=COMPACTION_CONCURRENCY_MAX))]
    pub compaction_concurrency: u64,
    /// Verification threads, a CPU pool beside the runtime that hashes every block
    /// (default: available cores, at most 8). `--hash-threads` is the old name.
    #[arg(long = "verify-threads", alias = "hash-threads", value_parser = clap::value_parser!(u64).range(1..=64))]
    pub hash_threads: Option<u64>,
    /// Worker threads of the node's tokio runtime, which runs one task per peer
    /// connection (default: available cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=WORKER_THREADS_MAX))]
    pub worker_threads: Option<u64>,
    /// Connections the node accepts, each sending `Hello` and then its share of the
    /// blocks; acknowledgements and `Done` go to the first.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=PEERS_MAX))]
    pub peers: u64,
    /// Budget of the recent-block cache (decoded blocks kept after they are durable,
    /// oldest evicted first); 0 turns it off.
    #[arg(long, default_value_t = DEFAULT_CACHE_MIB, value_parser = clap::value_parser!(u64).range(0..=65_536))]
    pub cache_mib: u64,
    /// Chunk size of streaming compaction's WAL reads and segment writes.
    #[arg(long, default_value_t = 1 << 20, value_parser = clap::value_parser!(u64).range(CHUNK_BYTES_MIN..=CHUNK_BYTES_MAX))]
    pub chunk_bytes: u64,
    /// WAL reads in flight per streaming compaction. 1 reads each record in the
    /// compaction thread when it is needed; N > 1 starts N reader threads that read
    /// ahead (two buffers each) while the compaction thread writes the segment.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=COMPACTION_READERS_MAX))]
    pub compaction_readers: u64,
    /// Streaming compaction with one reader reads the WAL front to back, a chunk per
    /// read, and holds records read before their turn (block order) in a window of at
    /// most this many bytes; a record the window cannot reach is read on its own.
    /// 0 (the default) reads each record when it is needed, one at a time. Not used
    /// with `--compaction-readers` above 1.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=COMPACTION_WINDOW_BYTES_MAX))]
    pub compaction_window_bytes: u64,
    /// Most sealed shards waiting for or in compaction. Above it the writer, after
    /// acknowledging what is durable, takes no more blocks until compaction catches up
    /// (an `ingest_stall` event says how long): ingest slows to compaction's pace
    /// instead of filling the disk with sealed WALs. One batch may seal a shard or two
    /// beyond it before the writer waits.
    #[arg(long, default_value_t = DEFAULT_COMPACTION_BACKLOG, value_parser = clap::value_parser!(u64).range(1..=COMPACTION_BACKLOG_MAX))]
    pub max_compaction_backlog: u64,
    /// Keep only the newest K sealed shards: older segments are deleted after each
    /// compaction (history expiry), so a run of any length fits on a small disk.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub retain_shards: Option<u64>,
    /// Capacity, in blocks, of each queue between pipeline stages.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4_096))]
    pub queue_blocks: u64,
    /// Interval of `stats` events.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub stats_interval_ms: u64,
    /// Leak this many bytes per received block (tests leak detection).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=16_777_216))]
    pub inject_leak_bytes_per_block: u64,
    /// Allocate this many MiB at start, touch every page, and hold them to the end: a
    /// memory regression of known size (calibrates the gate's power).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=INJECT_RETAINED_MIB_MAX))]
    pub inject_retained_mib: u64,
    /// Burn this much CPU per block in the hash stage (tests slowdown detection).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub burn_cpu_us_per_block: u64,
    /// Sleep this long at the start of every compaction (a slow disk, for testing
    /// `--max-compaction-backlog`).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub compaction_delay_ms: u64,
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
    /// Positive control for allocator fragmentation: this many threads each cycle a
    /// buffer (`--churn-buffer-bytes`, `--churn-rounds` times) when the session starts,
    /// then exit (see `churn`).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=256))]
    pub churn_threads: u64,
    #[arg(long, default_value_t = 11 << 20, value_parser = clap::value_parser!(u64).range(4_096..=(64 << 20)))]
    pub churn_buffer_bytes: u64,
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub churn_rounds: u64,
    /// Take heap profiles into this directory (only a binary with a heap profiler, such
    /// as `node-jemalloc-prof`, accepts it): at the peak, at the end, and optionally
    /// every `--heap-profile-every-ms`.
    #[arg(long)]
    pub heap_profile_dir: Option<PathBuf>,
    /// A new peak profile is taken when the live heap exceeds the last one's by this much.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pub heap_profile_margin_pct: u64,
    /// Also take a profile this often (at most 1,000 per run).
    #[arg(long, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub heap_profile_every_ms: Option<u64>,
}

impl Config {
    /// How streaming compaction reads the WAL: `--compaction-readers` above 1 takes
    /// precedence over `--compaction-window-bytes`.
    pub fn compaction_reads(&self) -> Reads {
        Reads::from_flags(self.compaction_readers as usize, self.compaction_window_bytes as usize)
    }

    /// What the node does with blocks, as announced in `node_start`: `store`, `sink` or
    /// `null_writer`. A lying node (`--lie`) announces `store`, as a buggy node would.
    pub fn mode(&self) -> NodeMode {
        if self.sink {
            NodeMode::Sink
        } else if self.null_writer {
            NodeMode::NullWriter
        } else {
            NodeMode::Store
        }
    }

    /// A configuration with every flag at its default.
    pub fn new(socket: PathBuf, data: PathBuf) -> Config {
        let mut c = Config::parse_from(["node", "--socket", "-", "--data", "-"]);
        (c.socket, c.data) = (socket, data);
        c
    }

    /// The command line that parses back into this configuration (the inverse of
    /// [`Parser::parse_from`]): `--socket`, `--data` and the flags a driver always
    /// states (shard size, writer batch, compaction and its concurrency, stats interval),
    /// then every other flag that differs from its default. Paths stay `OsString`: one
    /// that is not UTF-8 reaches the node byte for byte.
    pub fn to_args(&self) -> Vec<OsString> {
        let d = Config::new(PathBuf::new(), PathBuf::new());
        let mut a: Vec<OsString> =
            vec!["--socket".into(), self.socket.clone().into(), "--data".into(), self.data.clone().into()];
        let mut flag = |name: &str, value: String| a.extend([format!("--{name}").into(), value.into()]);
        flag("shard-size", self.shard_size.to_string());
        flag("writer-batch", self.writer_batch.to_string());
        flag("compaction", self.compaction.to_string());
        flag("compaction-concurrency", self.compaction_concurrency.to_string());
        flag("stats-interval-ms", self.stats_interval_ms.to_string());
        let numbers = [
            ("max-batch-delay-ms", self.max_batch_delay_ms, d.max_batch_delay_ms),
            ("queue-blocks", self.queue_blocks, d.queue_blocks),
            ("inject-leak-bytes-per-block", self.inject_leak_bytes_per_block, d.inject_leak_bytes_per_block),
            ("inject-retained-mib", self.inject_retained_mib, d.inject_retained_mib),
            ("burn-cpu-us-per-block", self.burn_cpu_us_per_block, d.burn_cpu_us_per_block),
            ("fault-at-block", self.fault_at_block, d.fault_at_block),
            ("heap-profile-margin-pct", self.heap_profile_margin_pct, d.heap_profile_margin_pct),
            ("churn-threads", self.churn_threads, d.churn_threads),
            ("churn-buffer-bytes", self.churn_buffer_bytes, d.churn_buffer_bytes),
            ("churn-rounds", self.churn_rounds, d.churn_rounds),
            ("peers", self.peers, d.peers),
            ("cache-mib", self.cache_mib, d.cache_mib),
            ("chunk-bytes", self.chunk_bytes, d.chunk_bytes),
            ("compaction-readers", self.compaction_readers, d.compaction_readers),
            ("compaction-window-bytes", self.compaction_window_bytes, d.compaction_window_bytes),
            ("max-compaction-backlog", self.max_compaction_backlog, d.max_compaction_backlog),
            ("compaction-delay-ms", self.compaction_delay_ms, d.compaction_delay_ms),
        ];
        for (name, value, default) in numbers {
            if value != default {
                flag(name, value.to_string());
            }
        }
        let optional = [
            ("verify-threads", self.hash_threads),
            ("worker-threads", self.worker_threads),
            ("retain-shards", self.retain_shards),
        ];
        for (name, value) in optional {
            if let Some(n) = value {
                flag(name, n.to_string());
            }
        }
        if self.store != d.store {
            flag("store", self.store.to_string());
        }
        if let Some(l) = self.lie {
            flag("lie", value_name(l));
        }
        if let Some(f) = self.fault {
            flag("fault", value_name(f));
        }
        if let Some(ms) = self.heap_profile_every_ms {
            flag("heap-profile-every-ms", ms.to_string());
        }
        if let Some(dir) = &self.heap_profile_dir {
            a.extend(["--heap-profile-dir".into(), dir.clone().into()]);
        }
        a.extend(self.sink.then(|| "--sink".into()));
        a.extend(self.null_writer.then(|| "--null-writer".into()));
        a
    }

    /// What `--churn-*` asks for, if anything.
    pub fn churn(&self) -> Option<crate::churn::Churn> {
        (self.churn_threads > 0).then_some(crate::churn::Churn {
            threads: self.churn_threads,
            buffer_bytes: self.churn_buffer_bytes,
            rounds: self.churn_rounds,
        })
    }

    /// What `--heap-profile-*` asks for, if anything.
    pub fn heap_capture(&self) -> Option<crate::heap_profile::CaptureConfig> {
        Some(crate::heap_profile::CaptureConfig {
            dir: self.heap_profile_dir.clone()?,
            margin_pct: self.heap_profile_margin_pct,
            every: self.heap_profile_every_ms.map(std::time::Duration::from_millis),
        })
    }

    /// The runtime's worker threads: `--worker-threads`, or one per core.
    pub fn worker_threads(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        self.worker_threads.map_or(cores, |n| n as usize)
    }

    pub fn hash_threads(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        self.hash_threads.map_or(cores.min(8), |n| n as usize)
    }
}

/// The command-line spelling of a value of a `ValueEnum`.
fn value_name(v: impl ValueEnum) -> String {
    v.to_possible_value().map_or_else(String::new, |p| p.get_name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_args_parses_back_into_the_same_config() {
        let mut c = Config::new("s.sock".into(), "d".into());
        assert_eq!(Config::parse_from(std::iter::once("node".into()).chain(c.to_args())).shard_size, c.shard_size);
        c.shard_size = 500;
        c.hash_threads = Some(3);
        c.queue_blocks = 7;
        c.null_writer = true;
        c.fault = Some(crate::fault::Fault::Abort);
        c.lie = None;
        c.compaction = CompactionMode::Buffered;
        c.heap_profile_dir = Some("heap".into());
        c.heap_profile_every_ms = Some(500);
        c.heap_profile_margin_pct = 25;
        c.churn_threads = 64;
        c.churn_rounds = 3;
        c.worker_threads = Some(16);
        c.peers = 16;
        c.cache_mib = 0;
        c.chunk_bytes = 256 << 10;
        c.compaction_readers = 4;
        c.compaction_window_bytes = WIDE_COMPACTION_WINDOW_BYTES;
        c.retain_shards = Some(4);
        c.max_compaction_backlog = 9;
        c.compaction_delay_ms = 150;
        c.store = StoreKind::Rocksdb;
        let back = Config::parse_from(std::iter::once("node".into()).chain(c.to_args()));
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
    }
}

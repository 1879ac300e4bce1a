//! Command-line syntax (clap). Everything here is strings and numbers; `options`
//! turns it into typed configuration.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use syncbench_node::CompactionMode;

use crate::settings::{Allocator, EngineMalloc};
use syncbench_node::config::StoreKind;

#[derive(Debug, Parser)]
#[command(
    name = "syncbench",
    version,
    about = "Benchmark harness for chain-sync storage nodes: allocators, compaction, RSS and latency"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one ingest benchmark: build/spawn the node, replay a workload, record and chart.
    Ingest(Box<IngestArgs>),
    /// Run a cartesian product of configurations, repeated and interleaved, and compare
    /// them (paired t on log ratios, Benjamini–Hochberg, an MDE per row).
    Matrix(Box<MatrixArgs>),
    /// Re-render charts and comparisons of runs or suites from their files; merge
    /// directories from several hosts; regenerate the results index.
    Report(ReportArgs),
    /// Re-read every block stored in a node data directory and compare with the generator.
    Verify(VerifyArgs),
    /// PR gate, stable metrics: compare a candidate run or suite with a committed
    /// baseline (allocations, live heap, bytes written, peak RSS); or write a baseline.
    Gate(GateArgs),
    /// PR gate, time metrics: run a base and a head node binary interleaved on this
    /// machine and compare throughput and latency as paired ratios with t intervals.
    Ab(Box<AbArgs>),
    /// Measure the gate's false-alarm rate and power on a suite of clean runs and runs
    /// with a known memory regression (`matrix --inject-retained-mib 0,N,…`).
    Calibrate(CalibrateArgs),
    /// Sweep one allocator's settings (a default space from published tunings, or
    /// --setting) on the soak workload: the memory-vs-cost Pareto front, with a
    /// recommendation resting on called differences only.
    Tune(Box<TuneArgs>),
    /// Inspect workloads.
    Workload {
        #[command(subcommand)]
        command: WorkloadCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkloadCommand {
    /// Print what a workload will do: blocks, shards, bytes per block, disk needed.
    Describe(DescribeArgs),
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Allocator the node is compiled with.
    #[arg(long, value_enum, default_value = "glibc")]
    pub alloc: Allocator,
    /// glibc MALLOC_ARENA_MAX for the node: a number, or `default` to leave it unset.
    #[arg(long, default_value = "default")]
    pub arena_max: String,
    /// Allocator tuning: passed as _RJEM_MALLOC_CONF (jemalloc; MALLOC_CONF when it
    /// replaces RocksDB's malloc), as MIMALLOC_<KEY>=<v> variables from `key=v,key=v`
    /// (mimalloc), or as GLIBC_TUNABLES (glibc: `glibc.malloc.<name>=<n>[:…]`). Checked
    /// before the run: a setting the allocator would ignore is refused.
    #[arg(long)]
    pub alloc_conf: Option<String>,
    #[arg(long, value_enum, default_value = "streaming")]
    pub compaction: CompactionMode,
    /// Compactions allowed at once in the node (`--store rocksdb`: RocksDB's background
    /// jobs are this + 1).
    #[arg(long, default_value_t = 1)]
    pub compaction_concurrency: u64,
    /// Where the node keeps blocks: its own WALs and segments, or RocksDB (the
    /// `node-<alloc>-rocksdb` binary, built on first use; docs/rocksdb.md).
    #[arg(long, value_enum, default_value = "native")]
    pub store: StoreKind,
    /// With --store rocksdb: whether RocksDB's own `malloc` goes to the allocator under
    /// test (`allocator`) or stays on glibc (`system`, the control: only the node's
    /// Rust allocations change allocator).
    #[arg(long, value_enum, default_value = "allocator")]
    pub engine_malloc: EngineMalloc,
    /// Built-in workload name (smoke, mainnet, mainnet-large, early-chain, soak, gate) or spec path.
    #[arg(long, default_value = syncbench_workloads::DEFAULT_WORKLOAD)]
    pub workload: String,
    #[command(flatten)]
    pub overrides: WorkloadOverrides,
    /// Override the workload's shard size.
    #[arg(long)]
    pub shard_size: Option<u64>,
    /// Blocks per node writer batch.
    #[arg(long, default_value_t = syncbench_node::config::DEFAULT_WRITER_BATCH)]
    pub writer_batch: u64,
    /// Run directory (default: results/<UTC timestamp>_<workload>_<alloc>[_arenaN]_<mode>_cc<N>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where the node keeps its data (default: .syncbench-data/<run name>); deleted after
    /// the run unless --keep-data.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep the node's data directory after the run.
    #[arg(long)]
    pub keep_data: bool,
    /// Node executable to run instead of building/finding node-<alloc>.
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// Skip the free-disk check.
    #[arg(long)]
    pub no_disk_check: bool,
    /// Connections the driver spreads each arrival window over (the node's peers).
    #[arg(long, default_value_t = crate::settings::DEFAULT_PEERS)]
    pub peers: u64,
    /// Worker threads of the node's tokio runtime (default: one per core).
    #[arg(long)]
    pub worker_threads: Option<u64>,
    /// Stop sending after this long (e.g. 5m) instead of at the workload's end; the run
    /// is complete when every block sent is acknowledged. For soak runs.
    #[arg(long)]
    pub duration: Option<String>,
    #[command(flatten)]
    pub settings: RunSettingsArgs,
}

/// How every node run is measured and bounded (the same for `ingest` and `matrix`).
#[derive(Debug, Args)]
pub struct RunSettingsArgs {
    /// /proc sampling interval of the node (e.g. 100ms, 1s).
    #[arg(long, default_value = "100ms")]
    pub sample_interval: String,
    /// Memory limit for the node (e.g. 2GiB): cgroup where possible, else an RSS watchdog.
    #[arg(long)]
    pub mem_limit: Option<String>,
    /// Give up on a run after this long (e.g. 30m).
    #[arg(long, default_value = "30m")]
    pub timeout: String,
    /// A run whose node is stopped or sends no stats for this long, or whose sampling
    /// misses this long, ends `stalled` (the node is killed; 1s..=1h).
    #[arg(long, default_value = "10s")]
    pub stall_timeout: String,
    /// Extra argument for the node (repeatable), e.g. --node-arg=--fault=panic.
    #[arg(long = "node-arg", allow_hyphen_values = true)]
    pub node_args: Vec<String>,
    /// Also render charts as PNG.
    #[arg(long)]
    pub png: bool,
    /// Skip the disk and CPU ceiling probes (no `efficiency` in summary.json).
    #[arg(long)]
    pub no_ceilings: bool,
    /// After a successful run, read this many acknowledged blocks (a seeded random
    /// sample) back from the node's store and compare them with the generator; 0 skips
    /// (default 64; skipped for a `--node-arg=--sink` node, which stores nothing).
    #[arg(long, default_value_t = 64)]
    pub verify_sample: u32,
    /// Take jemalloc heap profiles (at the node's peak and at the end) into heap/ of
    /// each run, with the profiling build of the node (`node-jemalloc-prof`). jemalloc
    /// only: `matrix` profiles its jemalloc cells; glibc and mimalloc cannot be
    /// profiled this way (their own statistics are charted in allocator.svg).
    #[arg(long)]
    pub heap_profile: bool,
    /// With --heap-profile: also take a profile this often (e.g. 10s; at least 100ms).
    #[arg(long, requires = "heap_profile")]
    pub heap_profile_every: Option<String>,
}

#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// Allocators (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "glibc,jemalloc,mimalloc")]
    pub alloc: Vec<Allocator>,
    /// MALLOC_ARENA_MAX values (`default` = unset); only glibc cells vary by it.
    #[arg(long, value_delimiter = ',', default_value = "default")]
    pub arena_max: Vec<String>,
    #[arg(long, value_enum, value_delimiter = ',', default_value = "streaming")]
    pub compaction: Vec<CompactionMode>,
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub compaction_concurrency: Vec<u64>,
    /// An allocator's tuning as an axis, `ALLOC:SETTING` (repeatable, one value per
    /// setting): `jemalloc:background_thread:true,dirty_decay_ms:1000`,
    /// `mimalloc:purge_delay=0`, `glibc:glibc.malloc.trim_threshold=131072`, or
    /// `ALLOC:default` for the untuned allocator (as `ingest --alloc-conf`). An
    /// allocator no value names runs untuned; cells are named `…_conf-<setting>`.
    #[arg(long = "alloc-conf", value_name = "ALLOC:SETTING")]
    pub alloc_conf: Vec<String>,
    /// Stores (comma-separated: an axis; `native`, `rocksdb`).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "native")]
    pub store: Vec<StoreKind>,
    /// Who serves RocksDB's `malloc` (comma-separated: an axis; `allocator`, `system`);
    /// cells that cannot differ (native store, glibc) are skipped.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "allocator")]
    pub engine_malloc: Vec<EngineMalloc>,
    /// Driver connections per run (comma-separated: an axis).
    #[arg(long, value_delimiter = ',', default_value = "16")]
    pub peers: Vec<u64>,
    /// Node runtime worker threads (comma-separated: an axis; `default` = one per core).
    #[arg(long, value_delimiter = ',', default_value = "default")]
    pub worker_threads: Vec<String>,
    /// Run lengths (comma-separated: an axis; `full` = the whole workload), e.g. 5m.
    #[arg(long, value_delimiter = ',', default_value = "full")]
    pub duration: Vec<String>,
    /// MiB the node holds from start to end beyond its own (comma-separated: an axis;
    /// cells `…_inj<N>mib`; 0 = none): memory regressions of known size, to calibrate
    /// the gate (`syncbench calibrate`).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub inject_retained_mib: Vec<u64>,
    /// Repetitions of every cell, in rounds (each round runs every cell once, in a
    /// seeded order): the rounds pair the cells' runs. 5 lets a comparison call a
    /// difference of ~15–25 % on this project's noise after the suite's correction; 3
    /// only a far larger one (the MDE column says which).
    #[arg(long, default_value_t = 5)]
    pub repeat: u32,
    #[arg(long, default_value = syncbench_workloads::DEFAULT_WORKLOAD)]
    pub workload: String,
    #[command(flatten)]
    pub overrides: WorkloadOverrides,
    /// Blocks per shard (comma-separated). Several sizes make shard size an axis: cells
    /// are named `<cell>_shard<N>` and the suite gets a `scaling` chart.
    #[arg(long, value_delimiter = ',')]
    pub shard_size: Vec<u64>,
    /// Suite directory (default: results/<UTC timestamp>_<workload>_matrix).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Stop at the first failed run (default: record it and go on).
    #[arg(long)]
    pub fail_fast: bool,
    /// Keep cells that cannot differ (e.g. --arena-max for jemalloc) as controls.
    #[arg(long)]
    pub no_skip: bool,
    /// Cells of the axes' product not to run (comma-separated cell names, as the
    /// suite would name them): a suite of exactly the cells a question needs, still
    /// interleaved in rounds. A name that is not in the product is refused.
    #[arg(long, value_delimiter = ',')]
    pub exclude_cell: Vec<String>,
    /// Cell the others are compared with (default: the first).
    #[arg(long)]
    pub baseline_cell: Option<String>,
    /// Smallest relative difference (percent) a verdict may call.
    #[arg(long, default_value_t = 5.0, value_parser = parse_floor_pct)]
    pub floor_pct: f64,
    /// Seed of the run-order shuffle.
    #[arg(long, default_value_t = 1)]
    pub order_seed: u64,
    #[command(flatten)]
    pub settings: RunSettingsArgs,
}

#[derive(Debug, Args)]
pub struct TuneArgs {
    /// Allocator whose settings are swept.
    #[arg(long, value_enum)]
    pub alloc: Allocator,
    /// A setting to try instead of the default space (repeatable): an `--alloc-conf`
    /// string for the allocator. The untuned allocator always runs, first, as the
    /// baseline.
    #[arg(long)]
    pub setting: Vec<String>,
    /// glibc with --setting: MALLOC_ARENA_MAX values crossed with the settings
    /// (comma-separated; `default` = unset). The default space crosses default,2.
    #[arg(long, value_delimiter = ',', requires = "setting")]
    pub arena_max: Vec<String>,
    /// Store the node runs (`rocksdb`: with a replacing allocator, the engine's
    /// allocations are tuned too).
    #[arg(long, value_enum, default_value = "native")]
    pub store: StoreKind,
    #[arg(long, default_value = "soak")]
    pub workload: String,
    #[command(flatten)]
    pub overrides: WorkloadOverrides,
    /// Length of every run (`full` = the whole workload).
    #[arg(long, default_value = "5m")]
    pub duration: String,
    /// Interleaved rounds; every round runs every setting once. 5 call a memory change
    /// of ~15–25 % on this project's noise; fewer give no recommendation.
    #[arg(long, default_value_t = 5)]
    pub repeat: u32,
    /// Suite directory (default: results/<UTC timestamp>_<workload>_tune-<alloc>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Stop at the first failed run.
    #[arg(long)]
    pub fail_fast: bool,
    /// Smallest relative difference (percent) a verdict may call.
    #[arg(long, default_value_t = 5.0, value_parser = parse_floor_pct)]
    pub floor_pct: f64,
    /// Seed of the run-order shuffle.
    #[arg(long, default_value_t = 1)]
    pub order_seed: u64,
    #[command(flatten)]
    pub settings: RunSettingsArgs,
}

/// `ab --judge`: which half of the PR gate an `ab` suite decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AbJudge {
    /// Throughput, ingest latency and node user CPU, paired by round (t on logs, BH).
    Time,
    /// The gate's memory and allocation metrics, head against base under the limits of
    /// --thresholds (the rule of `syncbench gate`: geometric means, medians for the peak
    /// live heap): RSS measured on one machine in one session, never against a baseline
    /// from another host or kernel.
    Memory,
}

/// `ab --heap-profile-sides`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfiledSides {
    Both,
    Base,
    Head,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// Baseline: a file written by --write-baseline, or a run or suite directory.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Candidate run or suite directory.
    #[arg(long)]
    pub candidate: PathBuf,
    /// Allowed increases per metric (TOML; see results/baselines/thresholds.toml).
    #[arg(long)]
    pub thresholds: Option<PathBuf>,
    /// Also write the verdict table as Markdown here (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write the candidate's metrics as a baseline file here instead of gating (nothing
    /// is gated then, so the gating flags are refused with it).
    #[arg(long, conflicts_with_all = ["baseline", "thresholds", "markdown"])]
    pub write_baseline: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AbArgs {
    /// Node binary built from the base commit.
    #[arg(long)]
    pub base_node: PathBuf,
    /// Node binary built from the head commit.
    #[arg(long)]
    pub head_node: PathBuf,
    /// Allocator both binaries are compiled with.
    #[arg(long, value_enum, default_value = "jemalloc")]
    pub alloc: Allocator,
    /// Store both nodes run (their binaries must have it: `node-<alloc>-rocksdb`).
    #[arg(long, value_enum, default_value = "native")]
    pub store: StoreKind,
    #[arg(long, default_value = "smoke")]
    pub workload: String,
    #[command(flatten)]
    pub overrides: WorkloadOverrides,
    /// Rounds; each runs base and head back to back. 20 resolved a 10 % CPU-time
    /// regression on the 2-core development VM, 8 did not (results/notes/2026-11-21-ab-rounds.md).
    #[arg(long, default_value_t = 20)]
    pub repeat: u32,
    /// Suite directory (default: results/<UTC timestamp>_<workload>_ab).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Smallest slowdown (percent) the verdict may call; `[ab] floor_pct` in
    /// --thresholds takes precedence.
    #[arg(long, default_value_t = 5.0, value_parser = parse_floor_pct)]
    pub floor_pct: f64,
    #[arg(long)]
    pub thresholds: Option<PathBuf>,
    /// What decides the exit code: `time` (the default) or `memory` (scripts/pr-gate.sh
    /// --base-node: the memory gate, base measured beside head).
    #[arg(long, value_enum, default_value_t = AbJudge::Time)]
    pub judge: AbJudge,
    /// Also write the verdict table as Markdown here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Seed of the run-order shuffle.
    #[arg(long, default_value_t = 1)]
    pub order_seed: u64,
    /// With --heap-profile: which sides take profiles (their --*-node must be a
    /// profiling build). `head` alone measures what profiling costs.
    #[arg(long, value_enum, default_value_t = ProfiledSides::Both, requires = "heap_profile")]
    pub heap_profile_sides: ProfiledSides,
    #[command(flatten)]
    pub settings: RunSettingsArgs,
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// The calibration suite (one clean cell, cells `…_inj<N>mib`).
    pub suite: PathBuf,
    /// Runs a baseline is made of: base's runs as `scripts/pr-gate.sh --base-node`
    /// measures them (10), or a committed baseline's (10).
    #[arg(long, default_value_t = 10)]
    pub baseline_runs: usize,
    /// Runs a candidate is made of (head's, as `scripts/pr-gate.sh --base-node` measures
    /// them: 10; 5 against a committed baseline).
    #[arg(long, default_value_t = 10)]
    pub candidate_runs: usize,
    /// Comparisons drawn (at random, seed fixed) per kind.
    #[arg(long, default_value_t = 2000)]
    pub draws: u32,
    /// The gate's limits (TOML, as `gate --thresholds`; default: the built-in ones).
    #[arg(long)]
    pub thresholds: Option<PathBuf>,
    /// Write calibration.json, calibration.md and charts/ here (made if absent; its
    /// parent must exist) instead of into the suite: another draw size or limits beside
    /// the suite's own calibration.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also render the chart as PNG.
    #[arg(long)]
    pub png: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run or suite directories.
    pub dirs: Vec<PathBuf>,
    /// Merge all given directories into one comparison written here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Regenerate <DIR>/README.md, the index of runs and suites in DIR.
    #[arg(long)]
    pub index: Option<PathBuf>,
    /// Smallest relative difference (percent) a verdict may call, for --out.
    #[arg(long, default_value_t = 5.0, value_parser = parse_floor_pct)]
    pub floor_pct: f64,
    #[arg(long)]
    pub png: bool,
}

/// Overrides applied to a loaded workload (same meaning for every command).
#[derive(Debug, Default, Args)]
pub struct WorkloadOverrides {
    /// Use only the first N blocks of the workload.
    #[arg(long)]
    pub blocks: Option<u64>,
    /// Override the workload's seed.
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Node data directory to check.
    #[arg(long)]
    pub data: PathBuf,
    /// Workload the data was ingested from (name or spec path).
    #[arg(long)]
    pub workload: String,
    #[command(flatten)]
    pub overrides: WorkloadOverrides,
    /// Acknowledged blocks (one number per line) that must all be present.
    #[arg(long)]
    pub acked: Option<PathBuf>,
    /// A RocksDB store is read through a rocksdb node binary (`export`): this one
    /// instead of `node-glibc-rocksdb` (built on first use).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// Built-in workload name or spec path.
    pub workload: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value_t = 1)]
    pub compaction_concurrency: u64,
}

/// `--floor-pct`: a percentage in 0..100 (NaN, a negative floor or 100 % and beyond
/// would call every difference, or none).
fn parse_floor_pct(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("expected a percentage in 0..100, got `{s}`"))?;
    if !(0.0..100.0).contains(&v) {
        return Err(format!("expected a percentage in 0..100, got `{s}`"));
    }
    Ok(v)
}

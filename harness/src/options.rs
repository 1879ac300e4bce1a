//! Typed configuration of an ingest run, built from the CLI arguments.
//! After this layer there are no strings standing for choices, only enums.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use syncbench_node::CompactionMode;
use syncbench_workloads::WorkloadSpec;

use crate::cli::{IngestArgs, RunSettingsArgs, WorkloadOverrides};
use crate::error::input;
use crate::settings::{
    cell_label, conf_suffix, sanitize, shape_suffix, ALLOC_CONF_MAX_BYTES, DEFAULT_PEERS, PROFILED_SUFFIX,
};
use crate::settings::{Allocator, ArenaMax, Cell, EngineMalloc};
use crate::units::{parse_bytes, parse_duration};
use syncbench_node::config::StoreKind;
use syncbench_node::config::{COMPACTION_CONCURRENCY_MAX, SHARD_SIZE_MAX, WRITER_BATCH_MAX};

/// Interval of the node's `stats` events (live heap, allocator stats). Faster than the
/// node's default so short runs get a heap curve; glibc's `malloc_info` (for the arena
/// count) is the costliest part, well under a millisecond.
pub const NODE_STATS_INTERVAL_MS: u64 = 250;

/// Everything one ingest run needs.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub alloc: Allocator,
    pub arena_max: ArenaMax,
    pub alloc_conf: Option<String>,
    pub compaction: CompactionMode,
    pub compaction_concurrency: u64,
    pub store: StoreKind,
    pub engine_malloc: EngineMalloc,
    /// The argument the workload was named by (built-in name or path).
    pub workload_arg: String,
    pub workload: WorkloadSpec,
    pub writer_batch: u64,
    pub sample_interval: Duration,
    pub mem_limit_bytes: Option<u64>,
    pub timeout: Duration,
    pub out: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub keep_data: bool,
    pub node_bin: Option<PathBuf>,
    pub node_args: Vec<String>,
    pub png: bool,
    pub disk_check: bool,
    /// Measure the disk and CPU ceilings around the run (see `run::ceiling`).
    pub ceilings: bool,
    /// Acknowledged blocks read back from the store after an ok run (0: none).
    pub verify_sample: u32,
    /// Print the full summary at the end (`ingest`), or one line (runs of a suite,
    /// which end with the comparison table instead).
    pub full_summary: bool,
    /// Heap profiles with the profiling node build (jemalloc only).
    pub heap_profile: Option<HeapProfile>,
    /// Driver connections (`--peers`).
    pub peers: u64,
    /// The node runtime's worker threads (`None`: one per core).
    pub worker_threads: Option<u64>,
    /// Stop sending after this long (`None`: the whole workload).
    pub duration: Option<Duration>,
    /// `--stall-timeout` (see `run::sampler::StallWatch`).
    pub stall_timeout: Duration,
}

/// Node flags the harness sets from its own options, and what to use instead: given
/// again through `--node-arg` they would be refused by the node as given twice (or,
/// for the paths, silently point the node elsewhere than the run records).
const HARNESS_NODE_FLAGS: &[(&str, &str)] = &[
    ("--socket", "each run gets a private socket"),
    ("--data", "use syncbench's --data-dir"),
    ("--shard-size", "use syncbench's --shard-size"),
    ("--writer-batch", "use syncbench's --writer-batch"),
    ("--compaction", "use syncbench's --compaction"),
    ("--compaction-concurrency", "use syncbench's --compaction-concurrency"),
    ("--store", "use syncbench's --store (it chooses the node binary too)"),
    ("--stats-interval-ms", "the harness fixes it for every run"),
    ("--peers", "use syncbench's --peers (the driver and the node must agree)"),
    ("--worker-threads", "use syncbench's --worker-threads"),
    ("--heap-profile-dir", "use syncbench's --heap-profile (profiles go into the run's heap/)"),
    ("--heap-profile-every-ms", "use syncbench's --heap-profile-every"),
];

/// Bounds of `--duration`.
const DURATION_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(24 * 3600));

/// `--heap-profile`: what to capture besides the peak and the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapProfile {
    pub every: Option<Duration>,
}

impl IngestOptions {
    pub fn from_args(a: IngestArgs) -> Result<IngestOptions> {
        let arena_max = ArenaMax::parse(&a.arena_max).map_err(|e| input(format!("--arena-max: {e}")))?;
        let workload = resolve_workload(&a.workload, &a.overrides, a.shard_size)?;
        let settings = RunSettings::from_args(&a.settings)?;
        let duration = a.duration.as_deref().map(parse_run_duration).transpose()?;
        let o = IngestOptions {
            peers: a.peers,
            worker_threads: a.worker_threads,
            duration,
            alloc: a.alloc,
            arena_max,
            alloc_conf: a.alloc_conf,
            compaction: a.compaction,
            compaction_concurrency: a.compaction_concurrency,
            store: a.store,
            engine_malloc: a.engine_malloc,
            writer_batch: a.writer_batch,
            out: a.out,
            data_dir: a.data_dir,
            keep_data: a.keep_data,
            node_bin: a.node_bin,
            disk_check: !a.no_disk_check,
            full_summary: true,
            ..IngestOptions::base(a.workload, workload, settings)
        };
        o.validate()?;
        Ok(o)
    }

    /// The options every run starts from: the node's defaults on glibc, `settings` as
    /// given; `ingest` and each cell of a suite override their own choices.
    pub fn base(workload_arg: String, workload: WorkloadSpec, settings: RunSettings) -> IngestOptions {
        IngestOptions {
            alloc: Allocator::Glibc,
            arena_max: ArenaMax::Default,
            alloc_conf: None,
            compaction: CompactionMode::Streaming,
            compaction_concurrency: 1,
            store: StoreKind::Native,
            engine_malloc: EngineMalloc::Allocator,
            workload_arg,
            workload,
            writer_batch: syncbench_node::config::DEFAULT_WRITER_BATCH,
            sample_interval: settings.sample_interval,
            mem_limit_bytes: settings.mem_limit_bytes,
            timeout: settings.timeout,
            out: None,
            data_dir: None,
            keep_data: false,
            node_bin: None,
            node_args: settings.node_args,
            png: settings.png,
            disk_check: true,
            ceilings: settings.ceilings,
            verify_sample: settings.verify_sample,
            full_summary: false,
            heap_profile: settings.heap_profile,
            peers: DEFAULT_PEERS,
            worker_threads: None,
            duration: None,
            stall_timeout: settings.stall_timeout,
        }
    }

    /// Every rule a run's options must keep, checked in one place for `ingest`, each
    /// cell of `matrix` and both sides of `ab` (before anything runs). The node's own
    /// flags bound the same values; these errors name the harness's flags instead.
    pub fn validate(&self) -> Result<()> {
        self.check(false)
    }

    /// [`Self::validate`] for a matrix cell kept on purpose as a control (`--no-skip`):
    /// `MALLOC_ARENA_MAX` is set for an allocator that ignores it, to show it changes
    /// nothing.
    pub fn validate_control(&self) -> Result<()> {
        self.check(true)
    }

    fn check(&self, control: bool) -> Result<()> {
        let flag = |name: &str, e: String| Err(input(format!("--{name}: {e}")));
        if self.arena_max.ignored_by(self.alloc) && !control {
            let alloc = self.alloc;
            return flag("arena-max", format!("only glibc reads MALLOC_ARENA_MAX; it cannot change a {alloc} run"));
        }
        if self.engine_malloc.ignored_by(self.alloc, self.store) && !control {
            let why = if self.store == StoreKind::Native {
                "only a --store rocksdb node has an engine whose malloc could differ".to_owned()
            } else {
                "a glibc node's engine is on glibc's malloc already (the same run as --engine-malloc allocator)"
                    .to_owned()
            };
            return flag("engine-malloc", why);
        }
        if self.heap_profile.is_some() && self.store == StoreKind::Rocksdb {
            return flag(
                "heap-profile",
                "the profiling node is built without RocksDB; profile a --store native run".into(),
            );
        }
        if self.heap_profile.is_some() && self.alloc != Allocator::Jemalloc {
            let alloc = self.alloc;
            return flag(
                "heap-profile",
                format!("only jemalloc has a sampling heap profiler built in; a {alloc} run cannot be profiled (its allocator statistics are charted in allocator.svg)"),
            );
        }
        if let Some(conf) = &self.alloc_conf {
            if conf.is_empty() || conf.len() > ALLOC_CONF_MAX_BYTES {
                return flag("alloc-conf", format!("expected 1..={ALLOC_CONF_MAX_BYTES} bytes, got {}", conf.len()));
            }
            if self.alloc == Allocator::Glibc {
                if let Err(e) = crate::glibc_conf::parse(conf) {
                    return flag("alloc-conf", format!("glibc reads GLIBC_TUNABLES: {e}"));
                }
            }
        }
        if self.duration.is_some_and(|d| d >= self.timeout) {
            return flag("duration", format!("must be shorter than --timeout ({:?})", self.timeout));
        }
        let ranges = [
            ("peers", self.peers, syncbench_node::config::PEERS_MAX),
            ("worker-threads", self.worker_threads.unwrap_or(1), syncbench_node::config::WORKER_THREADS_MAX),
            ("compaction-concurrency", self.compaction_concurrency, COMPACTION_CONCURRENCY_MAX),
            ("writer-batch", self.writer_batch, WRITER_BATCH_MAX),
            ("shard-size", self.workload.shard_size, SHARD_SIZE_MAX),
        ];
        for (name, value, max) in ranges {
            if !(1..=max).contains(&value) {
                return flag(name, format!("expected 1..={max}, got {value}"));
            }
        }
        for arg in &self.node_args {
            let name = arg.split_once('=').map_or(arg.as_str(), |(n, _)| n);
            if let Some((_, why)) = HARNESS_NODE_FLAGS.iter().find(|(f, _)| *f == name) {
                return flag("node-arg", format!("{name} is set by the harness itself: {why}"));
            }
        }
        self.node_config("s".into(), "d".into()).map(drop)
    }

    /// The `syncbench` arguments that reproduce this run (without `--out`), the
    /// workload named by `workload` and the node binary by `node_bin` (when the run was
    /// given one). A control cell (`MALLOC_ARENA_MAX` for an allocator that ignores it)
    /// is refused by `ingest`, so it is reproduced as a one-cell, one-run `matrix
    /// --no-skip`, which takes the same settings except the default writer batch.
    pub fn to_command_line(&self, workload: &str, node_bin: Option<&str>) -> Vec<String> {
        let w = &self.workload;
        let control = self.arena_max.ignored_by(self.alloc) || self.engine_malloc.ignored_by(self.alloc, self.store);
        let mut a: Vec<String> = vec![if control { "matrix" } else { "ingest" }.into()];
        a.extend(["--alloc".into(), self.alloc.to_string()]);
        if let ArenaMax::Max(n) = self.arena_max {
            a.extend(["--arena-max".into(), n.to_string()]);
        }
        if control {
            a.extend(["--no-skip".into(), "--repeat".into(), "1".into()]);
        }
        if let Some(c) = &self.alloc_conf {
            // `matrix --alloc-conf` names the allocator the setting is for.
            let conf = if control { format!("{}:{c}", self.alloc) } else { c.clone() };
            a.extend(["--alloc-conf".into(), conf]);
        }
        if self.store != StoreKind::Native {
            a.extend(["--store".into(), self.store.to_string()]);
        }
        if self.engine_malloc != EngineMalloc::Allocator {
            a.extend(["--engine-malloc".into(), self.engine_malloc.to_string()]);
        }
        let mode = self.compaction.as_str();
        a.extend([
            "--compaction".into(),
            mode.into(),
            "--compaction-concurrency".into(),
            self.compaction_concurrency.to_string(),
        ]);
        a.extend(["--workload".into(), workload.to_owned(), "--blocks".into(), w.blocks.to_string()]);
        a.extend(["--seed".into(), w.seed.to_string(), "--shard-size".into(), w.shard_size.to_string()]);
        if !control {
            a.extend(["--writer-batch".into(), self.writer_batch.to_string()]);
        }
        if let Some(bin) = node_bin.filter(|_| !control) {
            a.extend(["--node-bin".into(), bin.to_owned()]);
        }
        a.extend(["--sample-interval".into(), format!("{}ms", self.sample_interval.as_millis())]);
        a.extend(["--timeout".into(), format!("{}s", self.timeout.as_secs_f64())]);
        if self.stall_timeout != DEFAULT_STALL_TIMEOUT {
            a.extend(["--stall-timeout".into(), format!("{}s", self.stall_timeout.as_secs_f64())]);
        }
        if let Some(m) = self.mem_limit_bytes {
            a.extend(["--mem-limit".into(), m.to_string()]);
        }
        if self.peers != DEFAULT_PEERS || control {
            a.extend(["--peers".into(), self.peers.to_string()]);
        }
        if let Some(n) = self.worker_threads {
            a.extend(["--worker-threads".into(), n.to_string()]);
        }
        if let Some(d) = self.duration {
            a.extend(["--duration".into(), format!("{}s", d.as_secs_f64())]);
        }
        a.extend(self.node_args.iter().map(|n| format!("--node-arg={n}")));
        if !self.ceilings {
            a.push("--no-ceilings".into());
        }
        if self.verify_sample != DEFAULT_VERIFY_SAMPLE {
            a.push(format!("--verify-sample={}", self.verify_sample));
        }
        if let Some(h) = self.heap_profile {
            a.push("--heap-profile".into());
            a.extend(h.every.map(|e| format!("--heap-profile-every={}ms", e.as_millis())));
        }
        a
    }

    /// `<workload>_<alloc>[_arenaN]_<mode>_cc<N>`: the run directory name after the timestamp.
    pub fn cell_name(&self) -> String {
        sanitize(&format!("{}_{}", self.workload.name, self.cell_label()))
    }

    /// `<alloc>[_arenaN]_<mode>_cc<N>[_heapprof]`: this run's configuration name (its
    /// cell). A profiled run is another configuration (another binary): its figures are
    /// never pooled with unprofiled ones.
    pub fn cell_label(&self) -> String {
        let mut label = cell_label(self.cell());
        label.push_str(&conf_suffix(self.alloc_conf.as_deref()));
        label.push_str(&self.shape_suffix());
        if self.heap_profile.is_some() {
            format!("{label}{PROFILED_SUFFIX}")
        } else {
            label
        }
    }

    /// The node configuration this run's cell is named by.
    pub fn cell(&self) -> Cell {
        Cell {
            alloc: self.alloc,
            arena_max: self.arena_max,
            store: self.store,
            engine_malloc: self.engine_malloc,
            compaction: self.compaction,
            compaction_concurrency: self.compaction_concurrency,
        }
    }

    /// `[_pN][_wtN][_dNs]`: peers other than the default, the runtime's worker threads
    /// if set, the run's duration if limited (each another configuration).
    pub fn shape_suffix(&self) -> String {
        shape_suffix(self.peers, self.worker_threads, self.duration)
    }

    /// The node's configuration for this run: the run's settings, then every
    /// `--node-arg` (parsed as the node parses its flags, so a typo is an input error
    /// here, before anything runs).
    pub fn node_config(&self, socket: PathBuf, data: PathBuf) -> Result<syncbench_node::Config> {
        use clap::Parser;
        let settings = syncbench_node::Config {
            shard_size: self.workload.shard_size,
            writer_batch: self.writer_batch,
            compaction: self.compaction,
            compaction_concurrency: self.compaction_concurrency,
            store: self.store,
            stats_interval_ms: NODE_STATS_INTERVAL_MS,
            peers: self.peers,
            worker_threads: self.worker_threads,
            ..syncbench_node::Config::new(socket, data)
        };
        let node_args = self.node_args.iter().map(Into::into);
        let argv = std::iter::once("node".into()).chain(settings.to_args()).chain(node_args);
        syncbench_node::Config::try_parse_from(argv).map_err(|e| {
            let e = e.to_string();
            let first = e.lines().next().unwrap_or_default().trim_start_matches("error: ");
            input(format!("--node-arg: {first} (the node's flags: `{} --help`)", self.alloc.node_bin_name()))
        })
    }
}

/// The measurement settings every node run shares, parsed.
pub struct RunSettings {
    pub sample_interval: Duration,
    pub stall_timeout: Duration,
    pub mem_limit_bytes: Option<u64>,
    pub timeout: Duration,
    pub node_args: Vec<String>,
    pub png: bool,
    pub ceilings: bool,
    pub verify_sample: u32,
    pub heap_profile: Option<HeapProfile>,
}

/// `--stall-timeout` unless told otherwise (the flag's default).
const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Acknowledged blocks read back after a run unless told otherwise.
pub const DEFAULT_VERIFY_SAMPLE: u32 = 64;
/// Most blocks `--verify-sample` may read back (it runs inside every run's wall time).
const MAX_VERIFY_SAMPLE: u32 = 100_000;
/// Sampling intervals accepted: below 1 ms rows would share timestamps; above a minute
/// a run would have too few rows to chart.
const SAMPLE_INTERVAL_RANGE: (Duration, Duration) = (Duration::from_millis(1), Duration::from_secs(60));

impl RunSettings {
    pub fn from_args(a: &RunSettingsArgs) -> Result<RunSettings> {
        let flag = |name: &str, e: String| input(format!("--{name}: {e}"));
        let sample_interval = parse_duration(&a.sample_interval).map_err(|e| flag("sample-interval", e))?;
        let (lo, hi) = SAMPLE_INTERVAL_RANGE;
        if sample_interval < lo || sample_interval > hi {
            return Err(flag("sample-interval", format!("expected 1ms..=60s, got {}", a.sample_interval)));
        }
        // config.json records whole milliseconds; a run must be sampled as recorded.
        if sample_interval.subsec_nanos() % 1_000_000 != 0 {
            return Err(flag("sample-interval", format!("expected whole milliseconds, got {}", a.sample_interval)));
        }
        if a.verify_sample > MAX_VERIFY_SAMPLE {
            return Err(flag("verify-sample", format!("expected 0..={MAX_VERIFY_SAMPLE}, got {}", a.verify_sample)));
        }
        let timeout = parse_duration(&a.timeout).map_err(|e| flag("timeout", e))?;
        if timeout < Duration::from_secs(1) {
            return Err(flag("timeout", format!("expected 1s..=7 days, got {}", a.timeout)));
        }
        let samples = timeout.as_millis() / sample_interval.as_millis().max(1);
        if samples > crate::record::sample::MAX_SAMPLES as u128 {
            let least =
                Duration::from_millis((timeout.as_millis() / crate::record::sample::MAX_SAMPLES as u128) as u64 + 1);
            return Err(flag(
                "sample-interval",
                format!(
                    "{} over --timeout {} would keep {samples} samples, more than the {} a run keeps; use --sample-interval {}ms or more",
                    a.sample_interval,
                    a.timeout,
                    crate::record::sample::MAX_SAMPLES,
                    least.as_millis()
                ),
            ));
        }
        let stall_timeout = parse_duration(&a.stall_timeout).map_err(|e| flag("stall-timeout", e))?;
        if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&stall_timeout) {
            return Err(flag("stall-timeout", format!("expected 1s..=1h, got {}", a.stall_timeout)));
        }
        let every = a.heap_profile_every.as_deref().map(parse_duration).transpose();
        let every = every.map_err(|e| flag("heap-profile-every", e))?;
        if every.is_some_and(|e| e < Duration::from_millis(100) || e > Duration::from_secs(3600)) {
            return Err(flag("heap-profile-every", "expected 100ms..=1h".into()));
        }
        Ok(RunSettings {
            heap_profile: a.heap_profile.then_some(HeapProfile { every }),
            sample_interval,
            stall_timeout,
            mem_limit_bytes: a.mem_limit.as_deref().map(parse_bytes).transpose().map_err(|e| flag("mem-limit", e))?,
            timeout,
            node_args: a.node_args.clone(),
            png: a.png,
            ceilings: !a.no_ceilings,
            verify_sample: a.verify_sample,
        })
    }
}

/// Parses `--duration` (1s..=24h).
pub fn parse_run_duration(text: &str) -> Result<Duration> {
    let d = parse_duration(text).map_err(|e| input(format!("--duration: {e}")))?;
    let (lo, hi) = DURATION_RANGE;
    if d < lo || d > hi {
        return Err(input(format!("--duration: expected 1s..=24h, got {text}")));
    }
    Ok(d)
}

/// Loads a workload and applies command-line overrides.
pub fn resolve_workload(name: &str, overrides: &WorkloadOverrides, shard_size: Option<u64>) -> Result<WorkloadSpec> {
    let (blocks, seed) = (overrides.blocks, overrides.seed);
    let mut w = syncbench_workloads::load(name)?;
    if syncbench_workloads::shadowed_builtin(name) {
        crate::note!("syncbench: workload `{name}`: using the built-in workload, not the file ./{name} (write ./{name} for the file)");
    }
    if let Some(b) = blocks {
        if b == 0 || b > w.blocks {
            return Err(input(format!("--blocks: expected 1..={} (the workload's size), got {b}", w.blocks)));
        }
        w.blocks = b;
    }
    if let Some(s) = seed {
        w.seed = s;
    }
    if let Some(s) = shard_size {
        w.shard_size = s;
    }
    Ok(w)
}

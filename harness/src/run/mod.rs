//! `syncbench ingest`: one benchmark run, end to end.
//!
//! # Layout
//! - this module: the run's sequence (prepare → spawn → drive → collect → write).
//! - [`node`]: the node process (spawn, event/stderr readers, `wait4`).
//! - [`driver`]: the socket exchange and ingest latency.
//! - [`feed`]: block generation in arrival order on several threads.
//! - [`sampler`]: /proc sampling and the RSS watchdog.
//! - [`events`]: `events.jsonl` and what the node reported.
//! - [`memlimit`]: cgroup v2 / v1 / watchdog memory limits.
//! - [`crash`]: outcome classification and the `crash/` bundle.
//! - [`envinfo`]: the environment snapshot (allow-listed variables only).
//! - [`progress`]: the progress bar or periodic status line.

pub mod acks;
pub mod ceiling;
pub mod crash;
pub mod dirs;
pub mod driver;
pub mod envinfo;
pub mod events;
pub mod export;
pub mod feed;
pub mod glibc_tunables;
pub mod memlimit;
pub mod node;
pub mod progress;
pub mod record;
pub mod sampler;
pub mod session;
pub mod stale;
mod summarize;
mod write;

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use syncbench_node::config::StoreKind;

use anyhow::Result;
use syncbench_node::config::NodeMode;
use syncbench_workloads::Description;

use self::dirs::Claimed;
use self::driver::{DriverEnd, Progress};
use self::events::{EventLog, ExitRecord, HarnessEvent, NodeObservations};
use self::memlimit::MemLimit;
use self::node::NodeProcess;
use self::progress::Phase;
use self::record::{Collected, NodeEnv, Plan};
use self::sampler::{Sampler, SamplerConfig};
use self::session::Session;
use crate::error::{input, RunFailed};
use crate::options::IngestOptions;
use crate::signals;
use crate::time::RunClock;

/// How long a node may take to exit after `Done` or a fatal error before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(30);

/// A finished run: where its files are and its headline metrics.
pub struct RunReport {
    pub run_dir: PathBuf,
    pub summary: crate::results::summary::Summary,
}

impl RunReport {
    /// `Err(RunFailed)` unless the node run succeeded (exit code 1 for `ingest`).
    pub fn into_result(self) -> Result<()> {
        // Interrupted at any point, even while the files were written (they are
        // complete then: writing is never cut short): exit 128 + signal.
        if let Some(sig) = signals::received() {
            return Err(signals::Interrupted(sig).into());
        }
        if self.summary.outcome != crash::Outcome::Ok {
            let dir = self.run_dir.display();
            return Err(RunFailed(format!("the node run did not succeed: see {dir}/crash/")).into());
        }
        Ok(())
    }
}

/// Runs one benchmark; a node failure is a result (see [`RunReport::into_result`]),
/// only input and harness errors (and interruptions) are `Err`.
pub fn ingest(opts: &IngestOptions) -> Result<RunReport> {
    let start = SystemTime::now();
    let (node_bin, env) = preflight(opts)?;
    signals::check()?;
    let run_dir = match &opts.out {
        Some(p) => Claimed::given(p, "out")?,
        None => {
            Claimed::fresh(&crate::results::default_run_dir(start, &opts.cell_name()), "the default run directory")?
        }
    };
    // Once this run holds its own directory, clear what killed runs left beside it.
    sweep_stale(opts);
    let marker = stale::Marker { pid: std::process::id(), ..stale::Marker::default() };
    let outcome = marker
        .write(&run_dir.real)
        .map_err(|e| input(format!("--out {}: directory is not writable: {e:#}", run_dir.shown.display())))
        .and_then(|()| with_data_dir(opts, &run_dir, (node_bin, env), start, marker));
    stale::Marker::remove(&run_dir.real);
    if outcome.is_err() && !run_dir.real.join("summary.json").is_file() {
        // Nothing measured was recorded: leave no partial run directory behind.
        run_dir.clear();
    }
    outcome
}

/// Clears what runs killed outright left beside this one (see [`stale`]).
fn sweep_stale(opts: &IngestOptions) {
    let parent = match &opts.out {
        Some(out) => out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_owned(),
        None => PathBuf::from(crate::results::RESULTS_DIR),
    };
    for line in stale::sweep(&parent, &stale::Places::here()) {
        crate::note!("syncbench: cleared {line}");
    }
    let sockets = stale::sweep_sockets(&std::env::temp_dir());
    if sockets > 0 {
        crate::note!("syncbench: cleared {sockets} socket directories of harnesses that were killed");
    }
}

/// What is checked of a run before anything is created: the node binary is found (or
/// built), is the allocator the run will be labelled with (and has a heap profiler
/// when asked for one), and accepts `--alloc-conf`. `matrix` and `ab` call it for
/// every cell before their suite directory exists. Returns the node binary and the
/// node's environment.
pub fn preflight(opts: &IngestOptions) -> Result<(PathBuf, NodeEnv)> {
    let kind = crate::node_bin::NodeKind::of(opts);
    let node_bin = crate::node_bin::resolve(kind, opts.node_bin.as_deref())?;
    crate::node_bin::check_identity(&node_bin, &kind)?;
    let env = NodeEnv::of(opts);
    node::check_allocator_conf(&node_bin, &env.set, opts)?;
    warn_removed_env(&env.removed);
    Ok((node_bin, env))
}

/// Says once per process which allocator-changing variables of this shell the node
/// will not see (`config.json` `node.env_removed` records them for each run).
fn warn_removed_env(removed: &[String]) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if removed.is_empty() {
        return;
    }
    ONCE.call_once(|| {
        crate::note!(
            "syncbench: the node runs without {} from this environment (they would change its allocator \
             unrecorded); set allocator options with --arena-max and --alloc-conf",
            removed.join(", ")
        );
    });
}

/// Refuses (exit 2) a run whose node announced another allocator than `--alloc`: the
/// check for a node binary too old to answer `identify` before it ran.
fn check_announced(opts: &IngestOptions, obs: &NodeObservations) -> Result<()> {
    let announced = obs.snapshot(|s| s.node_start.as_ref().map(|n| n.allocator.clone())).flatten();
    match announced {
        Some(a) if a != opts.alloc.name() => Err(input(format!(
            "the node announced allocator {a}, but --alloc is {}: its results would be labelled with the \
             wrong allocator (no results kept)",
            opts.alloc
        ))),
        _ => Ok(()),
    }
}

/// The node's peak disk use for this run: bounded by `--duration` at a rate-limited
/// workload's rate, and by the node's `--retain-shards` (with its compaction backlog).
/// A RocksDB store is given twice the native store's bound plus its WAL limit: its
/// compactions rewrite levels beside the old files and deleted ranges stay on disk
/// until compacted (an allowance, not a measurement).
fn peak_disk_bytes(opts: &IngestOptions, d: &Description) -> Result<u64> {
    let node = opts.node_config("s".into(), "d".into())?;
    let (retain, backlog) = (node.retain_shards, node.max_compaction_backlog);
    let rate = opts.workload.arrival.rate_limit_mib_per_s;
    let blocks = match (opts.duration, rate) {
        (Some(t), Some(r)) => {
            let per_block = (d.total_bytes_estimate / d.blocks.max(1)).max(1) as f64;
            Some((t.as_secs_f64() * r * 1024.0 * 1024.0 / per_block * 1.2) as u64)
        }
        _ => None,
    };
    let native = d.peak_disk_bytes_bounded(opts.compaction_concurrency, blocks, retain, backlog);
    Ok(match opts.store {
        StoreKind::Native => native,
        StoreKind::Rocksdb => native.saturating_mul(2) + syncbench_node::config::ROCKSDB_MAX_TOTAL_WAL_BYTES,
    })
}

/// Claims the node's data directory, runs, and removes the data afterwards.
fn with_data_dir(
    opts: &IngestOptions,
    run_dir: &Claimed,
    (node_bin, env): (PathBuf, NodeEnv),
    start: SystemTime,
    mut marker: stale::Marker,
) -> Result<RunReport> {
    let data = match &opts.data_dir {
        Some(p) => dirs::check_disjoint(p, "data-dir", run_dir, "out").and_then(|()| Claimed::given(p, "data-dir"))?,
        None => {
            let name = run_dir.shown.file_name().unwrap_or_default();
            let default = Path::new(DEFAULT_DATA_PARENT).join(name);
            dirs::check_disjoint(&default, "data-dir (default)", run_dir, "out")
                .map_err(|e| e.context("the default data directory is inside --out: pass --data-dir elsewhere"))?;
            Claimed::fresh(&default, "the default data directory")?
        }
    };
    let description = Description::of(&opts.workload);
    let outcome = (|| {
        data.check_writable("data-dir")?;
        if opts.disk_check {
            check_free_disk(&data.real, peak_disk_bytes(opts, &description)?)?;
        }
        let socket_dir = private_socket_dir()?;
        // (A path that is not UTF-8 cannot be recorded in JSON: not swept later.)
        marker.data_dir = data.real.to_str().map(PathBuf::from);
        marker.socket_dir = Some(socket_dir.clone());
        marker.write(&run_dir.real)?;
        let plan = Plan {
            opts,
            run_dir: run_dir.shown.clone(),
            data_dir: data.real.clone(),
            node: syncbench_node::Config {
                heap_profile_dir: opts.heap_profile.map(|_| run_dir.real.join(HEAP_DIR)),
                heap_profile_every_ms: opts.heap_profile.and_then(|h| h.every).map(|e| e.as_millis() as u64),
                ..opts.node_config(socket_dir.join("node.sock"), data.real.clone())?
            },
            socket_dir,
            node_bin,
            description,
            start,
            spec_hash: opts.workload.fingerprint(),
            env,
        };
        let result = execute(&plan);
        let _ = fs::remove_dir_all(&plan.socket_dir);
        result
    })();
    if opts.keep_data && outcome.is_ok() {
        crate::note!("syncbench: node data kept in {}", data.shown.display());
    } else {
        data.clear();
        let _ = fs::remove_dir(DEFAULT_DATA_PARENT);
    }
    outcome
}

pub use crate::heap::HEAP_DIR;

/// Where default data directories go, relative to the working directory.
pub(crate) const DEFAULT_DATA_PARENT: &str = ".syncbench-data";

/// Longest Unix socket path (`sun_path` holds 108 bytes with the terminating NUL).
const SOCKET_PATH_MAX: usize = 107;

/// A fresh 0700 directory for the node's socket: only this user can reach the socket.
/// Under `$TMPDIR`, or `/tmp` when `$TMPDIR` is too long for a socket path.
fn private_socket_dir() -> Result<PathBuf> {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = format!("syncbench-{}-{nanos:x}", std::process::id());
    let fits = |base: &Path| base.join(&name).join("cpu-probe.sock").as_os_str().len() <= SOCKET_PATH_MAX;
    let tmp = std::env::temp_dir();
    let base = [tmp.clone(), PathBuf::from("/tmp")].into_iter().find(|b| fits(b)).ok_or_else(|| {
        input(format!("TMPDIR {}: too long for a Unix socket path (at most {SOCKET_PATH_MAX} bytes)", tmp.display()))
    })?;
    let dir = base.join(name);
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| input(format!("creating the socket directory {} (set TMPDIR elsewhere?): {e}", dir.display())))?;
    Ok(dir)
}

fn check_free_disk(dir: &Path, need: u64) -> Result<()> {
    let Some(free) = free_bytes(dir) else { return Ok(()) };
    if free < need {
        return Err(input(format!(
            "not enough free disk for the node's data in {}: the workload needs about {} (describe: `syncbench workload describe`), {} free; \
             use --blocks, --data-dir elsewhere, or --no-disk-check",
            dir.display(),
            crate::units::fmt_bytes(need as f64),
            crate::units::fmt_bytes(free as f64)
        )));
    }
    Ok(())
}

/// One disk probe shaped like the node's writes: a writer batch of mean-sized blocks
/// between two fdatasyncs, and as many files at once as the node writes (its WAL and
/// one segment per allowed compaction).
fn disk_probe(plan: &Plan) -> std::io::Result<ceiling::DiskProbe> {
    let batch_bytes = (plan.opts.writer_batch as f64 * plan.description.bytes_per_block.mean) as u64;
    let streams = 1 + plan.opts.compaction_concurrency as usize;
    // Its two phases' files exist at once: each may take a quarter of what is free, so
    // the probe never fills a small filesystem (nor takes the node's room).
    let phase_bytes = free_bytes(&plan.data_dir).map_or(ceiling::DISK_PROBE_MAX_BYTES, |f| f / 4);
    ceiling::disk(&plan.data_dir, batch_bytes, streams, ceiling::DISK_PROBE_SECS, phase_bytes)
}

/// Free bytes (for an unprivileged user) of the filesystem holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: zeroed statvfs is a valid out-parameter; `c` is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    (unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

/// The disk probe and the `--null-writer` CPU probe, before the measured node starts.
fn ceilings_before(plan: &Plan, env: &[(String, String)]) -> ceiling::Ceilings {
    let o = plan.opts;
    let cpu_blocks = ceiling::cpu_probe_blocks(o.workload.blocks);
    crate::note!(
        "syncbench: measuring ceilings: disk (up to {:.0} s or {} GiB, before and after the run), CPU (--null-writer, {cpu_blocks} blocks, best of {}); --no-ceilings skips",
        ceiling::DISK_PROBE_SECS,
        ceiling::DISK_PROBE_MAX_BYTES >> 30,
        ceiling::CPU_PROBE_ATTEMPTS
    );
    let mut c = ceiling::Ceilings::default();
    let phase = Phase::start("ceilings: disk probe before the run");
    c.disk_before = c.record_disk("before", disk_probe(plan));
    phase.done(&c.disk_before.as_ref().map_or("failed (see summary)".into(), |p| format!("{:.0} MiB/s", p.mib_per_s)));
    for i in 0..ceiling::CPU_PROBE_ATTEMPTS {
        if signals::received().is_some() {
            break;
        }
        let phase = Phase::start(format!("ceilings: CPU probe {} of {}", i + 1, ceiling::CPU_PROBE_ATTEMPTS));
        let probe = cpu_probe(plan, env);
        phase.done(&probe.as_ref().map_or_else(|e| format!("failed: {e:#}"), |p| format!("{:.0} MiB/s", p.mib_per_s)));
        c.record_cpu(probe);
    }
    c
}

/// One `--null-writer` CPU probe in a scratch directory removed afterwards.
fn cpu_probe(plan: &Plan, env: &[(String, String)]) -> Result<ceiling::CpuProbe> {
    let o = plan.opts;
    let scratch = plan.data_dir.join("cpu-probe");
    let socket = plan.socket_dir.join("cpu-probe.sock");
    let probe = fs::create_dir(&scratch).map_err(anyhow::Error::from).and_then(|()| {
        // A profiled run's probe profiles too (the node samples only with a profile
        // directory), into the scratch directory removed afterwards.
        let node = syncbench_node::Config {
            socket: socket.clone(),
            data: scratch.join("node"),
            heap_profile_dir: plan.node.heap_profile_dir.as_ref().map(|_| scratch.join("heap")),
            ..plan.node.clone()
        };
        ceiling::cpu(ceiling::CpuProbeSetup {
            node_bin: &plan.node_bin,
            node,
            env,
            scratch: &scratch,
            workload: &o.workload,
            max_in_flight: max_in_flight(o),
            ready_timeout: o.stall_timeout,
        })
    });
    let _ = fs::remove_dir_all(&scratch);
    let _ = fs::remove_file(&socket);
    probe
}

/// Blocks the driver keeps unacknowledged: two writer batches or one arrival window.
fn max_in_flight(o: &IngestOptions) -> u64 {
    (2 * o.writer_batch).max(o.workload.arrival.window) + 64
}

fn execute(plan: &Plan) -> Result<RunReport> {
    let o = plan.opts;
    let env = &plan.env.set;
    let ceilings = if o.ceilings { ceilings_before(plan, env) } else { ceiling::Ceilings::default() };
    signals::check()?;
    write::config_json(plan, None, &ceilings, None)?;
    let log_path = plan.run_dir.join("events.jsonl");
    let obs = Arc::new(NodeObservations::default());
    let mut c = run_node(plan, env, &log_path, &obs, ceilings)?;
    check_announced(o, &obs)?;
    if o.ceilings && c.interrupted.is_none() {
        let phase = Phase::start("ceilings: disk probe after the run");
        c.ceilings.disk_after = c.ceilings.record_disk("after", disk_probe(plan));
        let after = c.ceilings.disk_after.as_ref();
        phase.done(&after.map_or("failed (see summary)".into(), |p| format!("{:.0} MiB/s", p.mib_per_s)));
    }
    if c.interrupted.is_none() {
        c.verification = verify_after(plan, &c, &obs);
    }
    if o.heap_profile.is_some() {
        c.heap_profile = convert_heap_profiles(plan, &c, &obs);
    }
    // A signal during the probe or the read-back: the run was not finished.
    c.interrupted = c.interrupted.or_else(signals::received);
    let phase = Phase::start("writing the results and charts");
    let summary = write::outputs(plan, &c, &obs)?;
    phase.done("done");
    let shown = plan.run_dir.display().to_string();
    crate::say!("{}", if o.full_summary { summary.human(&shown) } else { summary.one_line(&shown) });
    Ok(RunReport { run_dir: plan.run_dir.clone(), summary })
}

/// Converts the profiles the node announced (it has exited, so symbolizing them costs
/// the measured process nothing).
fn convert_heap_profiles(
    plan: &Plan,
    c: &Collected,
    obs: &NodeObservations,
) -> Option<crate::heap::HeapProfileSummary> {
    let s = obs.state.lock().ok()?;
    if s.heap_profiles.is_empty() {
        return None;
    }
    let phase = Phase::start(format!("converting {} heap profile(s) (symbolizing)", s.heap_profiles.len()));
    let converted = crate::heap::convert_all(&crate::heap::RunProfiles {
        node_bin: &plan.node_bin,
        run_dir: &plan.run_dir,
        taken: &s.heap_profiles,
        heap_live_peak_bytes: s.heap_live_peak_bytes(),
        zero_unix_ms: crate::time::unix_ms(c.clock.zero_wall),
    });
    phase.done(&format!("{} converted, {} failed", converted.files.len(), converted.errors.len()));
    Some(converted)
}

/// This run's directories as the node sees them, with the placeholders that stand for
/// them in its files (events, stderr tail): no machine path in committable results. The
/// workspace the binaries were built in and the home directory appear in a panicking
/// node's backtrace.
fn machine_paths<'a>(plan: &'a Plan) -> Vec<(&'a Path, &'static str)> {
    static BUILT_IN: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    static HOME: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    let mut paths =
        vec![(plan.data_dir.as_path(), "<data-dir>"), (&plan.socket_dir, "<socket-dir>"), (&plan.run_dir, "<run-dir>")];
    if let Some(w) = BUILT_IN.get_or_init(crate::node_bin::workspace_root) {
        paths.push((w, "<workspace>"));
    }
    if let Some(h) =
        HOME.get_or_init(|| std::env::var_os("HOME").map(PathBuf::from).filter(|h| h.as_os_str().len() > 1))
    {
        paths.push((h, "<home>"));
    }
    paths
}

/// Spawns the node at the run's time zero, drives the workload, reaps the node.
fn run_node(
    plan: &Plan,
    env: &[(String, String)],
    log_path: &Path,
    obs: &Arc<NodeObservations>,
    ceilings: ceiling::Ceilings,
) -> Result<Collected> {
    let o = plan.opts;
    let run_tag = format!("{}-{}", std::process::id(), crate::time::unix_ms(plan.start));
    let limit = o.mem_limit_bytes.map_or_else(MemLimit::none, |l| MemLimit::setup(l, &run_tag));
    if let Some(cg) = &limit.cgroup_dir {
        stale::Marker::add_cgroup(&plan.run_dir, cg);
    }
    let oom_before = limit.oom_kills().unwrap_or(0);
    let clock = RunClock::start();
    let log = Arc::new(EventLog::create(log_path, clock)?.redacting(&machine_paths(plan)));
    let args = plan.node.to_args();
    let mut node = NodeProcess::spawn(&plan.node_bin, &args, env, &limit, Arc::clone(&log), Arc::clone(obs))?;
    log.harness(&HarnessEvent::RunStart {
        node_pid: node.pid,
        alloc: o.alloc.to_string(),
        workload: o.workload.name.clone(),
        mem_limit: serde_json::to_value(limit.mechanism)?,
    });
    let progress = Arc::new(Progress::default());
    let sampler = start_sampler(plan, &node, &limit, clock, &progress, obs);
    let display = progress::Display::start(o.workload.blocks, Arc::clone(&progress), Arc::clone(&sampler.samples));
    let ended = measured_session(plan, clock).run(&node, obs, &progress);
    let timed_out = ended.timed_out;
    let not_ready = ended.not_ready.map(|waited| crash::Stall {
        kind: crash::StallKind::NotReady,
        at_ms: 0,
        duration_ms: waited.as_millis() as u64,
    });
    let wall = clock.zero.elapsed();
    // Read after the node is gone: a signal during the exit grace period counts too.
    let interrupted = signals::received();
    display.finish();
    let watchdog_fired = sampler.watchdog_fired.load(Ordering::SeqCst);
    let stall = not_ready.or_else(|| sampler.stall.lock().ok().and_then(|s| *s));
    let samples = sampler.finish();
    node.join_readers();
    let (exit, driver) = (ended.exit, log_end(&log, wall, ended));
    let oom_kills = limit.oom_kills().unwrap_or(0).saturating_sub(oom_before);
    let kernel_oom_line = exit
        .filter(|e| e.signal == Some(libc::SIGKILL))
        .and_then(|_| crash::kernel_oom_line(node.pid, clock.zero_uptime_s));
    Ok(Collected {
        driver,
        samples,
        exit,
        stderr_tail: events::redact(&node.stderr_tail(), &events::redactions(&machine_paths(plan))),
        timed_out,
        watchdog_fired,
        oom_kills,
        kernel_oom_line,
        mem_limit: limit.describe(),
        cgroup_evidence: limit.evidence(),
        wall,
        pid: node.pid,
        acked: progress.acked.load(Ordering::Relaxed),
        acked_bytes: progress.acked_bytes.load(Ordering::Relaxed),
        ceilings,
        clock,
        verification: None,
        heap_profile: None,
        interrupted,
        stall,
    })
}

/// The measured run's session with the node: the run's workload, bounds and peers.
fn measured_session<'a>(plan: &'a Plan<'a>, clock: RunClock) -> Session<'a> {
    let o = plan.opts;
    Session {
        spec: &o.workload,
        socket: &plan.node.socket,
        max_in_flight: max_in_flight(o),
        zero: clock.zero,
        deadline: clock.zero + o.timeout,
        exit_grace: EXIT_GRACE,
        peers: o.peers,
        duration: o.duration,
        ready_timeout: o.stall_timeout,
    }
}

/// Logs how the session ended (`run_end`, and `driver_error` if the driver failed);
/// returns the driver's result.
fn log_end(log: &EventLog, wall: Duration, ended: session::Ended) -> Option<driver::DriverResult> {
    log.harness(&HarnessEvent::RunEnd {
        wall_s: wall.as_secs_f64(),
        exit: ended.exit.map(|e| ExitRecord { code: e.code, signal: e.signal }),
    });
    let driver = ended.driven.transpose().unwrap_or_else(|e| {
        log.harness(&HarnessEvent::DriverError { message: format!("{e:#}") });
        None
    });
    log.flush();
    driver
}

/// Samples the node's /proc files from its spawn (and enforces the RSS watchdog when
/// that is the memory limit's mechanism).
fn start_sampler(
    plan: &Plan,
    node: &NodeProcess,
    limit: &MemLimit,
    clock: RunClock,
    progress: &Arc<Progress>,
    obs: &Arc<NodeObservations>,
) -> Sampler {
    let o = plan.opts;
    let watchdog = (limit.mechanism == memlimit::Mechanism::Watchdog).then_some(limit.limit_bytes).flatten();
    let max_samples =
        ((o.timeout.as_millis() / o.sample_interval.as_millis().max(1)) as usize + 1000).min(sampler::MAX_SAMPLES);
    let cfg = SamplerConfig {
        pid: node.pid,
        interval: o.sample_interval,
        run_start: clock.zero,
        watchdog_limit: watchdog,
        max_samples,
        stall_after: o.stall_timeout,
        heartbeat: {
            let obs = Arc::clone(obs);
            Arc::new(move || obs.snapshot(|s| s.stats.last().map(|p| p.t_ms)).flatten())
        },
    };
    Sampler::start(cfg, Arc::clone(progress))
}

/// Reads a seeded sample of the acknowledged blocks back from the node's store, after a
/// session the node completed cleanly (`--verify-sample`; not for a node that announced
/// it stores nothing, `--sink` or `--null-writer`).
fn verify_after(plan: &Plan, c: &Collected, obs: &NodeObservations) -> Option<crate::verify::SampleCheck> {
    let k = plan.opts.verify_sample as usize;
    let d = c.driver.as_ref().filter(|d| d.end == DriverEnd::Done)?;
    let stores = obs.snapshot(|s| s.node_mode().is_none_or(|m| m == NodeMode::Store)).unwrap_or(true);
    if k == 0 || !stores || c.exit.and_then(|e| e.code) != Some(0) {
        return None;
    }
    let numbers = d.acks.sample_acked(k, plan.opts.workload.seed);
    let phase = Phase::start(format!("reading {} acknowledged blocks back from the store", numbers.len()));
    let check = crate::verify::check_sample(&plan.data_dir, &plan.node_bin, &plan.opts.workload, &numbers);
    phase.done(&format!("{} bad", check.problem_count()));
    Some(check)
}

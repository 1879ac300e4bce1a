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
pub mod feed;
pub mod memlimit;
pub mod node;
pub mod progress;
pub mod sampler;
mod write;

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use serde_json::json;
use syncbench_workloads::Description;

use self::dirs::Claimed;
use self::driver::{Driver, DriverEnd, Progress};
use self::events::{EventLog, NodeObservations};
use self::memlimit::MemLimit;
use self::node::NodeProcess;
use self::sampler::{Sampler, SamplerConfig};
use crate::error::{input, RunFailed};
use crate::options::IngestOptions;
use crate::signals;
use crate::time::RunClock;

/// How long a node may take to exit after `Done` or a fatal error before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(30);

/// Interval of the node's `stats` events (live heap, allocator stats). Faster than the
/// node's default so short runs get a heap curve; glibc's `malloc_info` (for the arena
/// count) is the costliest part, well under a millisecond.
const NODE_STATS_INTERVAL_MS: u64 = 250;

/// Everything decided before the node starts.
#[derive(Clone)]
pub struct Plan<'a> {
    pub opts: &'a IngestOptions,
    pub run_dir: PathBuf,
    pub data_dir: PathBuf,
    pub socket_dir: PathBuf,
    pub node_bin: PathBuf,
    pub description: Description,
    pub start: SystemTime,
    /// The workload's fingerprint, computed once (a trace's is a hash of all its rows).
    pub spec_hash: String,
}

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
    let node_bin = crate::node_bin::resolve(opts.alloc, opts.node_bin.as_deref())?;
    node::check_allocator_conf(&node_bin, &node::allocator_env(opts), opts)?;
    signals::check()?;
    let run_dir = match &opts.out {
        Some(p) => Claimed::given(p, "out")?,
        None => {
            Claimed::fresh(&crate::results::default_run_dir(start, &opts.cell_name()), "the default run directory")?
        }
    };
    let outcome = run_dir.check_writable("out").and_then(|()| with_data_dir(opts, &run_dir, node_bin, start));
    if outcome.is_err() && !run_dir.real.join("summary.json").is_file() {
        // Nothing measured was recorded: leave no partial run directory behind.
        run_dir.clear();
    }
    outcome
}

/// Claims the node's data directory, runs, and removes the data afterwards.
fn with_data_dir(opts: &IngestOptions, run_dir: &Claimed, node_bin: PathBuf, start: SystemTime) -> Result<RunReport> {
    let data = match &opts.data_dir {
        Some(p) => dirs::check_disjoint(p, "data-dir", run_dir, "out").and_then(|()| Claimed::given(p, "data-dir"))?,
        None => {
            let name = run_dir.shown.file_name().unwrap_or_default();
            Claimed::fresh(&Path::new(DEFAULT_DATA_PARENT).join(name), "the default data directory")?
        }
    };
    let description = Description::of(&opts.workload);
    let outcome = (|| {
        if opts.disk_check {
            check_free_disk(&data.real, description.peak_disk_bytes(opts.compaction_concurrency))?;
        }
        let socket_dir = private_socket_dir()?;
        let plan = Plan {
            opts,
            run_dir: run_dir.shown.clone(),
            data_dir: data.real.clone(),
            socket_dir,
            node_bin,
            description,
            start,
            spec_hash: opts.workload.fingerprint(),
        };
        let result = execute(&plan);
        let _ = fs::remove_dir_all(&plan.socket_dir);
        result
    })();
    if opts.keep_data && outcome.is_ok() {
        eprintln!("syncbench: node data kept in {}", data.shown.display());
    } else {
        data.clear();
        let _ = fs::remove_dir(DEFAULT_DATA_PARENT);
    }
    outcome
}

/// Where default data directories go, relative to the working directory.
const DEFAULT_DATA_PARENT: &str = ".syncbench-data";

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
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).context("data dir path")?;
    // SAFETY: zeroed statvfs is a valid out-parameter; `c` is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Ok(());
    }
    let free = st.f_bavail as u64 * st.f_frsize as u64;
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

/// The node's command line. Paths stay `OsString`: a path that is not UTF-8 must reach
/// the node byte for byte (a lossy conversion once sent it to another directory).
fn node_args(plan: &Plan) -> Vec<OsString> {
    let o = plan.opts;
    let mut args: Vec<OsString> = vec![
        "--socket".into(),
        plan.socket_dir.join("node.sock").into_os_string(),
        "--data".into(),
        plan.data_dir.clone().into_os_string(),
    ];
    let settings = [
        ("--shard-size", o.workload.shard_size.to_string()),
        ("--writer-batch", o.writer_batch.to_string()),
        ("--compaction", o.compaction.as_str().to_owned()),
        ("--compaction-concurrency", o.compaction_concurrency.to_string()),
        ("--stats-interval-ms", NODE_STATS_INTERVAL_MS.to_string()),
    ];
    for (flag, value) in settings {
        args.extend([flag.into(), value.into()]);
    }
    args.extend(o.node_args.iter().map(OsString::from));
    args
}

/// One disk probe shaped like the node's writes: a writer batch of mean-sized blocks
/// between two fdatasyncs, and as many files at once as the node writes (its WAL and
/// one segment per allowed compaction).
fn disk_probe(plan: &Plan) -> std::io::Result<ceiling::DiskProbe> {
    let batch_bytes = (plan.opts.writer_batch as f64 * plan.description.bytes_per_block.mean) as u64;
    let streams = 1 + plan.opts.compaction_concurrency as usize;
    ceiling::disk(&plan.data_dir, batch_bytes, streams, ceiling::DISK_PROBE_SECS)
}

/// The disk probe and the `--null-writer` CPU probe, before the measured node starts.
fn ceilings_before(plan: &Plan, env: &[(String, String)]) -> ceiling::Ceilings {
    let o = plan.opts;
    let cpu_blocks = ceiling::cpu_probe_blocks(o.workload.blocks);
    eprintln!(
        "syncbench: measuring ceilings: disk (up to {:.0} s or {} GiB, before and after the run), CPU (--null-writer, {cpu_blocks} blocks, best of {}); --no-ceilings skips",
        ceiling::DISK_PROBE_SECS,
        ceiling::DISK_PROBE_MAX_BYTES >> 30,
        ceiling::CPU_PROBE_ATTEMPTS
    );
    let mut c = ceiling::Ceilings::default();
    c.disk_before = c.record_disk("before", disk_probe(plan));
    for _ in 0..ceiling::CPU_PROBE_ATTEMPTS {
        if signals::received().is_some() {
            break;
        }
        c.record_cpu(cpu_probe(plan, env));
    }
    c
}

/// One `--null-writer` CPU probe in a scratch directory removed afterwards.
fn cpu_probe(plan: &Plan, env: &[(String, String)]) -> Result<ceiling::CpuProbe> {
    let o = plan.opts;
    let scratch = plan.data_dir.join("cpu-probe");
    let socket = plan.socket_dir.join("cpu-probe.sock");
    let probe = fs::create_dir(&scratch).map_err(anyhow::Error::from).and_then(|()| {
        let probe_plan = Plan { data_dir: scratch.join("node"), ..plan.clone() };
        let mut args = node_args(&probe_plan);
        replace_arg(&mut args, "--socket", socket.clone().into_os_string());
        ceiling::cpu(ceiling::CpuProbeSetup {
            node_bin: &plan.node_bin,
            args,
            env,
            socket: &socket,
            scratch: &scratch,
            workload: &o.workload,
            max_in_flight: max_in_flight(o),
        })
    });
    let _ = fs::remove_dir_all(&scratch);
    let _ = fs::remove_file(&socket);
    probe
}

fn replace_arg(args: &mut [OsString], flag: &str, value: OsString) {
    if let Some(i) = args.iter().position(|a| a == flag) {
        if let Some(v) = args.get_mut(i + 1) {
            *v = value;
        }
    }
}

/// Blocks the driver keeps unacknowledged: two writer batches or one arrival window.
fn max_in_flight(o: &IngestOptions) -> u64 {
    (2 * o.writer_batch).max(o.workload.arrival.window) + 64
}

/// What the run produced, for the writers.
pub struct Collected {
    pub driver: Option<driver::DriverResult>,
    pub samples: Vec<sampler::Sample>,
    pub exit: Option<node::ExitInfo>,
    pub stderr_tail: String,
    pub timed_out: bool,
    pub watchdog_fired: bool,
    pub oom_kills: u64,
    pub kernel_oom_line: Option<String>,
    pub mem_limit: serde_json::Value,
    pub cgroup_evidence: String,
    pub wall: Duration,
    pub pid: u32,
    pub acked: u64,
    pub acked_bytes: u64,
    pub ceilings: ceiling::Ceilings,
    /// The run's time zero (the node's spawn).
    pub clock: RunClock,
    /// Acknowledged blocks read back from the store (`None`: not attempted).
    pub verification: Option<crate::verify::SampleCheck>,
    /// The signal that stopped the run while the node ran, if any.
    pub interrupted: Option<i32>,
}

fn execute(plan: &Plan) -> Result<RunReport> {
    let o = plan.opts;
    let args = node_args(plan);
    let env = node::allocator_env(o);
    let ceilings = if o.ceilings { ceilings_before(plan, &env) } else { ceiling::Ceilings::default() };
    signals::check()?;
    write::config_json(plan, &args, &env, None, &ceilings, None)?;
    let log_path = plan.run_dir.join("events.jsonl");
    let obs = Arc::new(NodeObservations::default());
    let mut c = run_node(plan, &args, &env, &log_path, &obs, ceilings)?;
    if o.ceilings && c.interrupted.is_none() {
        c.ceilings.disk_after = c.ceilings.record_disk("after", disk_probe(plan));
    }
    if c.interrupted.is_none() {
        c.verification = verify_after(plan, &c, &obs);
    }
    // A signal during the probe or the read-back: the run was not finished.
    c.interrupted = c.interrupted.or_else(signals::received);
    let summary = write::outputs(plan, &args, &env, &c, &obs)?;
    let shown = plan.run_dir.display().to_string();
    println!("{}", if o.full_summary { summary.human(&shown) } else { summary.one_line(&shown) });
    Ok(RunReport { run_dir: plan.run_dir.clone(), summary })
}

/// Spawns the node at the run's time zero, drives the workload, reaps the node.
fn run_node(
    plan: &Plan,
    args: &[OsString],
    env: &[(String, String)],
    log_path: &Path,
    obs: &Arc<NodeObservations>,
    ceilings: ceiling::Ceilings,
) -> Result<Collected> {
    let o = plan.opts;
    let run_tag = format!("{}-{}", std::process::id(), crate::time::unix_ms(plan.start));
    let limit = o.mem_limit_bytes.map_or_else(MemLimit::none, |l| MemLimit::setup(l, &run_tag));
    let oom_before = limit.oom_kills().unwrap_or(0);
    let clock = RunClock::start();
    let log = Arc::new(EventLog::create(log_path, clock)?);
    let mut node = NodeProcess::spawn(&plan.node_bin, args, env, &limit, Arc::clone(&log), Arc::clone(obs))?;
    log.harness(
        "run_start",
        json!({"node_pid": node.pid, "alloc": o.alloc, "workload": o.workload.name, "mem_limit": limit.mechanism}),
    );
    let progress = Arc::new(Progress::default());
    let watchdog = (limit.mechanism == memlimit::Mechanism::Watchdog).then_some(limit.limit_bytes).flatten();
    let max_samples = (o.timeout.as_millis() / o.sample_interval.as_millis().max(1)) as usize + 1000;
    let sampler_cfg = SamplerConfig {
        pid: node.pid,
        interval: o.sample_interval,
        run_start: clock.zero,
        watchdog_limit: watchdog,
        max_samples,
    };
    let sampler = Sampler::start(sampler_cfg, Arc::clone(&progress));
    let display = progress::Display::start(o.workload.blocks, Arc::clone(&progress), Arc::clone(&sampler.samples));
    let deadline = clock.zero + o.timeout;
    let gone = || node.exit_info().is_some() || signals::received().is_some();
    let driven = obs.wait_ready(o.timeout, gone).then(|| {
        let socket = plan.socket_dir.join("node.sock");
        let stop = Arc::new(AtomicBool::new(false));
        let (max_in_flight, progress) = (max_in_flight(o), Arc::clone(&progress));
        Driver { spec: &o.workload, socket: &socket, max_in_flight, deadline, run_start: clock.zero, progress, stop }
            .run()
    });
    let timed_out = Instant::now() >= deadline && !matches!(&driven, Some(Ok(r)) if r.end == DriverEnd::Done);
    if timed_out || signals::received().is_some() {
        node.kill();
    }
    let exit = node.wait_or_interrupt(EXIT_GRACE).or_else(|| {
        node.kill();
        node.wait_timeout(Duration::from_secs(5))
    });
    let wall = clock.zero.elapsed();
    // Read after the node is gone: a signal during the exit grace period counts too.
    let interrupted = signals::received();
    display.finish();
    let watchdog_fired = sampler.watchdog_fired.load(std::sync::atomic::Ordering::SeqCst);
    let samples = sampler.finish();
    node.join_readers();
    let exit_json = exit.map(|e| json!({"code": e.code, "signal": e.signal}));
    log.harness("run_end", json!({"wall_s": wall.as_secs_f64(), "exit": exit_json}));
    let driver = driven.transpose().unwrap_or_else(|e| {
        log.harness("driver_error", json!({"message": format!("{e:#}")}));
        None
    });
    log.flush();
    let oom_kills = limit.oom_kills().unwrap_or(0).saturating_sub(oom_before);
    let kernel_oom_line = exit
        .filter(|e| e.signal == Some(libc::SIGKILL))
        .and_then(|_| crash::kernel_oom_line(node.pid, clock.zero_uptime_s));
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    Ok(Collected {
        driver,
        samples,
        exit,
        stderr_tail: node.stderr_tail(),
        timed_out,
        watchdog_fired,
        oom_kills,
        kernel_oom_line,
        mem_limit: json!({"mechanism": limit.mechanism, "limit_bytes": limit.limit_bytes, "fallback_reason": limit.fallback_reason}),
        cgroup_evidence: limit.evidence(),
        wall,
        pid: node.pid,
        acked: load(&progress.acked),
        acked_bytes: load(&progress.acked_bytes),
        ceilings,
        clock,
        verification: None,
        interrupted,
    })
}

/// Reads a seeded sample of the acknowledged blocks back from the node's store, after a
/// session the node completed cleanly (`--verify-sample`; not for a node that announced
/// it stores nothing, `--sink` or `--null-writer`).
fn verify_after(plan: &Plan, c: &Collected, obs: &NodeObservations) -> Option<crate::verify::SampleCheck> {
    let k = plan.opts.verify_sample as usize;
    let d = c.driver.as_ref().filter(|d| d.end == DriverEnd::Done)?;
    let stores = obs.snapshot(|s| s.node_mode().is_none_or(|m| m == "store")).unwrap_or(true);
    if k == 0 || !stores || c.exit.and_then(|e| e.code) != Some(0) {
        return None;
    }
    let numbers = d.acks.sample_acked(k, plan.opts.workload.seed);
    Some(crate::verify::check_sample(&plan.data_dir, &plan.opts.workload, &numbers))
}

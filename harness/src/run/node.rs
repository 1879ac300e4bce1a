//! The node process: spawn with the allocator environment, read its event stream and
//! stderr, and reap it.
//!
//! Reaping takes two steps: `waitid(WNOWAIT)` learns that the node exited while leaving
//! it a zombie, so its final `/proc/<pid>/io` counters can still be read (exact bytes
//! written, not the last sample's); then `wait4` reaps it for the exit status and CPU
//! times. `wait4`'s `ru_maxrss` is deliberately not used: Linux carries the parent's
//! peak into a child's `ru_maxrss` across fork + exec, so it can be the harness's peak
//! rather than the node's. The node's peak is its own VmHWM (sampler, and the node's
//! final self-report).

use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{Context, Result};

use super::events::{EventLog, NodeObservations};
use super::memlimit::MemLimit;
use crate::node_bin::node_command;
use crate::options::IngestOptions;
use crate::record::events::MAX_EVENT_LINE_BYTES;
use crate::settings::{Allocator, ArenaMax};
use crate::util::lines::read_bounded_line;

/// How long the node's output is drained after it exited (see `join_readers`).
const READER_DRAIN: Duration = Duration::from_secs(5);

/// Bytes of node stderr kept for crash bundles.
pub const STDERR_TAIL_BYTES: usize = 64 * 1024;

/// How the node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub core_dumped: bool,
    /// `/proc/<pid>/io` `write_bytes` and `read_bytes` of the exited node (read while it
    /// was a zombie); `None` where the kernel did not provide them.
    pub io_write_bytes: Option<u64>,
    pub io_read_bytes: Option<u64>,
    pub user_ms: u64,
    pub sys_ms: u64,
    /// When the harness saw the exit (crash bundles are timed from here).
    pub seen_at: std::time::Instant,
}

/// The environment the node gets from its flags: (name, value) pairs.
pub fn allocator_env(opts: &IngestOptions) -> Vec<(String, String)> {
    let mut env = vec![("RUST_BACKTRACE".to_owned(), "1".to_owned())];
    if let ArenaMax::Max(n) = opts.arena_max {
        env.push(("MALLOC_ARENA_MAX".into(), n.to_string()));
    }
    match (opts.alloc, &opts.alloc_conf) {
        // A jemalloc that replaces `malloc` has unprefixed names: it reads MALLOC_CONF.
        (Allocator::Jemalloc, Some(conf)) if crate::node_bin::NodeKind::of(opts).replaces_malloc() => {
            env.push(("MALLOC_CONF".into(), conf.clone()))
        }
        (Allocator::Jemalloc, Some(conf)) => env.push(("_RJEM_MALLOC_CONF".into(), conf.clone())),
        (Allocator::Glibc, Some(conf)) => env.push(("GLIBC_TUNABLES".into(), conf.clone())),
        (Allocator::Mimalloc, Some(conf)) => {
            for kv in conf.split(',').filter(|s| !s.is_empty()) {
                let (k, v) = kv.split_once('=').unwrap_or((kv, "1"));
                env.push((format!("MIMALLOC_{}", k.trim().to_ascii_uppercase()), v.trim().to_owned()));
            }
        }
        _ => {}
    }
    env
}

/// Starts the node binary with `--version` and the run's allocator environment, and
/// refuses (exit 2) a configuration the allocator would not apply: jemalloc reports an
/// invalid `--alloc-conf` on stderr and carries on with its defaults; mimalloc ignores
/// unknown `MIMALLOC_*` options silently, so its verbose option list is checked for
/// each key given; glibc ignores unknown or out-of-range tunables silently, so they are
/// checked against the list its loader prints. Any would otherwise be recorded as applied.
pub fn check_allocator_conf(bin: &Path, env: &[(String, String)], opts: &IngestOptions) -> Result<()> {
    let Some(conf) = opts.alloc_conf.as_deref() else { return Ok(()) };
    let complaints = match opts.alloc {
        Allocator::Glibc => crate::run::glibc_tunables::check_here(conf).map_err(|e| {
            crate::error::input(format!("--alloc-conf {conf}: cannot check it against this glibc: {e:#}"))
        })?,
        Allocator::Jemalloc => {
            let stderr = version_stderr(bin, env, false)?;
            stderr.lines().filter(|l| l.contains("<jemalloc>:")).take(5).map(str::to_owned).collect()
        }
        Allocator::Mimalloc => mimalloc_complaints(env, &version_stderr(bin, env, true)?),
    };
    refuse_unless_empty(conf, &complaints)
}

/// What mimalloc would not apply of the `MIMALLOC_*` options in `env`, from its verbose
/// `stderr`: a key missing from its option list, or a value it warns is invalid (it then
/// runs with that option's default, and says so only when verbose).
fn mimalloc_complaints(env: &[(String, String)], stderr: &str) -> Vec<String> {
    env.iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("MIMALLOC_")?.to_ascii_lowercase(), v)))
        .filter_map(|(key, value)| {
            if !stderr.contains(&format!("option '{key}'")) {
                Some(format!("mimalloc has no option `{key}`"))
            } else if stderr.contains(&format!("mimalloc_{key} has an invalid value")) {
                Some(format!("mimalloc option `{key}`: expected an integer or on/off, got `{value}`"))
            } else {
                None
            }
        })
        .collect()
}

/// What `<node> --version` prints on stderr in the node's environment (`verbose`: with
/// `MIMALLOC_VERBOSE=1`, so mimalloc lists the options it applied).
fn version_stderr(bin: &Path, env: &[(String, String)], verbose: bool) -> Result<String> {
    let mut cmd = node_command(bin, env);
    cmd.arg("--version");
    if verbose {
        cmd.env("MIMALLOC_VERBOSE", "1");
    }
    let out = crate::node_bin::output_within(cmd, CONF_CHECK_TIMEOUT, CONF_CHECK_MAX_BYTES)
        .with_context(|| format!("starting {}", bin.display()))?;
    crate::signals::check()?;
    let out = out.ok_or_else(|| {
        crate::error::input(format!("{}: `--version` did not finish within {CONF_CHECK_TIMEOUT:?}", bin.display()))
    })?;
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `Err` (exit 2) naming what the allocator would not apply of `conf`.
fn refuse_unless_empty(conf: &str, complaints: &[String]) -> Result<()> {
    if !complaints.is_empty() {
        return Err(crate::error::input(format!(
            "--alloc-conf {conf}: the allocator rejected it: {}",
            complaints.join("; ")
        )));
    }
    Ok(())
}

/// How long `<node> --version` may take when `--alloc-conf` is checked, and how much of
/// its output is read (mimalloc's verbose option list is a few KiB).
const CONF_CHECK_TIMEOUT: Duration = Duration::from_secs(10);
const CONF_CHECK_MAX_BYTES: u64 = 1 << 20;

pub struct NodeProcess {
    pub pid: u32,
    exit: Arc<(Mutex<Option<ExitInfo>>, Condvar)>,
    /// Set as soon as the node has exited (before it is reaped): from then on its pid
    /// may be reused, so `kill` must not signal it.
    exited: Arc<std::sync::atomic::AtomicBool>,
    stderr_tail: Arc<Mutex<VecDeque<u8>>>,
    readers: Vec<JoinHandle<()>>,
    _child: Child,
}

impl NodeProcess {
    pub fn spawn(
        bin: &Path,
        args: &[std::ffi::OsString],
        env: &[(String, String)],
        limit: &MemLimit,
        log: Arc<EventLog>,
        obs: Arc<NodeObservations>,
    ) -> Result<NodeProcess> {
        let mut cmd = node_command(bin, env);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let procs_fd = limit.procs_file.as_ref().map(std::os::fd::AsRawFd::as_raw_fd);
        // SAFETY: getpid has no preconditions.
        let harness = unsafe { libc::getpid() };
        // SAFETY: the closure calls only async-signal-safe functions (prctl, getppid,
        // write) on values captured before fork. PR_SET_PDEATHSIG kills the node if the
        // harness dies (e.g. SIGKILL), which would otherwise leave an orphan node running;
        // the getppid check covers a harness that died before the prctl. Writing "0" to
        // the cgroup's procs file moves the calling process (the child) into it.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != harness {
                    return Err(std::io::Error::other("the harness is gone"));
                }
                if let Some(fd) = procs_fd {
                    if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().with_context(|| format!("starting node {}", bin.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take().context("node stdout")?;
        let stderr = child.stderr.take().context("node stderr")?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_BYTES)));
        let readers = vec![spawn_event_reader(stdout, log, obs), spawn_stderr_reader(stderr, Arc::clone(&stderr_tail))];
        let exit = Arc::new((Mutex::new(None), Condvar::new()));
        let exited = Arc::new(std::sync::atomic::AtomicBool::new(false));
        spawn_reaper(pid, Arc::clone(&exit), Arc::clone(&exited));
        Ok(NodeProcess { pid, exit, exited, stderr_tail, readers, _child: child })
    }

    pub fn exit_info(&self) -> Option<ExitInfo> {
        *self.exit.0.lock().ok()?
    }

    /// Waits up to `timeout` for the node to exit.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitInfo> {
        let (lock, cv) = &*self.exit;
        let guard = lock.lock().ok()?;
        let (guard, _) = cv.wait_timeout_while(guard, timeout, |e| e.is_none()).ok()?;
        *guard
    }

    /// Waits up to `timeout` for the node to exit, but kills it as soon as the harness
    /// is interrupted (SIGINT/SIGTERM) rather than sit out the grace period.
    pub fn wait_or_interrupt(&self, timeout: Duration) -> Option<ExitInfo> {
        let until = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < until {
            if let Some(e) = self.wait_timeout(Duration::from_millis(100)) {
                return Some(e);
            }
            if crate::signals::received().is_some() {
                self.kill();
                return self.wait_timeout(Duration::from_secs(5));
            }
        }
        None
    }

    pub fn kill(&self) {
        if !self.exited.load(std::sync::atomic::Ordering::SeqCst) {
            // SAFETY: kill(2) on our own child's pid; the reaper has not reaped it yet.
            unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
        }
    }

    pub fn stderr_tail(&self) -> String {
        let tail = self.stderr_tail.lock().map(|t| t.iter().copied().collect::<Vec<u8>>()).unwrap_or_default();
        String::from_utf8_lossy(&tail).into_owned()
    }

    /// Waits for the stdout/stderr readers to drain (after the node exited), for at
    /// most [`READER_DRAIN`]: a process the node binary left behind (a wrapper script's
    /// background job) may hold the pipes open long after the node is gone, and its
    /// output is not the node's.
    pub fn join_readers(&mut self) {
        let until = std::time::Instant::now() + READER_DRAIN;
        while self.readers.iter().any(|r| !r.is_finished()) && std::time::Instant::now() < until {
            thread::sleep(Duration::from_millis(5));
        }
        for r in self.readers.drain(..).filter(JoinHandle::is_finished) {
            let _ = r.join();
        }
    }
}

fn spawn_event_reader(
    stdout: impl Read + Send + 'static,
    log: Arc<EventLog>,
    obs: Arc<NodeObservations>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::with_capacity(1024);
        while let Ok(true) = read_bounded_line(&mut reader, &mut line, MAX_EVENT_LINE_BYTES) {
            log.node_line(&String::from_utf8_lossy(&line), &obs);
        }
    })
}

fn spawn_stderr_reader(mut stderr: impl Read + Send + 'static, tail: Arc<Mutex<VecDeque<u8>>>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut t) = tail.lock() {
                t.extend(&buf[..n]);
                let excess = t.len().saturating_sub(STDERR_TAIL_BYTES);
                t.drain(..excess);
            }
        }
    })
}

fn spawn_reaper(pid: u32, exit: Arc<(Mutex<Option<ExitInfo>>, Condvar)>, exited: Arc<std::sync::atomic::AtomicBool>) {
    thread::spawn(move || {
        let waited = wait_exited(pid);
        // The zombie keeps its pid until reaped; killing it is harmless, a reaped pid
        // is not ours any more.
        exited.store(true, std::sync::atomic::Ordering::SeqCst);
        let io = waited.then(|| crate::procfs::read_io(pid)).flatten();
        let info = reap(pid, io);
        let (lock, cv) = &*exit;
        if let Ok(mut e) = lock.lock() {
            *e = Some(info);
        }
        cv.notify_all();
    });
}

/// Waits until `pid` has exited without reaping it (`waitid` with `WNOWAIT`): its
/// `/proc` entry stays readable until [`reap`]. False if waiting failed.
fn wait_exited(pid: u32) -> bool {
    loop {
        // SAFETY: zeroed siginfo_t is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waits for our own child; `info` is valid for writes.
        let rc = unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if rc == 0 {
            return true;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return false;
        }
    }
}

/// Reaps `pid` with `wait4`: exit status and CPU times (and the exited node's storage
/// I/O, `(read_bytes, write_bytes)`, read before).
fn reap(pid: u32, io: Option<(u64, u64)>) -> ExitInfo {
    let (io_read_bytes, io_write_bytes) = (io.map(|(r, _)| r), io.map(|(_, w)| w));
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = loop {
        // SAFETY: waits for our own child; status and usage are valid for writes.
        let rc = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut usage) };
        if rc == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break rc;
    };
    let seen_at = std::time::Instant::now();
    if rc != pid as i32 {
        let (code, signal, core_dumped) = (None, None, false);
        return ExitInfo { code, signal, core_dumped, io_write_bytes, io_read_bytes, user_ms: 0, sys_ms: 0, seen_at };
    }
    let ms = |t: libc::timeval| t.tv_sec as u64 * 1000 + t.tv_usec as u64 / 1000;
    ExitInfo {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        core_dumped: libc::WIFSIGNALED(status) && libc::WCOREDUMP(status),
        io_write_bytes,
        io_read_bytes,
        user_ms: ms(usage.ru_utime),
        sys_ms: ms(usage.ru_stime),
        seen_at,
    }
}

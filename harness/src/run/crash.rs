//! Classifying how a node run ended, and the `crash/` bundle written when it died.

use std::fs;
use std::path::Path;

use anyhow::Result;

use syncbench_node::config::NodeMode;
use syncbench_node::events::NodeSummary;

use super::driver::DriverEnd;
use super::node::ExitInfo;
use super::record::Collected;

pub use crate::record::outcome::{CrashClass, Outcome, Stall, StallKind};

/// Evidence gathered about the end of the run.
pub struct Evidence<'a> {
    pub exit: Option<ExitInfo>,
    pub stderr_tail: &'a str,
    pub timed_out: bool,
    pub watchdog_fired: bool,
    pub cgroup_oom_kills: u64,
    pub kernel_oom_line: Option<String>,
    pub session_complete: bool,
    /// The signal that stopped the harness during the node run, if any.
    pub interrupted: Option<i32>,
    /// The node or the sampling stalled (see [`Stall`]).
    pub stall: Option<Stall>,
}

pub fn classify(e: &Evidence) -> (Outcome, Option<CrashClass>) {
    if e.interrupted.is_some() {
        return (Outcome::Interrupted, None);
    }
    // A stall that killed the node explains whatever followed; a sampling gap only
    // spoils a run that otherwise succeeded.
    if e.stall.is_some_and(|s| s.kind != StallKind::SamplingGap) {
        return (Outcome::Stalled, None);
    }
    if e.timed_out {
        return (Outcome::Timeout, None);
    }
    if e.watchdog_fired {
        return (Outcome::WatchdogKilled, None);
    }
    let Some(exit) = e.exit else {
        return (Outcome::Crashed, Some(CrashClass::Incomplete));
    };
    if exit.code == Some(0) && e.session_complete {
        return if e.stall.is_some() { (Outcome::Stalled, None) } else { (Outcome::Ok, None) };
    }
    if e.cgroup_oom_kills > 0 || (exit.signal == Some(libc::SIGKILL) && e.kernel_oom_line.is_some()) {
        return (Outcome::OomKilled, None);
    }
    let class = if e.stderr_tail.contains("has overflowed its stack") {
        CrashClass::StackOverflow
    } else if e.stderr_tail.contains("No space left on device") || e.stderr_tail.contains("os error 28") {
        CrashClass::DiskFull
    } else if e.stderr_tail.contains("panicked at") {
        CrashClass::Panic
    } else {
        match exit.signal {
            Some(libc::SIGSEGV) | Some(libc::SIGBUS) => CrashClass::Segfault,
            Some(libc::SIGABRT) => CrashClass::Abort,
            Some(libc::SIGKILL) => CrashClass::Killed,
            Some(_) => CrashClass::Signal,
            None if exit.code == Some(0) => CrashClass::Incomplete,
            None => CrashClass::Error,
        }
    };
    (Outcome::Crashed, Some(class))
}

/// Looks for the kernel's OOM-killer line about `pid` logged since `since_uptime_s`
/// (seconds since boot, when the node was spawned). Best effort: `dmesg` may be
/// unavailable or restricted. The time bound matters: pids are reused (pid_max is
/// 32768 here), and an old OOM kill of another process with this pid must not turn a
/// node killed by something else into `oom_killed`.
pub fn kernel_oom_line(pid: u32, since_uptime_s: f64) -> Option<String> {
    let out = std::process::Command::new("dmesg").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    oom_line_in(&text, pid, since_uptime_s)
}

/// The last `Killed process <pid> ` line of `dmesg` text stamped at or after `since`.
fn oom_line_in(text: &str, pid: u32, since: f64) -> Option<String> {
    let needle = format!("Killed process {pid} ");
    let stamp = |l: &str| -> Option<f64> { l.strip_prefix('[')?.split(']').next()?.trim().parse().ok() };
    text.lines().rev().find(|l| l.contains(&needle) && stamp(l).is_some_and(|t| t >= since)).map(str::to_owned)
}

/// Everything the bundle holds.
pub struct Bundle<'a> {
    pub classification: serde_json::Value,
    pub last_samples_csv: String,
    pub events_tail: Vec<String>,
    pub stderr_tail: &'a str,
    pub cgroup: String,
    pub reproduce: String,
    pub exit_seen_at: Option<std::time::Instant>,
}

/// Writes `crash/` under `run_dir`.
pub fn write_bundle(run_dir: &Path, b: &Bundle) -> Result<()> {
    let dir = run_dir.join("crash");
    crate::util::fsx::real_dir(&dir)?;
    let w = |name: &str, text: &str| crate::util::fsx::write_atomic(&dir.join(name), text.as_bytes());
    let mut classification = b.classification.clone();
    if let (Some(seen), Some(map)) = (b.exit_seen_at, classification.as_object_mut()) {
        // Everything else in the bundle is cheap to write; this is the budget that matters.
        map.insert("bundle_ms_after_exit".into(), (seen.elapsed().as_millis() as u64).into());
    }
    w("classification.json", &serde_json::to_string_pretty(&classification)?)?;
    w("last_samples.csv", &b.last_samples_csv)?;
    w("events_tail.jsonl", &(b.events_tail.join("\n") + "\n"))?;
    w("stderr_tail.txt", b.stderr_tail)?;
    w("meminfo.txt", &fs::read_to_string("/proc/meminfo").unwrap_or_default())?;
    w("cgroup.txt", &b.cgroup)?;
    w("reproduce.sh", &b.reproduce)?;
    Ok(())
}

/// Outcome, crash class and protocol violation (if any) of a run.
pub fn outcome_of(
    c: &Collected,
    node_summary: Option<&NodeSummary>,
    node_mode: Option<NodeMode>,
) -> (Outcome, Option<CrashClass>, Option<String>) {
    let done = c.driver.as_ref().is_some_and(|d| d.end == DriverEnd::Done);
    let evidence = Evidence {
        exit: c.exit,
        stderr_tail: &c.stderr_tail,
        timed_out: c.timed_out,
        watchdog_fired: c.watchdog_fired,
        cgroup_oom_kills: c.oom_kills,
        kernel_oom_line: c.kernel_oom_line.clone(),
        session_complete: done,
        interrupted: c.interrupted,
        stall: c.stall,
    };
    let (outcome, class) = classify(&evidence);
    let violation = protocol_violation(c, done, node_summary, node_mode);
    match (outcome, violation) {
        (Outcome::Ok, Some(v)) => (Outcome::ProtocolViolation, None, Some(v)),
        (o, v) => (o, class, v),
    }
}

/// Checks what the node acknowledged against what was sent, what it says it stored
/// and what its store holds.
fn protocol_violation(
    c: &Collected,
    done: bool,
    node_summary: Option<&NodeSummary>,
    mode: Option<NodeMode>,
) -> Option<String> {
    let d = c.driver.as_ref()?;
    let counts = d.acks.counts();
    if let Some(v) = counts.violation(done) {
        return Some(v);
    }
    let expected = d.acks.workload_blocks();
    if done && counts.acked < expected {
        return Some(format!("the node reported Done after {} of the workload's {expected} blocks", counts.acked));
    }
    let durable = node_summary.map(|n| n.blocks_durable);
    if let (Some(durable), Some(NodeMode::Store)) = (durable, mode) {
        if durable != counts.acked {
            return Some(format!("the node reports {durable} blocks durable but acknowledged {}", counts.acked));
        }
    }
    let v = c.verification.as_ref()?;
    v.problems.first().map(|first| {
        let n = v.problem_count();
        format!("{n} of {} acknowledged blocks read back failed, first: {first}", v.blocks)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str` spells what serde writes (summary.json, suite.json): one can't drift.
    #[test]
    fn names_are_the_serialized_names() {
        use Outcome::*;
        for o in
            [Ok, Crashed, OomKilled, WatchdogKilled, Timeout, ProtocolViolation, Interrupted, HarnessError, Stalled]
        {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        for c in [
            CrashClass::Panic,
            CrashClass::StackOverflow,
            CrashClass::Segfault,
            CrashClass::Abort,
            CrashClass::Killed,
            CrashClass::Signal,
            CrashClass::Error,
            CrashClass::Incomplete,
            CrashClass::DiskFull,
        ] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        for k in [StallKind::NodeStopped, StallKind::NoHeartbeat, StallKind::NotReady, StallKind::SamplingGap] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }

    /// Regression: an OOM kill of an earlier process with a reused pid classified a
    /// node killed by something else as `oom_killed` (a flaky matrix test in CI).
    #[test]
    fn an_old_oom_kill_of_a_reused_pid_is_not_this_nodes() {
        let log = "[  100.5] Out of memory: Killed process 4242 (node-glibc) total-vm:1kB\n\
                   [  900.0] something else\n";
        assert_eq!(oom_line_in(log, 4242, 500.0), None);
        assert!(oom_line_in(log, 4242, 50.0).is_some_and(|l| l.contains("100.5")));
        assert_eq!(oom_line_in(log, 424, 50.0), None, "a prefix of another pid");
    }

    fn exit(code: Option<i32>, signal: Option<i32>) -> Option<ExitInfo> {
        let seen_at = std::time::Instant::now();
        Some(ExitInfo {
            code,
            signal,
            core_dumped: false,
            io_write_bytes: None,
            io_read_bytes: None,
            user_ms: 0,
            sys_ms: 0,
            seen_at,
        })
    }

    fn ev<'a>(exit: Option<ExitInfo>, stderr: &'a str) -> Evidence<'a> {
        Evidence {
            exit,
            stderr_tail: stderr,
            timed_out: false,
            watchdog_fired: false,
            cgroup_oom_kills: 0,
            kernel_oom_line: None,
            session_complete: false,
            interrupted: None,
            stall: None,
        }
    }

    #[test]
    fn classes() {
        let c = |e: Evidence| classify(&e);
        assert_eq!(c(ev(exit(Some(101), None), "thread 'main' panicked at src/x.rs")).1, Some(CrashClass::Panic));
        assert_eq!(
            c(ev(exit(None, Some(libc::SIGABRT)), "thread 'x' has overflowed its stack\n")).1,
            Some(CrashClass::StackOverflow)
        );
        assert_eq!(c(ev(exit(None, Some(libc::SIGSEGV)), "")).1, Some(CrashClass::Segfault));
        assert_eq!(c(ev(exit(None, Some(libc::SIGABRT)), "")).1, Some(CrashClass::Abort));
        assert_eq!(c(ev(exit(None, Some(libc::SIGKILL)), "")).1, Some(CrashClass::Killed));
        assert_eq!(c(ev(exit(Some(3), None), "corrupt")).1, Some(CrashClass::Error));
        let mut oom = ev(exit(None, Some(libc::SIGKILL)), "");
        oom.cgroup_oom_kills = 1;
        assert_eq!(c(oom).0, Outcome::OomKilled);
        let mut ok = ev(exit(Some(0), None), "");
        ok.session_complete = true;
        assert_eq!(c(ok).0, Outcome::Ok);
        let mut t = ev(None, "");
        t.timed_out = true;
        assert_eq!(c(t).0, Outcome::Timeout);
        // Regression (hostile round 2): a full disk was classed `error`.
        let full = "node: error: <data-dir>/shard-0000000001/staging.wal: No space left on device (os error 28)";
        assert_eq!(c(ev(exit(Some(1), None), full)).1, Some(CrashClass::DiskFull));
    }

    /// Regression (hostile round 2): a node stopped for 30 s, or a harness stopped for
    /// 20 s (a hole in the samples), still ended `ok`.
    #[test]
    fn a_stall_is_an_outcome_of_its_own() {
        let stall = |kind| Stall { kind, at_ms: 1_000, duration_ms: 10_000 };
        let mut complete = ev(exit(Some(0), None), "");
        complete.session_complete = true;
        complete.stall = Some(stall(StallKind::SamplingGap));
        assert_eq!(classify(&complete).0, Outcome::Stalled, "a hole spoils a run that succeeded");
        let mut killed = ev(exit(None, Some(libc::SIGKILL)), "");
        killed.stall = Some(stall(StallKind::NodeStopped));
        assert_eq!(classify(&killed), (Outcome::Stalled, None), "the stall explains the kill");
        let mut crashed = ev(exit(None, Some(libc::SIGSEGV)), "");
        crashed.stall = Some(stall(StallKind::SamplingGap));
        assert_eq!(classify(&crashed).1, Some(CrashClass::Segfault), "a gap does not hide a crash");
    }
}

//! Each way a node can die is classified correctly, with a crash bundle, exit code 1,
//! and the harness itself never panics.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{ingest, json, text};

fn death(fault: &str, extra: &[&str]) -> (serde_json::Value, f64) {
    let dir = tempfile::tempdir().unwrap();
    let fault_arg = format!("--node-arg=--fault={fault}");
    let mut args = vec![fault_arg.as_str(), "--node-arg=--fault-at-block=300"];
    args.extend_from_slice(extra);
    // Build (or find) the node first: a cold cargo build must not count as run time.
    common::node_bin("glibc");
    let started = Instant::now();
    let out = ingest(dir.path(), "glibc", &args);
    let secs = started.elapsed().as_secs_f64();
    (check_bundle(dir.path(), fault, &out), secs)
}

/// Exit code 1, no harness panic, a complete crash bundle written < 2 s after the
/// node's exit whose reproduce.sh names `fault`, and no data directory left behind.
fn check_bundle(dir: &Path, fault: &str, out: &Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(1), "{fault}: {}", text(out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("syncbench' panicked"), "harness panicked");
    let run = dir.join("run");
    for f in [
        "classification.json",
        "last_samples.csv",
        "events_tail.jsonl",
        "stderr_tail.txt",
        "meminfo.txt",
        "cgroup.txt",
        "reproduce.sh",
    ] {
        assert!(run.join("crash").join(f).is_file(), "{fault}: crash/{f} missing");
    }
    let summary = json(&run.join("summary.json"));
    let classification = json(&run.join("crash/classification.json"));
    assert_eq!(summary["outcome"], classification["outcome"]);
    let bundle_ms = classification["bundle_ms_after_exit"].as_u64().expect("bundle timing recorded");
    let reproduce = std::fs::read_to_string(run.join("crash/reproduce.sh")).unwrap();
    assert!(reproduce.contains(&format!("--node-arg=--fault={fault}")), "{reproduce}");
    assert!(reproduce.contains("ingest --alloc glibc --compaction streaming"), "{reproduce}");
    assert!(bundle_ms < 2_000, "{fault}: crash bundle written {bundle_ms} ms after the node's exit");
    assert!(!dir.join("data").exists(), "data directory left behind after a crash");
    summary
}

#[test]
fn external_sigkill_is_crashed_killed() {
    let dir = tempfile::tempdir().unwrap();
    let node = common::node_bin("glibc").display().to_string();
    // The node hangs at block 300, so it is surely alive when it is killed.
    let child = Command::new(common::SYNCBENCH)
        .args(["ingest", "--alloc", "glibc", "--workload", "smoke", "--out", "run", "--data-dir", "data"])
        .args(["--no-ceilings", "--timeout", "60s", "--node-bin", &node])
        .args(["--node-arg=--fault=hang", "--node-arg=--fault-at-block=300"])
        .current_dir(dir.path())
        .env_remove("CARGO")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let pid = loop {
        if let Some(pid) = child_named(child.id(), "node-glibc") {
            break pid;
        }
        assert!(Instant::now() < deadline, "no node process under the harness after 30 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: plain kill(2) of the node process this test's harness started.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
    let out = child.wait_with_output().unwrap();
    let s = check_bundle(dir.path(), "hang", &out);
    assert_eq!(
        (s["outcome"].as_str(), s["crash_class"].as_str(), s["exit_signal"].as_str()),
        (Some("crashed"), Some("killed"), Some("SIGKILL"))
    );
}

#[test]
fn panic_is_crashed_panic() {
    let (s, _) = death("panic", &[]);
    assert_eq!((s["outcome"].as_str(), s["crash_class"].as_str()), (Some("crashed"), Some("panic")));
}

#[test]
fn abort_is_crashed_abort() {
    let (s, _) = death("abort", &[]);
    assert_eq!(
        (s["outcome"].as_str(), s["crash_class"].as_str(), s["exit_signal"].as_str()),
        (Some("crashed"), Some("abort"), Some("SIGABRT"))
    );
}

#[test]
fn segfault_is_crashed_segfault() {
    let (s, _) = death("segfault", &[]);
    assert_eq!((s["crash_class"].as_str(), s["exit_signal"].as_str()), (Some("segfault"), Some("SIGSEGV")));
}

#[test]
fn stack_overflow_is_crashed_stack_overflow() {
    let (s, _) = death("stack-overflow", &[]);
    assert_eq!(s["crash_class"], "stack_overflow");
}

#[test]
fn hang_with_timeout_is_timeout() {
    let (s, secs) = death("hang", &["--timeout", "3s"]);
    assert_eq!(s["outcome"], "timeout");
    assert!(secs < 20.0, "timeout took {secs:.1} s to take effect");
}

#[test]
fn memory_limit_far_below_need_is_oom_or_watchdog_killed() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        ingest(dir.path(), "glibc", &["--mem-limit", "48MiB", "--node-arg=--inject-leak-bytes-per-block=1000000"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let run = dir.path().join("run");
    let s = json(&run.join("summary.json"));
    let outcome = s["outcome"].as_str().unwrap();
    assert!(outcome == "oom_killed" || outcome == "watchdog_killed", "outcome {outcome}");
    let c = json(&run.join("config.json"));
    let mechanism = c["limits"]["mem_limit"]["mechanism"].as_str().unwrap();
    assert_eq!(outcome == "oom_killed", mechanism.starts_with("cgroup"), "mechanism {mechanism}, outcome {outcome}");
    assert!(run.join("crash/cgroup.txt").is_file());
}

/// The pid of a child of `parent` whose command name is `comm`, from /proc.
fn child_named(parent: u32, comm: &str) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        // pid (comm) state ppid …; comm may contain spaces, so split at the last ')'.
        let (head, rest) = stat.rsplit_once(')')?;
        let name = head.split_once('(')?.1;
        let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
        // A node run (it has a socket), not the `identify` check before the run.
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        let serving = String::from_utf8_lossy(&cmd).contains("--socket");
        (ppid == parent && name == comm && serving).then_some(pid)
    })
}

//! Each way a node can die is classified correctly, with a crash bundle, exit code 1,
//! and the harness itself never panics.

mod common;

use std::time::Instant;

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
    assert_eq!(out.status.code(), Some(1), "{fault}: {}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("syncbench' panicked"), "harness panicked");
    let run = dir.path().join("run");
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
    assert!(!dir.path().join("data").exists(), "data directory left behind after a crash");
    (summary, secs)
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

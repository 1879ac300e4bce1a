//! `syncbench gate` and `syncbench ab` end to end on real runs: a baseline written
//! from a suite passes against itself, an injected leak fails naming the metric, and
//! a much slower head binary is flagged by `ab`.

mod common;

use common::{syncbench, text};

/// A 3-run smoke suite of 600 blocks (the matrix finds the node next to syncbench).
fn smoke_suite(dir: &std::path::Path, out: &str, extra: &[&str]) {
    common::node_bin("jemalloc");
    let mut args = vec!["matrix", "--alloc", "jemalloc", "--repeat", "3", "--workload", "smoke", "--blocks", "600"];
    args.extend(["--no-ceilings", "--out", out]);
    args.extend_from_slice(extra);
    let o = syncbench(&args, dir);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_leak_fails_the_gate_and_names_the_metric() {
    let dir = tempfile::tempdir().unwrap();
    smoke_suite(dir.path(), "base", &[]);
    let o = syncbench(&["gate", "--candidate", "base", "--write-baseline", "b.json"], dir.path());
    assert!(o.status.success(), "{}", text(&o));
    let pass = syncbench(&["gate", "--baseline", "b.json", "--candidate", "base", "--markdown", "g.md"], dir.path());
    assert!(pass.status.success(), "the baseline's own runs must pass: {}", text(&pass));
    assert!(std::fs::read_to_string(dir.path().join("g.md")).unwrap().contains("**result: pass**"));
    smoke_suite(dir.path(), "leaky", &["--node-arg=--inject-leak-bytes-per-block=512"]);
    let fail = syncbench(&["gate", "--baseline", "b.json", "--candidate", "leaky"], dir.path());
    assert_eq!(fail.status.code(), Some(1), "{}", text(&fail));
    let stderr = String::from_utf8_lossy(&fail.stderr);
    assert!(stderr.contains("gate failed: heap_live_end_bytes"), "{stderr}");
    // A candidate run differently from the baseline is refused, not compared.
    smoke_suite(dir.path(), "other", &["--shard-size", "300"]);
    let refused = syncbench(&["gate", "--baseline", "b.json", "--candidate", "other"], dir.path());
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("shard_size: baseline 500, candidate 300"));
}

#[test]
fn ab_flags_a_much_slower_head() {
    let dir = tempfile::tempdir().unwrap();
    let node = common::node_bin("jemalloc");
    // 5 ms of CPU per block on 600 blocks: 3 s more CPU than the whole base run uses.
    let slow = dir.path().join("slow-node");
    std::fs::write(&slow, format!("#!/bin/sh\nexec '{}' --burn-cpu-us-per-block=5000 \"$@\"\n", node.display()))
        .unwrap();
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (base, head) = (node.display().to_string(), slow.display().to_string());
    let args = [
        "ab",
        "--base-node",
        &base,
        "--head-node",
        &head,
        "--workload",
        "smoke",
        "--blocks",
        "600",
        "--repeat",
        "3",
        "--no-ceilings",
        "--out",
        "ab",
        "--markdown",
        "ab.md",
    ];
    let o = syncbench(&args, dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ab: head regresses"), "{}", text(&o));
    let md = std::fs::read_to_string(dir.path().join("ab.md")).unwrap();
    assert!(md.contains("| node user CPU time (s) |") && md.contains("**REGRESSION**"), "{md}");
    assert!(dir.path().join("ab/comparison.md").is_file());
}

#[test]
fn ab_judging_memory_fails_a_leaking_head_against_its_base() {
    let dir = tempfile::tempdir().unwrap();
    let node = common::node_bin("jemalloc");
    // Head keeps 512 bytes per block to the end: the live heap after the session grows
    // far beyond its 1 % limit in every run, whatever the machine's RSS does.
    let leaky = dir.path().join("leaky-node");
    let script = format!("#!/bin/sh\nexec '{}' --inject-leak-bytes-per-block=512 \"$@\"\n", node.display());
    std::fs::write(&leaky, script).unwrap();
    std::fs::set_permissions(&leaky, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (base, head) = (node.display().to_string(), leaky.display().to_string());
    let mut args = vec!["ab", "--judge", "memory", "--base-node", &base, "--head-node", &head];
    // 20 ms samples: 600 blocks end before a 100 ms sampler has the 5 samples RSS p50 needs.
    args.extend(["--workload", "smoke", "--blocks", "600", "--repeat", "3", "--sample-interval", "20ms"]);
    args.extend(["--no-ceilings", "--out", "ab", "--markdown", "ab.md"]);
    let o = syncbench(&args, dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("gate failed: heap_live_end_bytes"), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("baseline:  3 run(s)") && stdout.contains("candidate: 3 run(s)"), "{stdout}");
    let md = std::fs::read_to_string(dir.path().join("ab.md")).unwrap();
    assert!(md.contains("| heap_live_end_bytes |") && md.contains("**REGRESSION**"), "{md}");
}

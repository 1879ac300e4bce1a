//! Bad flags and bad files: exit code 2, a message naming the flag or file:line:col and
//! field, nothing left behind, no panic.

mod common;

use common::{syncbench, text};

fn expect_input_error(args: &[&str], fragment: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "name = \"x\"\nblocks = 10\nshard_size = 0\nseed = 1\n").unwrap();
    let out = syncbench(args, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    assert!(stderr.contains(fragment), "{args:?}: expected `{fragment}` in:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked");
    assert!(!dir.path().join("results").exists(), "{args:?} left a results directory");
}

#[test]
fn bad_flags_exit_2() {
    expect_input_error(&["ingest", "--alloc", "tcmalloc"], "invalid value 'tcmalloc'");
    expect_input_error(
        &["ingest", "--arena-max", "lots"],
        "--arena-max: expected `default` or a number 1..=1024, got `lots`",
    );
    expect_input_error(&["ingest", "--alloc", "jemalloc", "--arena-max", "2"], "only glibc reads MALLOC_ARENA_MAX");
    expect_input_error(&["ingest", "--timeout", "10parsecs"], "--timeout: expected a duration unit");
    expect_input_error(&["ingest", "--mem-limit", "2 bananas"], "--mem-limit: expected a size unit");
    expect_input_error(
        &["ingest", "--compaction-concurrency", "0"],
        "--compaction-concurrency: expected 1..=64, got 0",
    );
    expect_input_error(&["ingest", "--workload", "smoke", "--blocks", "0"], "--blocks: expected 1..=4000");
    expect_input_error(&["ingest", "--no-such-flag"], "unexpected argument '--no-such-flag'");
}

#[test]
fn bad_workloads_exit_2_with_location() {
    expect_input_error(
        &["ingest", "--workload", "bad.toml"],
        "bad.toml:3:14: field `shard_size`: expected 1..=10000000, got 0",
    );
    expect_input_error(&["ingest", "--workload", "no-such-spec"], "unknown workload `no-such-spec`");
    expect_input_error(&["ingest", "--workload", "missing/file.toml"], "missing/file.toml: cannot read workload spec");
    expect_input_error(&["workload", "describe", "bad.toml"], "bad.toml:3:14");
}

#[test]
fn missing_node_binary_and_unwritable_out_exit_2() {
    expect_input_error(
        &["ingest", "--workload", "smoke", "--node-bin", "/nonexistent/node"],
        "--node-bin /nonexistent/node: expected an executable file",
    );
    expect_input_error(&["ingest", "--workload", "smoke", "--out", "/proc/forbidden-run"], "--out /proc/forbidden-run");
    expect_input_error(
        &["verify", "--data", "nowhere", "--workload", "smoke"],
        "--data nowhere: expected a node data directory",
    );
}

#[test]
fn describe_prints_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let out = syncbench(&["workload", "describe", "mainnet"], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout);
    for f in ["blocks          40000", "shards          41 of 1000 blocks", "bytes/block", "logs/block", "peak disk"] {
        assert!(s.contains(f), "missing `{f}` in\n{s}");
    }
}

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
    expect_input_error(&["ingest", "--alloc", "glibc", "--heap-profile"], "--heap-profile: only jemalloc");
    expect_input_error(&["ingest", "--alloc", "mimalloc", "--heap-profile"], "a mimalloc run cannot be profiled");
    expect_input_error(
        &["ingest", "--alloc", "jemalloc", "--heap-profile", "--heap-profile-every", "1ms"],
        "--heap-profile-every: expected 100ms..=1h",
    );
    expect_input_error(&["ingest", "--heap-profile-every", "1s"], "--heap-profile");
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

/// `gate` with a malformed thresholds or baseline file: exit 2, file:line:col and field.
/// The candidate is a minimal run directory (the files `gate` reads).
#[test]
fn bad_gate_files_exit_2_with_location() {
    let cases_toml: &[(&str, &str)] = &[
        ("[limits_pct]\nalloc_count = -1\n", "t.toml:2:15: field `limits_pct.alloc_count`: expected a percentage"),
        ("[limits_pct]\nrss_peak = 3\n", "t.toml:2:1: field `limits_pct.rss_peak`: unknown field `rss_peak`"),
        ("[limits_pct]\nalloc_count = \"3%\"\n", "t.toml:2:15: field `limits_pct.alloc_count`: invalid type: string"),
        ("[ab]\nfloor_pct = 5000\n", "t.toml:2:13: field `ab.floor_pct`: expected a percentage in 0..100, got 5000"),
        ("[speed]\n", "t.toml:1:2: field `speed`: unknown field `speed`"),
        ("[limits_pct\n", "t.toml:1:12: field `(document)`: invalid table header"),
    ];
    let cases_json: &[(&str, &str)] = &[
        ("{\"format\": \"syncbench-baseline/1\"", "b.json:1:33: field `(document)`: EOF while parsing an object"),
        ("{\"format\": 1}", "b.json:1:12: field `format`: invalid type: integer `1`, expected a string"),
        ("[]", "b.json:1:2: field `(document)`: invalid length 0"),
        (
            "{\"format\": \"syncbench-baseline/1\", \"config\": {\"workload\": \"smoke\", \"blocks\": -4}}",
            "b.json:1:79: field `config.blocks`: invalid value: integer `-4`, expected u64",
        ),
        ("{\"format\": \"syncbench-baseline/1\", \"extra\": 1}", "b.json:1:42: field `extra`: unknown field `extra`"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join("summary.json"), r#"{"outcome": "ok", "alloc_count": 10}"#).unwrap();
    std::fs::write(
        run.join("config.json"),
        r#"{"workload": {"name": "smoke", "blocks": 1, "seed": 1, "shard_size": 1},
            "node": {"alloc": "glibc", "compaction": "streaming", "compaction_concurrency": 1, "writer_batch": 1},
            "environment": {"host": "h"}, "started_at": "t"}"#,
    )
    .unwrap();
    std::fs::write(run.join("samples.csv"), "t_ms,rss_bytes\n").unwrap();
    let check = |args: &[&str], fragment: &str| {
        let out = syncbench(args, dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(stderr.contains(fragment), "{args:?}: expected `{fragment}` in:\n{stderr}");
        assert!(!stderr.contains("panicked"));
    };
    for (body, fragment) in cases_toml {
        std::fs::write(dir.path().join("t.toml"), body).unwrap();
        check(&["gate", "--candidate", "run", "--baseline", "b.json", "--thresholds", "t.toml"], fragment);
    }
    for (body, fragment) in cases_json {
        std::fs::write(dir.path().join("b.json"), body).unwrap();
        check(&["gate", "--candidate", "run", "--baseline", "b.json"], fragment);
    }
    let stat = r#"{"median": 1.0, "min": 1.0, "max": 1.0, "n": 3}"#;
    let metrics = [
        "alloc_count",
        "alloc_bytes_total",
        "heap_live_end_bytes",
        "store_bytes_written",
        "heap_live_peak_bytes",
        "rss_peak_bytes",
        "rss_p50_bytes",
    ]
    .map(|k| format!("\"{k}\": {stat}"))
    .join(", ");
    let metrics = format!("{{{metrics}}}");
    std::fs::write(
        dir.path().join("b.json"),
        r#"{"format": "syncbench-baseline/1", "config": {"workload": "smoke", "workload_spec_hash": "0123456789abcdef",
            "blocks": 1, "seed": 1, "shard_size": 1, "alloc": "glibc", "compaction": "streaming", "compaction_concurrency": 1, "writer_batch": 1},
            "environment": {}, "created_at": "t", "runs": [], "metrics": {METRICS}}"#
            .replace("{METRICS}", &metrics),
    )
    .unwrap();
    check(&["gate", "--candidate", "nowhere", "--baseline", "b.json"], "--candidate nowhere: expected a run directory");
    check(&["gate", "--candidate", "run"], "--baseline FILE|DIR is required");
    check(
        &["ab", "--base-node", "/nonexistent", "--head-node", "/nonexistent"],
        "--base-node /nonexistent: no such file",
    );
}

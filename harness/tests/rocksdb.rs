//! `--store rocksdb`: the node on RocksDB, built on demand by the harness as a user's
//! `cargo run` builds it, and whose `malloc` serves RocksDB's allocations.
//!
//! The evidence that an allocator serves the engine is twofold. The node's own probe
//! (`engine_malloc` in `node_start`): which loaded object defines the `malloc` RocksDB's
//! shared library binds (this executable, or the C library). And the
//! allocator's own books: at the stats event where RocksDB's memtables are largest, the
//! bytes the allocator has handed out (jemalloc `allocated`, glibc `in use + mmapped`,
//! mimalloc `commit`) minus the node's Rust live heap must cover most of the memtables
//! when the engine is on that allocator, and must not when it is not (`--engine-malloc
//! system`; not checked for mimalloc, whose committed bytes include what it keeps, so
//! its control rests on the node's lookup).
//!
//! These tests need the system's RocksDB library and libclang (`apt-get install
//! librocksdb-dev libclang-dev`). Without them they say so and pass, unless
//! `SYNCBENCH_REQUIRE_ROCKSDB=1` (CI sets it) makes their absence a failure.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{json, text, SYNCBENCH};
use serde_json::Value;

/// Whether the machine can build the rocksdb nodes; panics if it cannot and CI asked.
fn rocksdb_available() -> bool {
    let dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"];
    let from_env = std::env::var_os("ROCKSDB_LIB_DIR").map(std::path::PathBuf::from);
    let found = from_env.into_iter().chain(dirs.iter().map(Into::into)).any(|d| d.join("librocksdb.so").is_file());
    if !found && std::env::var_os("SYNCBENCH_REQUIRE_ROCKSDB").is_some() {
        panic!("SYNCBENCH_REQUIRE_ROCKSDB is set but no librocksdb.so was found (apt-get install librocksdb-dev libclang-dev)");
    }
    if !found {
        eprintln!("skipped: no system RocksDB library (apt-get install librocksdb-dev libclang-dev)");
    }
    found
}

/// `syncbench ingest --store rocksdb` of the smoke workload into `<dir>/run`, the node
/// binary found or built by the harness itself (cargo kept in the environment).
fn rocksdb_ingest(dir: &Path, alloc: &str, extra: &[&str]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut args = vec!["ingest", "--alloc", alloc, "--store", "rocksdb", "--workload", "smoke"];
    args.extend(["--out", "run", "--data-dir", "data", "--no-ceilings"]);
    args.extend_from_slice(extra);
    Command::new(SYNCBENCH).args(&args).current_dir(dir).env("CARGO", cargo).output().expect("running syncbench")
}

/// The node's stats event with the largest memtables.
fn fullest_stats(run: &Path) -> Value {
    let events = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    events
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "stats" && e["engine"].is_object())
        .max_by_key(|e| e["engine"]["memtables_bytes"].as_u64().unwrap_or(0))
        .expect("a stats event with the engine's memory")
}

/// (bytes the allocator handed out minus the Rust live heap, RocksDB's memtables).
fn outside_rust_vs_memtables(alloc: &str, stats: &Value) -> (f64, f64) {
    let a = &stats["allocator"];
    let handed_out = match alloc {
        "jemalloc" => a["allocated_bytes"].as_f64().unwrap(),
        "mimalloc" => a["commit_bytes"].as_f64().unwrap(),
        _ => a["in_use_bytes"].as_f64().unwrap() + a["mmap_bytes"].as_f64().unwrap(),
    };
    let heap = stats["heap_live_bytes"].as_f64().unwrap();
    (handed_out - heap, stats["engine"]["memtables_bytes"].as_f64().unwrap())
}

fn run_ok(alloc: &str, engine_malloc: &str) -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = rocksdb_ingest(dir.path(), alloc, &["--engine-malloc", engine_malloc]);
    assert!(out.status.success(), "{alloc} --engine-malloc {engine_malloc}:\n{}", text(&out));
    let config = json(&dir.path().join("run/config.json"));
    (dir, config)
}

#[test]
fn the_engines_malloc_is_the_allocator_under_test_and_the_control_keeps_it_on_glibc() {
    if !rocksdb_available() {
        return;
    }
    for (alloc, engine_malloc, served_by) in [
        ("jemalloc", "allocator", "jemalloc"),
        ("mimalloc", "allocator", "mimalloc"),
        ("jemalloc", "system", "glibc"),
        ("mimalloc", "system", "glibc"),
        ("glibc", "allocator", "glibc"),
    ] {
        let (dir, config) = run_ok(alloc, engine_malloc);
        let run = dir.path().join("run");
        assert_eq!(config["node"]["reported"]["engine_malloc"], served_by, "{alloc}/{engine_malloc}");
        assert_eq!(config["node"]["store"], "rocksdb");
        let (outside, memtables) = outside_rust_vs_memtables(alloc, &fullest_stats(&run));
        assert!(memtables > 32.0 * 1048576.0, "{alloc}: the smoke run fills memtables (got {memtables} bytes)");
        if served_by == alloc {
            assert!(
                outside >= 0.6 * memtables,
                "{alloc}/{engine_malloc}: the allocator's books hold {outside} bytes beyond the Rust heap, \
                 expected most of the {memtables} bytes of memtables"
            );
        } else if alloc != "mimalloc" {
            // mimalloc reports what it has committed, not what it handed out: its
            // books cannot show an absence (the node's probe above does, by pointer).
            assert!(
                outside < 0.4 * memtables,
                "{alloc}/{engine_malloc}: the allocator's books hold {outside} bytes beyond the Rust heap, \
                 expected the {memtables} bytes of memtables to be on glibc instead"
            );
        }
        let summary = json(&run.join("summary.json"));
        assert!(summary["engine"]["accounted_peak_bytes"].as_u64().unwrap() > 0, "{summary}");
        let samples = std::fs::read_to_string(run.join("samples.csv")).unwrap();
        assert!(samples.lines().next().unwrap().ends_with("engine_block_cache_pinned_bytes"));
        assert!(samples.lines().any(|l| l.split(',').nth(23).is_some_and(|v| !v.is_empty())), "engine columns filled");
    }
}

#[test]
fn a_rocksdb_store_is_verified_through_the_node() {
    if !rocksdb_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = rocksdb_ingest(dir.path(), "jemalloc", &["--keep-data"]);
    assert!(out.status.success(), "{}", text(&out));
    let summary = json(&dir.path().join("run/summary.json"));
    assert_eq!(summary["verify_sample"]["blocks"], 64, "the run read its sample back: {summary}");
    assert_eq!(summary["verify_sample"]["problems"].as_array().map(Vec::len), Some(0));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let verify = Command::new(SYNCBENCH)
        .args(["verify", "--data", "data", "--workload", "smoke"])
        .current_dir(dir.path())
        .env("CARGO", cargo)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(text(&verify).contains("verified 4000 stored blocks"), "{}", text(&verify));
}

#[test]
fn store_flags_that_cannot_change_a_run_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::syncbench(&["ingest", "--alloc", "jemalloc", "--engine-malloc", "system"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--engine-malloc"), "{}", text(&out));
    let out = common::syncbench(
        &["ingest", "--alloc", "glibc", "--store", "rocksdb", "--engine-malloc", "system"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let node = common::node_bin("jemalloc").display().to_string();
    let out =
        common::syncbench(&["ingest", "--alloc", "jemalloc", "--store", "rocksdb", "--node-bin", &node], dir.path());
    assert_eq!(out.status.code(), Some(2), "a node without RocksDB is refused: {}", text(&out));
    assert!(text(&out).contains("built without it"), "{}", text(&out));
}

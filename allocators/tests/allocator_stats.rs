//! The three node binaries really run different allocators: each reports its own
//! allocator's statistics, and glibc honours MALLOC_ARENA_MAX.

mod common;

use std::collections::BTreeSet;

use common::{small_spec, Node, Session};
use serde_json::Value;
use syncbench_proto::Frame;

/// Ingests a small workload to completion; returns the node's `stats` events.
fn run(alloc: &str, env: &[(&str, &str)]) -> Vec<Value> {
    let spec = small_spec(6_000, 1_000);
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(
        common::bin(alloc),
        &dir.path().join("data"),
        &dir.path().join("s.sock"),
        spec.shard_size,
        &[],
        env,
    );
    assert!(node.wait_ready());
    let (_, done) = Session::start(node.connect(), &spec, &BTreeSet::new(), None, true).join();
    assert!(node.child.wait().unwrap().success());
    assert!(matches!(done, Some(Frame::Done { .. })));
    let start = node.events_named("node_start");
    assert_eq!(start[0]["allocator"], alloc);
    node.events_named("stats")
}

fn max_of(stats: &[Value], key: &str) -> u64 {
    stats.iter().filter_map(|s| s["allocator"][key].as_u64()).max().unwrap_or(0)
}

#[test]
fn jemalloc_reports_jemalloc_stats() {
    let stats = run("jemalloc", &[]);
    assert!(max_of(&stats, "resident_bytes") > 1 << 20);
    assert!(max_of(&stats, "allocated_bytes") > 0);
    assert!(stats.iter().all(|s| s["allocator"].get("arenas").is_none()));
    assert!(stats.iter().any(|s| s["heap_live_bytes"].as_i64().unwrap_or(0) > 0));
}

#[test]
fn mimalloc_reports_mimalloc_stats() {
    let stats = run("mimalloc", &[]);
    assert!(max_of(&stats, "commit_bytes") > 1 << 20);
    assert!(max_of(&stats, "rss_bytes") > 0);
    assert!(stats.iter().all(|s| s["allocator"].get("resident_bytes").is_none()));
}

#[test]
fn glibc_arena_count_follows_malloc_arena_max() {
    let capped = run("glibc", &[("MALLOC_ARENA_MAX", "2")]);
    let free = run("glibc", &[]);
    let (capped_max, free_max) = (max_of(&capped, "arenas"), max_of(&free, "arenas"));
    eprintln!("glibc arenas: MALLOC_ARENA_MAX=2 → {capped_max}, unset → {free_max}");
    assert!((1..=2).contains(&capped_max), "{capped_max} arenas with MALLOC_ARENA_MAX=2");
    assert!(free_max > 2, "only {free_max} arenas without MALLOC_ARENA_MAX");
    assert!(max_of(&free, "in_use_bytes") > 0);
}

//! The compaction backlog is bounded: when compaction is slower than ingest, the node's
//! writer stops taking blocks above `--max-compaction-backlog` sealed shards instead of
//! piling up sealed WALs until the disk is full (the million-block run that filled a
//! 56 GB disk at block 406,846 with ~19 shards waiting for compaction).
//!
//! Compaction is made slow with the node's `--compaction-delay-ms`; shards of 100
//! blocks and batches of 50 mean one batch seals at most two shards, so the backlog
//! the writer finds when it stops is at most the limit plus two.

mod common;

use common::{ingest, json, text};
use serde_json::Value;

const LIMIT: u64 = 2;
/// Shards one batch can seal past the limit before the writer waits.
const OVERSHOOT: u64 = 2;

/// Ingests 2,000 smoke blocks in 20 shards whose compactions each take ≥ 150 ms.
/// Returns the summary, the events and the human summary (stdout).
fn slow_compaction_run(dir: &std::path::Path, backlog: u64) -> (Value, Vec<Value>, String) {
    let backlog = format!("--node-arg=--max-compaction-backlog={backlog}");
    let extra = [
        "--blocks",
        "2000",
        "--shard-size",
        "100",
        "--writer-batch",
        "50",
        "--sample-interval",
        "50ms",
        "--node-arg=--compaction-delay-ms=150",
        &backlog,
    ];
    let o = ingest(dir, "jemalloc", &extra);
    assert!(o.status.success(), "{}", text(&o));
    let events = std::fs::read_to_string(dir.join("run/events.jsonl")).unwrap();
    let events = events.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (json(&dir.join("run/summary.json")), events, String::from_utf8_lossy(&o.stdout).into_owned())
}

fn of_kind<'a>(events: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    events.iter().filter(move |e| e["source"] == "node" && e["event"] == kind)
}

/// The largest number of compactions queued or running in the node's stats events.
fn backlog_seen(events: &[Value]) -> u64 {
    let depth =
        |e: &Value| e["compactions_queued"].as_u64().unwrap_or(0) + e["compactions_running"].as_u64().unwrap_or(0);
    of_kind(events, "stats").map(depth).max().unwrap_or(0)
}

#[test]
fn a_slow_compaction_stalls_ingest_instead_of_filling_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (s, events, human) = slow_compaction_run(dir.path(), LIMIT);
    assert_eq!(s["outcome"], "ok", "{s}");
    assert_eq!(s["blocks"].as_u64(), Some(2000), "every block acknowledged: {s}");
    let stalls: Vec<&Value> = of_kind(&events, "ingest_stall").collect();
    assert!(!stalls.is_empty(), "compaction is 20 × 150 ms behind ingest: the writer must have waited");
    for stall in &stalls {
        assert_eq!(stall["limit"].as_u64(), Some(LIMIT), "{stall}");
        let found = stall["backlog"].as_u64().unwrap();
        assert!((LIMIT + 1..=LIMIT + OVERSHOOT).contains(&found), "the writer stops just past the limit: {stall}");
    }
    assert!(backlog_seen(&events) <= LIMIT + OVERSHOOT, "stats saw {} compactions waiting", backlog_seen(&events));
    assert_eq!(s["ingest_stalls"].as_u64(), Some(stalls.len() as u64), "{s}");
    let waited: f64 = stalls.iter().map(|e| e["waited_ms"].as_f64().unwrap()).sum();
    let total = s["ingest_stall_s_total"].as_f64().unwrap();
    assert!((total - waited / 1e3).abs() < 0.01, "summary {total} s vs events {waited} ms");
    let start = of_kind(&events, "node_start").next().unwrap();
    assert_eq!(start["max_compaction_backlog"].as_u64(), Some(LIMIT), "{start}");
    assert!(human.contains("stalls ") && human.contains("--max-compaction-backlog"), "{human}");
}

/// The control: the same slow compaction with a limit that never binds lets the backlog
/// grow past what the test above allows — the stats can see a backlog, so the bound
/// above is the limit's doing.
#[test]
fn without_the_limit_the_backlog_grows() {
    let dir = tempfile::tempdir().unwrap();
    let (s, events, _) = slow_compaction_run(dir.path(), 1_024);
    assert_eq!(s["outcome"], "ok", "{s}");
    assert_eq!(of_kind(&events, "ingest_stall").count(), 0);
    assert_eq!(s["ingest_stalls"].as_u64(), Some(0), "{s}");
    assert!(backlog_seen(&events) > LIMIT + OVERSHOOT, "stats saw only {} compactions waiting", backlog_seen(&events));
}

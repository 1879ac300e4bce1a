//! Long runs that fit on a small disk: `--duration` ends the sending on time and the
//! node's `--retain-shards` deletes old segments as it goes; the run is still checked
//! block for block (what was sent is what is due; expired blocks are told apart from
//! lost ones by their tombstones).

mod common;

use common::{json, node_bin, syncbench, text};

/// A 4-second soak run (the `soak` workload at its 50 MiB/s) in shards of 100 blocks
/// keeping the newest 3: several compactions, most shards expired.
#[test]
fn a_timed_run_with_retention_is_complete_and_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let node = node_bin("glibc").display().to_string();
    let args = [
        "ingest",
        "--alloc",
        "glibc",
        "--workload",
        "soak",
        "--shard-size",
        "100",
        "--duration",
        "4s",
        "--no-ceilings",
        "--out",
        "run",
        "--data-dir",
        "data",
        "--keep-data",
        "--node-bin",
        &node,
        "--verify-sample",
        "400",
        "--node-arg=--retain-shards=3",
    ];
    let o = syncbench(&args, dir.path());
    assert!(o.status.success(), "{}", text(&o));
    let s = json(&dir.path().join("run/summary.json"));
    assert_eq!(s["outcome"], "ok", "{s}");
    let (blocks, sent) = (s["blocks"].as_u64().unwrap(), s["acks"]["sent"].as_u64().unwrap());
    assert_eq!(blocks, sent, "every block sent is acknowledged: {s}");
    assert_eq!(s["blocks_expected"].as_u64(), Some(sent), "a timed run expects what it sent: {s}");
    // 50 MiB/s for 4 s is ~750 blocks of the 2,000,000: the duration ended it.
    assert!((400..20_000).contains(&blocks), "{blocks} blocks in 4 s at 50 MiB/s");
    let verify = &s["verify_sample"];
    assert_eq!(verify["problems"].as_array().map(Vec::len), Some(0), "{verify}");
    assert!(verify["expired"].as_u64().unwrap_or(0) > 0, "some sampled blocks were in expired shards: {verify}");
    let data = dir.path().join("data");
    let names: Vec<String> =
        std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let tombstones = names.iter().filter(|n| n.starts_with("expired-")).count();
    let shards = names.iter().filter(|n| n.starts_with("shard-")).count();
    assert!(tombstones >= 3, "expired shards leave tombstones: {names:?}");
    // The newest 3 sealed shards, plus at most the shards still open at the end (sealed
    // at shutdown, then expiring others) — never the whole history.
    assert!(shards <= 5, "retention keeps few shards: {names:?}");
    let events = std::fs::read_to_string(dir.path().join("run/events.jsonl")).unwrap();
    assert_eq!(events.matches("\"shard_expired\"").count(), tombstones, "one event per expired shard");
    // `verify` with acknowledged blocks (arrival windows of 128 are shuffled and the
    // run may end inside one: all but the last window's worth are surely sent):
    // expired ones are not "missing".
    let acked: String = (23_283_452..23_283_452 + blocks - 128).map(|n| format!("{n}\n")).collect();
    std::fs::write(dir.path().join("acked.txt"), acked).unwrap();
    let v = syncbench(&["verify", "--data", "data", "--workload", "soak", "--acked", "acked.txt"], dir.path());
    assert!(v.status.success(), "{}", text(&v));
    let out = String::from_utf8_lossy(&v.stdout);
    assert!(out.contains("0 missing") && !out.contains(" 0 expired by retention"), "{out}");
}

/// A node whose `--peers` disagrees with the driver's is refused before anything runs.
#[test]
fn peers_belong_to_the_driver() {
    let dir = tempfile::tempdir().unwrap();
    let o = syncbench(&["ingest", "--workload", "smoke", "--node-arg=--peers=4", "--no-ceilings"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("use syncbench's --peers"), "{}", text(&o));
}

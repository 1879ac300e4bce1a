//! `--heap-profile`: the profiling node takes jemalloc heap profiles at its peak, the
//! harness converts them to pprof + a flame graph and names the sites holding the
//! bytes. The buffered compaction (the incident's pre-fix code) must show up as what
//! holds the peak, its WAL read among the top sites; the streaming compaction must not.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Output;

use common::{json, node_bin_prof, syncbench, text};
use serde_json::Value;

/// `syncbench ingest --heap-profile` of the smoke workload on the profiling node, into
/// `<dir>/run`, with `extra` arguments.
fn profiled_ingest(dir: &Path, extra: &[&str]) -> Output {
    let node = node_bin_prof().display().to_string();
    let mut args = vec!["ingest", "--alloc", "jemalloc", "--heap-profile", "--workload", "smoke", "--node-bin", &node];
    args.extend(["--out", "run", "--data-dir", "data", "--no-ceilings"]);
    args.extend_from_slice(extra);
    syncbench(&args, dir)
}

/// A profiled smoke run with `compaction` and two compactions at once.
fn profiled_run(dir: &Path, compaction: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--compaction", compaction, "--compaction-concurrency", "2"];
    args.extend_from_slice(extra);
    let out = profiled_ingest(dir, &args);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("heap at peak"), "the human summary names the peak's sites:\n{stdout}");
    json(&dir.join("run/summary.json"))
}

fn top_sites(s: &Value) -> Vec<(String, String, f64)> {
    let sites = s["heap_profile"]["peak"]["top_sites"].as_array().expect("top_sites").clone();
    sites
        .iter()
        .map(|x| {
            let via = x["via"].as_str().unwrap_or_default().to_owned();
            (x["function"].as_str().unwrap().to_owned(), via, x["share"].as_f64().unwrap())
        })
        .collect()
}

const BUFFERED: &str = "syncbench_node::compaction::buffered::compact";

#[test]
fn buffered_compaction_holds_the_peak_and_its_wal_read_is_a_top_site() {
    let dir = tempfile::tempdir().unwrap();
    let s = profiled_run(dir.path(), "buffered", &[]);
    let sites = top_sites(&s);
    let buffered: f64 = sites.iter().filter(|(f, via, _)| f == BUFFERED || via == BUFFERED).map(|x| x.2).sum();
    // Three copies of each compacted WAL (read, parsed, segment image) against a few
    // MiB of blocks in flight: the compaction holds most of the peak.
    assert!(buffered >= 0.5, "buffered compaction's share of the peak {buffered}: {sites:?}");
    let wal_read =
        sites.iter().take(3).find(|(f, via, _)| f == "syncbench_node::direct_io::read_file" && via == BUFFERED);
    assert!(wal_read.is_some_and(|w| w.2 >= 0.15), "the WAL read is a top-3 site with ≥ 15 %: {sites:?}");
    check_files(&dir.path().join("run"), &s);
}

#[test]
fn streaming_compaction_holds_no_whole_wal() {
    let dir = tempfile::tempdir().unwrap();
    let s = profiled_run(dir.path(), "streaming", &["--heap-profile-every", "100ms"]);
    let files = s["heap_profile"]["files"].as_array().unwrap();
    let periodic: Vec<&Value> = files.iter().filter(|f| f["kind"] == "periodic").collect();
    assert!(!periodic.is_empty(), "--heap-profile-every 100ms took none: {files:?}");
    for f in &periodic {
        assert!(dir.path().join("run").join(f["pprof"].as_str().unwrap()).is_file(), "{f}");
    }
    let sites = top_sites(&s);
    assert!(!sites.is_empty());
    assert!(sites.iter().all(|(f, via, _)| f != BUFFERED && via != BUFFERED), "{sites:?}");
    assert!(!sites.iter().any(|(f, _, _)| f == "syncbench_node::direct_io::read_file"), "{sites:?}");
}

/// The profile files exist, open, and carry no path of this machine; the raw dumps are gone.
fn check_files(run: &Path, s: &Value) {
    let files = s["heap_profile"]["files"].as_array().unwrap();
    let kinds: Vec<&str> = files.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "peak").count(), 1, "{files:?}");
    assert_eq!(kinds.last(), Some(&"end"), "{files:?}");
    let svg = std::fs::read_to_string(run.join("heap/peak.svg")).unwrap();
    assert!(svg.contains("read_file"), "the flame graph names functions");
    let mut decoded = Vec::new();
    let gz = std::fs::File::open(run.join("heap/peak.pb.gz")).unwrap();
    flate2::read::GzDecoder::new(gz).read_to_end(&mut decoded).unwrap();
    let decoded = String::from_utf8_lossy(&decoded);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().display().to_string();
    assert!(decoded.contains("syncbench_node::direct_io::read_file"));
    assert!(!decoded.contains(&root), "{root} in the profile");
    assert!(!decoded.contains("/.cargo/registry"), "cargo's registry path in the profile");
    let leftovers: Vec<_> = std::fs::read_dir(run.join("heap"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "heap" || x == "tmp"))
        .collect();
    assert!(leftovers.is_empty(), "raw profiles left: {leftovers:?}");
}

/// Regression: the peak profile was announced only when the session ended cleanly, so
/// a node that died (the case profiling is for) left no converted profile and its raw
/// dump, naming this machine's paths, in the run directory.
#[test]
fn a_node_that_dies_still_leaves_its_peak_profile() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--compaction", "buffered", "--node-arg=--fault=abort", "--node-arg=--fault-at-block=3500"];
    let out = profiled_ingest(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let s = json(&dir.path().join("run/summary.json"));
    assert_eq!(s["outcome"], "crashed", "{s}");
    assert!(!top_sites(&s).is_empty(), "the peak before the death is converted: {}", s["heap_profile"]);
    assert!(dir.path().join("run/heap/peak.pb.gz").is_file());
    let raw: Vec<_> = std::fs::read_dir(dir.path().join("run/heap"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "heap" || x == "tmp"))
        .collect();
    assert!(raw.is_empty(), "raw dumps left: {raw:?}");
}

/// Regression: the converter runs inside the run's heap/ directory, so a relative
/// `--node-bin` (as `ab --head-node target/profiling/…` passes it) was not found and
/// no profile was converted.
#[test]
fn a_relative_node_bin_still_converts() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(node_bin_prof(), dir.path().join("prof-node")).unwrap();
    let args = [
        "ingest",
        "--alloc",
        "jemalloc",
        "--heap-profile",
        "--workload",
        "smoke",
        "--blocks",
        "1000",
        "--node-bin",
        "./prof-node",
        "--out",
        "run",
        "--data-dir",
        "data",
        "--no-ceilings",
    ];
    let out = syncbench(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let s = json(&dir.path().join("run/summary.json"));
    assert!(s["heap_profile"]["errors"].is_null(), "{}", s["heap_profile"]);
    assert!(!top_sites(&s).is_empty());
}

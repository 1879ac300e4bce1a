//! `syncbench tune` end to end: every setting of each allocator's default space is
//! accepted by the real allocator (a setting it would ignore is refused before any
//! run, so a space that does not apply cannot pass), and a tuning suite leaves its
//! trade-off files, which `report` re-derives from the runs.

mod common;

use std::path::Path;
use std::process::Output;

use common::{json, text};

fn tune(dir: &Path, alloc: &str, repeat: &str, out: &str) -> Output {
    let args = ["tune", "--alloc", alloc, "--workload", "smoke", "--blocks", "300", "--duration", "full"];
    common::syncbench(&[&args[..], &["--repeat", repeat, "--no-ceilings", "--out", out]].concat(), dir)
}

#[test]
fn a_tuning_suite_writes_the_trade_off_and_report_rederives_it() {
    common::node_bin("jemalloc");
    let dir = tempfile::tempdir().unwrap();
    let out = tune(dir.path(), "jemalloc", "3", "t");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = dir.path().join("t");
    assert_eq!(json(&t.join("suite.json"))["definition"]["kind"], "tune");
    let tuning = json(&t.join("tuning.json"));
    let settings = tuning["settings"].as_array().unwrap();
    assert_eq!(settings.len(), 8, "{tuning}");
    assert_eq!(settings[0]["setting"], "default");
    assert_eq!(settings[0]["cell"], tuning["baseline"]);
    assert!(settings.iter().all(|s| s["n"] == 3), "{tuning}");
    assert!(settings.iter().any(|s| s["pareto_optimal"] == true), "{tuning}");
    assert!(["setting", "keep_default"].contains(&tuning["recommendation"]["kind"].as_str().unwrap()));
    assert!(text(&out).contains("the trade-off in"), "{}", text(&out));
    // A run's node got its cell's setting.
    let run = t.join("runs/jemalloc_streaming_cc1_conf-background_thread-true-retain-false-r1/config.json");
    assert_eq!(json(&run)["node"]["env"]["_RJEM_MALLOC_CONF"], "background_thread:true,retain:false");

    let md = std::fs::read_to_string(t.join("tuning.md")).unwrap();
    std::fs::remove_file(t.join("tuning.md")).unwrap();
    std::fs::remove_file(t.join("charts/pareto.svg")).unwrap();
    let again = common::syncbench(&["report", "t"], dir.path());
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(std::fs::read_to_string(t.join("tuning.md")).unwrap(), md, "re-derived byte for byte");
    assert!(t.join("charts/pareto.svg").is_file());
    // The results index points at the trade-off, not at one metric's chart.
    let index = common::syncbench(&["report", "--index", "."], dir.path());
    assert!(index.status.success(), "{}", text(&index));
    let index = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    assert!(index.contains("[tuning.md](t/tuning.md) | [Pareto front](t/charts/pareto.svg) |"), "{index}");
}

#[test]
fn the_glibc_and_mimalloc_spaces_apply_to_their_allocators() {
    let dir = tempfile::tempdir().unwrap();
    for (alloc, cells) in [("glibc", 8), ("mimalloc", 7)] {
        common::node_bin(alloc);
        let out = tune(dir.path(), alloc, "1", alloc);
        assert_eq!(out.status.code(), Some(0), "{alloc}: {}", text(&out));
        let tuning = json(&dir.path().join(alloc).join("tuning.json"));
        assert_eq!(tuning["settings"].as_array().unwrap().len(), cells, "{tuning}");
        assert_eq!(tuning["recommendation"]["kind"], "keep_default", "one round decides nothing: {tuning}");
    }
}

#[test]
fn a_setting_the_allocator_would_ignore_is_refused_before_any_run() {
    common::node_bin("mimalloc");
    let dir = tempfile::tempdir().unwrap();
    let args = ["tune", "--alloc", "mimalloc", "--setting", "purge_delay=0", "--setting", "no_such_option=1"];
    let out =
        common::syncbench(&[&args[..], &["--workload", "smoke", "--out", "t", "--no-ceilings"]].concat(), dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no_such_option"), "{}", text(&out));
    assert!(!dir.path().join("t").exists());
}

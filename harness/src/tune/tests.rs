use super::*;
use crate::matrix::comparison::{compare, RunRecord};
use crate::results::summary::Summary;
use crate::settings::Allocator;

const MIB: f64 = 1_048_576.0;

fn cell(name: &str, conf: Option<&str>) -> Cell {
    Cell {
        name: name.into(),
        alloc: Allocator::Jemalloc,
        arena_max: ArenaMax::Default,
        alloc_conf: conf.map(str::to_owned),
        compaction: syncbench_node::CompactionMode::Streaming,
        compaction_concurrency: 1,
        store: syncbench_node::config::StoreKind::Native,
        engine_malloc: crate::settings::EngineMalloc::Allocator,
        shard_size: None,
        node_bin: None,
        unprofiled: false,
        peers: None,
        worker_threads: None,
        duration_s: None,
        inject_retained_mib: None,
    }
}

/// A run with RSS p50 `rss_mib` and node CPU `cpu_s`, at a steady 50 MiB/s.
fn run(cell: &str, round: u32, rss_mib: f64, cpu_s: f64) -> RunRecord {
    RunRecord {
        cell: cell.into(),
        round: Some(round),
        summary: Summary::for_test(serde_json::json!({"rss_p50_bytes": (rss_mib * MIB) as u64,
            "throughput_mib_per_s": 50.0, "cpu_user_s": cpu_s, "cpu_sys_s": 0.0})),
        floors: Vec::new(),
        beyond_engine_p50_bytes: None,
    }
}

/// `rounds` rounds of four settings: `a` saves 30 % at no cost, `b` saves 40 % for
/// 50 % more CPU, `c` changes nothing.
fn suite(rounds: u32) -> (Vec<Cell>, Comparison) {
    let cells = vec![cell("default", None), cell("a", Some("x:1")), cell("b", Some("y:1")), cell("c", Some("z:1"))];
    let mut runs = Vec::new();
    for round in 1..=rounds {
        let j = 1.0 + 0.02 * f64::from(round % 3) - 0.02;
        // Every ratio to the default varies from round to round (by j or j²).
        runs.push(run("default", round, 100.0 * j, 10.0 * j));
        runs.push(run("a", round, 70.0 * j * j, 10.0 / j));
        runs.push(run("b", round, 60.0 / j, 15.0 * j * j));
        runs.push(run("c", round, 100.0 / j, 10.0));
    }
    let names: Vec<String> = cells.iter().map(|c| c.name.clone()).collect();
    let cmp = compare(&names, &runs, "default", 5.0, true);
    (cells, cmp)
}

#[test]
fn the_front_keeps_every_setting_nothing_beats_and_the_recommendation_its_free_saving() {
    let (cells, cmp) = suite(5);
    let t = analyse(&cmp, &cells);
    let optimal: Vec<&str> = t.settings.iter().filter(|r| r.pareto_optimal).map(|r| r.cell.as_str()).collect();
    assert_eq!(optimal, ["a", "b"], "the default and c are beaten by a; b has the lowest RSS");
    match &t.recommendation {
        Recommendation::Setting { cell, setting, .. } => assert_eq!((cell.as_str(), setting.as_str()), ("a", "x:1")),
        other => panic!("b costs CPU, a is free: {other:?}"),
    }
    let md = report::markdown(&t, "Tuning jemalloc — test");
    assert!(md.contains("**Recommendation: `x:1`**") && md.contains("RSS p50 ×0.70"), "{md}");
    assert!(md.contains("×1.5") && md.contains("**worse**"), "b's cost is shown: {md}");
}

#[test]
fn without_enough_rounds_the_default_is_kept_and_says_why() {
    let (cells, cmp) = suite(2);
    let t = analyse(&cmp, &cells);
    match &t.recommendation {
        Recommendation::KeepDefault { why } => assert!(why.contains("too few runs"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_saving_that_costs_is_not_recommended() {
    let (cells, cmp) = suite(5);
    let only_b: Vec<Cell> = cells.into_iter().filter(|c| c.name == "default" || c.name == "b").collect();
    let t = analyse(&cmp, &only_b);
    match &t.recommendation {
        Recommendation::KeepDefault { why } => assert!(why.contains("y:1") && why.contains("worse"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn settings_read_as_what_the_node_was_given() {
    let mut c = cell("g", Some("glibc.malloc.mmap_threshold=131072"));
    c.alloc = Allocator::Glibc;
    c.arena_max = ArenaMax::Max(2);
    assert_eq!(setting_label(&c), "MALLOC_ARENA_MAX=2 + glibc.malloc.mmap_threshold=131072");
    let why = why(&c).unwrap();
    assert!(why.starts_with("MALLOC_ARENA_MAX=2") && why.contains("64-thread"), "{why}");
    assert_eq!(setting_label(&cell("d", None)), "default");
}

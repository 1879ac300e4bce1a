//! `syncbench matrix` end to end: interleaved runs, suite files, and a cell whose node
//! is killed mid-run does not stop the others.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{json, text, SYNCBENCH};

/// Pids of running processes whose command line contains `needle`.
fn pids_with(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            // A node run (it has a socket), not the `identify` check before the suite.
            let cmd = String::from_utf8_lossy(&cmd);
            (cmd.contains(needle) && cmd.contains("--socket")).then_some(pid)
        })
        .collect()
}

#[test]
fn a_killed_cell_is_recorded_and_the_matrix_finishes_the_others() {
    common::node_bin("glibc");
    common::node_bin("mimalloc");
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(SYNCBENCH)
        .args(["matrix", "--alloc", "glibc,mimalloc", "--arena-max", "default,2", "--repeat", "2"])
        .args(["--workload", "smoke", "--out", "suite", "--no-ceilings"])
        .current_dir(dir.path())
        .env_remove("CARGO")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the first mimalloc node this matrix starts, a moment after it appears.
    let deadline = Instant::now() + Duration::from_secs(120);
    let victim = loop {
        // Only this test's nodes: they inherit the matrix's working directory.
        let found = pids_with("node-mimalloc")
            .into_iter()
            .find(|&p| std::fs::read_link(format!("/proc/{p}/cwd")).is_ok_and(|c| c == dir.path()));
        if let Some(p) = found {
            std::thread::sleep(Duration::from_millis(50));
            // SAFETY: kill(2) on a pid that was just found running.
            unsafe { libc::kill(p, libc::SIGKILL) };
            break p;
        }
        assert!(Instant::now() < deadline, "no mimalloc node appeared");
        std::thread::sleep(Duration::from_millis(1));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("skipping mimalloc_arena2_streaming_cc1"), "{stderr}");
    assert!(stderr.contains("failed runs: mimalloc_streaming_cc1-r"), "victim {victim}: {stderr}");
    let suite = dir.path().join("suite");
    let s = json(&suite.join("suite.json"));
    let order = s["order"].as_array().unwrap();
    assert_eq!(order.len(), 6, "3 cells × 2 repetitions all ran");
    assert_eq!(order.iter().filter(|r| r["outcome"] == "crashed").count(), 1, "{s}");
    assert!(order.windows(2).all(|w| w[0]["cell"] != w[1]["cell"]), "a cell ran twice in a row");
    let crashed = order.iter().find(|r| r["outcome"] == "crashed").unwrap();
    assert!(suite.join(crashed["run_dir"].as_str().unwrap()).join("crash/classification.json").is_file());
    let md = std::fs::read_to_string(suite.join("comparison.md")).unwrap();
    assert!(md.contains("| glibc_arena2_streaming_cc1 | 2 |"), "{md}");
    assert!(md.contains("| mimalloc_streaming_cc1 | 1 |"), "the killed run is excluded: {md}");
    let c = json(&suite.join("comparison.json"));
    assert_eq!(c["baseline_cell"], "glibc_streaming_cc1");
}

/// Every file of a directory tree: relative path → bytes.
fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn report_reproduces_a_suite_byte_for_byte_and_indexes_it() {
    common::node_bin("glibc");
    common::node_bin("jemalloc");
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "matrix",
        "--alloc",
        "glibc,jemalloc",
        "--repeat",
        "2",
        "--workload",
        "smoke",
        "--blocks",
        "1000",
        "--out",
        "results/suite",
    ];
    let out = common::syncbench(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let suite = dir.path().join("results/suite");
    for f in [
        "suite.json",
        "comparison.json",
        "comparison.md",
        "charts/rss_overlay.svg",
        "charts/rss_peak.svg",
        "charts/throughput.svg",
        "charts/latency.svg",
        "charts/heap_vs_rss.svg",
    ] {
        assert!(suite.join(f).is_file(), "missing {f}");
    }
    let before = snapshot(&suite);
    assert!(before.len() > 40, "{} files", before.len());
    // Remove everything derived, then re-derive it.
    std::fs::remove_dir_all(suite.join("charts")).unwrap();
    std::fs::remove_file(suite.join("comparison.md")).unwrap();
    for run in std::fs::read_dir(suite.join("runs")).unwrap().flatten() {
        std::fs::remove_dir_all(run.path().join("charts")).unwrap();
    }
    let out = common::syncbench(&["report", "results/suite", "--index", "results"], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let after = snapshot(&suite);
    let differing: Vec<&String> = before.keys().filter(|k| before.get(*k) != after.get(*k)).collect();
    assert!(differing.is_empty(), "not reproduced byte for byte: {differing:?}");
    let index = std::fs::read_to_string(dir.path().join("results/README.md")).unwrap();
    assert!(index.contains("| [suite](suite/) | smoke | 2 | 4 of 4 |"), "{index}");
    // Merging directories (as from several hosts) gives one comparison over all runs.
    let merged = common::syncbench(&["report", "results/suite", "--out", "merged"], dir.path());
    assert!(merged.status.success(), "{}", text(&merged));
    let md = std::fs::read_to_string(dir.path().join("merged/comparison.md")).unwrap();
    assert!(md.contains("| glibc_streaming_cc1 | 2 |") && md.contains("| jemalloc_streaming_cc1 | 2 |"), "{md}");
    assert!(dir.path().join("merged/charts/rss_overlay.svg").is_file());
}

/// Regression: moving the run rules into one `IngestOptions::validate` made `--no-skip`
/// refuse the very cells it exists to keep (`--arena-max 2` for jemalloc, a control
/// that must change nothing). The control runs, with `MALLOC_ARENA_MAX` set.
#[test]
fn no_skip_keeps_an_arena_control_for_an_allocator_that_ignores_it() {
    common::node_bin("jemalloc");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(SYNCBENCH)
        .args(["matrix", "--alloc", "jemalloc", "--arena-max", "default,2", "--no-skip", "--repeat", "1"])
        .args(["--workload", "smoke", "--blocks", "300", "--out", "suite", "--no-ceilings"])
        .current_dir(dir.path())
        .env_remove("CARGO")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let control = dir.path().join("suite/runs/jemalloc_arena2_streaming_cc1-r1");
    let config = json(&control.join("config.json"));
    assert_eq!(config["node"]["env"]["MALLOC_ARENA_MAX"], "2", "{config}");
    assert_eq!(json(&control.join("summary.json"))["outcome"], "ok");
}

/// `matrix --alloc-conf` sweeps an allocator's settings as cells: each run's node gets
/// its cell's setting (recorded in config.json and announced by the node itself), and
/// a setting the allocator would silently ignore is refused before the suite starts.
#[test]
fn alloc_conf_sweeps_settings_and_refuses_one_the_allocator_would_ignore() {
    common::node_bin("glibc");
    let dir = tempfile::tempdir().unwrap();
    let matrix = |confs: &[&str], out: &str| {
        let mut cmd = Command::new(SYNCBENCH);
        cmd.args(["matrix", "--alloc", "glibc", "--repeat", "1", "--workload", "smoke", "--blocks", "300"]);
        cmd.args(["--out", out, "--no-ceilings"]).current_dir(dir.path()).env_remove("CARGO");
        for c in confs {
            cmd.args(["--alloc-conf", c]);
        }
        cmd.output().unwrap()
    };
    let bad = matrix(&["glibc:glibc.malloc.trim_threshold=131072", "glibc:glibc.malloc.no_such_tunable=1"], "bad");
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("no tunable `glibc.malloc.no_such_tunable`"), "{}", text(&bad));
    assert!(!dir.path().join("bad").exists(), "refused before the suite directory exists");

    let out = matrix(&["glibc:default", "glibc:glibc.malloc.trim_threshold=131072"], "suite");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let tuned = json(&dir.path().join("suite/runs/glibc_streaming_cc1_conf-trim_threshold-131072-r1/config.json"));
    let setting = "glibc.malloc.trim_threshold=131072";
    assert_eq!(tuned["node"]["alloc_conf"], setting, "{tuned}");
    assert_eq!(tuned["node"]["env"]["GLIBC_TUNABLES"], setting, "{tuned}");
    assert_eq!(tuned["node"]["reported"]["allocator_env"]["GLIBC_TUNABLES"], setting, "the node saw it: {tuned}");
    let plain = json(&dir.path().join("suite/runs/glibc_streaming_cc1-r1/config.json"));
    assert!(plain["node"]["env"].get("GLIBC_TUNABLES").is_none(), "{plain}");
}

//! `syncbench ingest` end to end with the real node: the contract files of a run.

mod common;

use common::{ingest, ingest_with_ceilings, json, text};

const CONTRACT_FILES: &[&str] = &[
    "config.json",
    "samples.csv",
    "events.jsonl",
    "summary.json",
    "latency/ingest.hgrm",
    "latency/flush.hgrm",
    "latency/wal_append.hgrm",
    "latency/compaction.hgrm",
    "latency/histograms.hlog",
    "charts/rss.svg",
    "charts/heap_vs_rss.svg",
    "charts/throughput.svg",
    "charts/latency.svg",
];

#[test]
fn smoke_run_writes_every_contract_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = ingest_with_ceilings(dir.path(), "jemalloc", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let run = dir.path().join("run");
    for f in CONTRACT_FILES {
        let p = run.join(f);
        assert!(p.is_file() && std::fs::metadata(&p).unwrap().len() > 0, "missing or empty {f}");
    }
    assert!(!run.join("crash").exists());
    assert!(!dir.path().join("data").exists(), "node data must be deleted after the run");
    let s = json(&run.join("summary.json"));
    assert_eq!(s["outcome"], "ok");
    assert_eq!(s["blocks"], 4000);
    assert_eq!(s["compactions"], 8, "smoke spans shards 2..=9");
    let (peak, sampled) = (s["rss_peak_bytes"].as_f64().unwrap(), s["rss_peak_sampled_bytes"].as_f64().unwrap());
    assert!(sampled <= peak && sampled > 0.0, "sampled {sampled} vs VmHWM {peak}");
    assert!(s["heap_live_peak_bytes"].as_i64().unwrap() > 0);
    assert!(s["latency_us"]["ingest"]["p99"].as_u64().unwrap() > 0);
    let header = std::fs::read_to_string(run.join("samples.csv")).unwrap();
    assert!(header.starts_with(
        "t_ms,rss_bytes,rss_anon_bytes,rss_file_bytes,hwm_bytes,swap_bytes,cpu_user_ms,cpu_sys_ms,heap_live_bytes"
    ));
    let c = json(&run.join("config.json"));
    assert_eq!(c["node"]["alloc"], "jemalloc");
    assert_eq!(c["workload"]["name"], "smoke");
    assert!(c["environment"]["cores"].as_u64().unwrap() > 0);
    // Regression: the recorded sha was `git rev-parse` of the checkout at run time, not
    // the binaries' commit. Both are now compile-time; built together, they agree.
    let (harness, node) = (&c["environment"]["git_sha"], &c["node"]["reported"]["build"]["git_sha"]);
    assert_eq!(harness, node, "{c}");
    let sha = harness.as_str().unwrap();
    assert!(sha == "unknown" || (sha.len() == 40 && sha.chars().all(|ch| ch.is_ascii_hexdigit())), "{sha}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("outcome      ok") && stdout.contains("peak RSS"), "{stdout}");
    check_ceilings(&s, &c);
    assert!(stdout.contains("efficiency   "), "{stdout}");
    one_time_axis_with_ceilings_on(&run);
}

/// Regression: with ceilings on (the default) events counted from the harness's start
/// and samples from the node's spawn, so compaction bands were drawn seconds late and
/// no sample row got the node's live heap. Every file now counts from the spawn.
fn one_time_axis_with_ceilings_on(run: &std::path::Path) {
    let c = json(&run.join("config.json"));
    let zero = c["time_zero"]["unix_ms"].as_u64().expect("config.json time_zero");
    let events = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = events.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let first = |name: &str| events.iter().find(|e| e["event"] == name).unwrap_or_else(|| panic!("no {name}"));
    assert!(first("run_start")["t_ms"].as_u64().unwrap() < 50, "run_start is at time zero");
    let stats_t = first("stats")["t_ms"].as_u64().unwrap();
    let compaction_t = first("compaction_start")["t_ms"].as_u64().unwrap();
    let csv = std::fs::read_to_string(run.join("samples.csv")).unwrap();
    let rows: Vec<Vec<u64>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse::<f64>().map_or(u64::MAX, |f| f as u64)).collect())
        .collect();
    let (t, heap, io_read) = (0, 8, 13);
    let after_stats: Vec<&Vec<u64>> = rows.iter().filter(|r| r[t] >= stats_t).collect();
    assert!(!after_stats.is_empty());
    assert!(after_stats.iter().all(|r| r[heap] != u64::MAX), "a row after the first stats tick lacks heap_live_bytes");
    // Streaming compaction reads the WAL back with O_DIRECT: the first real rise of
    // io_read_bytes is the first compaction, within two sample intervals of its event
    // (the compaction starts a blocking-pool thread and shares two cores with the
    // runtime's workers and this binary's other tests; a clock offset would be seconds).
    let rise = rows.windows(2).find(|w| w[1][io_read] > w[0][io_read] + (1 << 20)).map(|w| w[1][t]).unwrap();
    assert!(
        rise >= compaction_t && rise <= compaction_t + 200 + 20,
        "first read rise at {rise} ms, first compaction_start at {compaction_t} ms"
    );
    let hlog = std::fs::read_to_string(run.join("latency/histograms.hlog")).unwrap();
    let start = hlog.lines().find_map(|l| l.strip_prefix("#[StartTime: ")).unwrap();
    let start_ms = (start.split_whitespace().next().unwrap().parse::<f64>().unwrap() * 1000.0).round() as u64;
    assert!(start_ms.abs_diff(zero) <= 1, "hlog StartTime {start_ms} vs time zero {zero}");
}

/// Both disk probes (writes, then reads, then the mix) and the CPU probe ran, and
/// efficiency is achieved ÷ the lower of (the disk's rate for the node's writes and
/// reads per ingested byte — the mix's where it stands for the node, else the model —
/// and CPU); `efficiency_model` is the same against the model.
fn check_ceilings(s: &serde_json::Value, c: &serde_json::Value) {
    let ceilings = &c["ceilings"];
    assert_eq!(ceilings["errors"], serde_json::json!([]), "{ceilings}");
    for probe in ["disk_before", "disk_after"] {
        assert!(ceilings[probe]["mib_per_s"].as_f64().unwrap() > 0.0, "{ceilings}");
        assert_eq!(ceilings[probe]["streams"], 2, "WAL + one compaction stream");
        assert!(ceilings[probe]["read_mib_per_s"].as_f64().unwrap() > 0.0, "the probe reads back: {ceilings}");
        let mix = &ceilings[probe]["mixed"];
        let (w, r) = (mix["write_bytes"].as_u64().unwrap(), mix["read_bytes"].as_u64().unwrap());
        assert!(w > 0 && r > 0 && r <= w / 2, "the mix writes, and reads at most half as much: {ceilings}");
    }
    assert_eq!(ceilings["cpu"]["blocks"], 2_000, "the CPU probe ingests max(blocks / 8, 2,000) blocks");
    let attempts: Vec<f64> =
        ceilings["cpu_attempts"].as_array().unwrap().iter().map(|a| a["mib_per_s"].as_f64().unwrap()).collect();
    assert_eq!(attempts.len(), 2, "two CPU probes: {ceilings}");
    let fastest = attempts.iter().copied().fold(f64::MIN, f64::max);
    assert_eq!(ceilings["cpu"]["mib_per_s"].as_f64(), Some(fastest), "the ceiling is the fastest probe");
    let f = |k: &str| s[k].as_f64().unwrap_or_else(|| panic!("summary.json: {k} missing: {s}"));
    let disk = (f("disk_ceiling_before_mib_per_s") + f("disk_ceiling_after_mib_per_s")) / 2.0;
    assert!((f("disk_ceiling_mib_per_s") - disk).abs() < 0.11);
    assert!(f("write_amplification") > 1.0, "WAL and segments are both written");
    if s["direct_io"] == true {
        // Direct reads reach the device: compaction's read-back of the WALs is counted.
        assert!(s["bytes_read"].as_u64().unwrap() > 0 && f("read_amplification") > 0.5, "{s}");
    }
    let reads = s["read_amplification"].as_f64().map_or(0.0, |ra| ra / f("disk_read_ceiling_mib_per_s"));
    let model = 1.0 / (f("write_amplification") / f("disk_ceiling_mib_per_s") + reads);
    assert!((f("disk_limit_model_mib_per_s") - model).abs() < 0.2, "{s}");
    // The mix stands for the node when its reads-to-writes ratio is near ½ (a smoke
    // run's compaction reads each byte once and writes it twice).
    let disk = s["disk_limit_mixed_mib_per_s"].as_f64().unwrap_or(model);
    let cpu = f("cpu_ceiling_mib_per_s");
    assert!((f("efficiency_bound_mib_per_s") - disk.min(cpu)).abs() < 0.2, "{s}");
    assert!((f("efficiency") - f("throughput_mib_per_s") / f("efficiency_bound_mib_per_s")).abs() < 0.01, "{s}");
    assert!((f("efficiency_model") - f("throughput_mib_per_s") / model.min(cpu)).abs() < 0.01, "{s}");
}

#[test]
fn secrets_in_the_environment_reach_no_result_file() {
    let dir = tempfile::tempdir().unwrap();
    let node = common::node_bin("glibc").display().to_string();
    let out = std::process::Command::new(common::SYNCBENCH)
        .args([
            "ingest",
            "--alloc",
            "glibc",
            "--workload",
            "smoke",
            "--blocks",
            "500",
            "--out",
            "run",
            "--data-dir",
            "data",
            "--node-bin",
            &node,
        ])
        .current_dir(dir.path())
        .env_remove("CARGO")
        .env("AWS_SECRET_ACCESS_KEY", "canary-aws-7f3a")
        .env("GITHUB_TOKEN", "canary-gh-19bd")
        .env("HARMLESS_LOOKING_SETTING", "canary-plain-55c1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    for entry in walk(&dir.path().join("run")) {
        let bytes = std::fs::read(&entry).unwrap();
        let body = String::from_utf8_lossy(&bytes);
        for canary in ["canary-aws-7f3a", "canary-gh-19bd", "canary-plain-55c1"] {
            assert!(!body.contains(canary), "{canary} leaked into {}", entry.display());
        }
        assert!(!body.contains(&*dir.path().to_string_lossy()), "absolute path leaked into {}", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn verify_reads_back_a_kept_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = ingest(dir.path(), "mimalloc", &["--blocks", "1200", "--keep-data"]);
    assert!(out.status.success(), "{}", text(&out));
    let ok = common::syncbench(&["verify", "--data", "data", "--workload", "smoke", "--blocks", "1200"], dir.path());
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("verified 1200 stored blocks"), "{}", text(&ok));
    // A different seed means different content: every block must be reported.
    let bad = common::syncbench(
        &["verify", "--data", "data", "--workload", "smoke", "--blocks", "1200", "--seed", "99"],
        dir.path(),
    );
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("differs from the generator"));
}

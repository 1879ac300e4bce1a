//! Hostile conditions, third round: what an adversarial try-out of the second round's
//! fixes found (planted markers, crafted results directories, names that are paths,
//! symlinks into secrets, broken PNGs, signals at the last step). Each test is named
//! after its root cause and runs the real binaries.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{executable, json, node_bin, smoke, syncbench, text, wait_bounded, SYNCBENCH};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ingest_in(dir: &Path, extra: &[&str]) -> std::process::Output {
    let a: Vec<String> = smoke("400").into_iter().chain(extra.iter().map(|s| s.to_string())).collect();
    syncbench(&a.iter().map(String::as_str).collect::<Vec<_>>(), dir)
}

/// One ok run in `dir/run`.
fn a_run(dir: &Path) -> std::path::PathBuf {
    let o = ingest_in(dir, &["--no-ceilings", "--out", "run"]);
    assert!(o.status.success(), "{}", text(&o));
    dir.join("run")
}

/// D1: a `.syncbench-running` file planted beside `--out` made the next run delete the
/// directory it named (any path) and the directory it sat in.
#[test]
fn a_planted_run_marker_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    fs::create_dir_all(p.join("victim")).unwrap();
    fs::write(p.join("victim/f"), "precious").unwrap();
    fs::create_dir_all(p.join("planted")).unwrap();
    let marker = format!(
        r#"{{"pid": 2000000000, "data_dir": "{}", "socket_dir": "{}"}}"#,
        p.join("victim").display(),
        p.join("victim").display()
    );
    fs::write(p.join("planted/.syncbench-running"), marker).unwrap();
    fs::create_dir_all(p.join("notes")).unwrap();
    fs::write(p.join("notes/todo.txt"), "mine").unwrap();
    fs::write(p.join("notes/.syncbench-running"), "").unwrap();
    let o = ingest_in(p, &["--no-ceilings", "--out", "newrun"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(fs::read_to_string(p.join("victim/f")).unwrap(), "precious");
    assert!(p.join("notes/todo.txt").is_file(), "a directory with anything else in it is left");
}

/// D2: a workload `name` with `/` and `..` put a matrix's whole suite outside
/// `results/` (and the working directory).
#[test]
fn a_workload_name_cannot_be_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    let spec = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../workloads/specs/smoke.toml")).unwrap();
    fs::write(work.join("s.toml"), spec.replace("name = \"smoke\"", "name = \"x/../../ESCAPED\"")).unwrap();
    node_bin("jemalloc");
    let o = syncbench(
        &["matrix", "--alloc", "jemalloc", "--repeat", "1", "--workload", "s.toml", "--blocks", "400", "--no-ceilings"],
        &work,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("s.toml:") && stderr(&o).contains("field `name`"), "{}", text(&o));
    let outside: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(outside, ["work"], "nothing written beside the working directory");
}

/// D3: `RUN/latency/ingest.hgrm` as a symlink to a secret printed its first line.
#[test]
fn a_symlink_in_a_run_directory_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let run = a_run(dir.path());
    fs::write(dir.path().join("secret"), "root:$6$saltsalt$hashhashhash:19000:0:99999:7:::\n").unwrap();
    fs::remove_file(run.join("latency/ingest.hgrm")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret"), run.join("latency/ingest.hgrm")).unwrap();
    let o = syncbench(&["report", "run"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!stderr(&o).contains("saltsalt") && stderr(&o).contains("symbolic link"), "{}", text(&o));
}

/// D4: errors repeated 100 KB of a file's value and its escape codes.
#[test]
fn an_error_is_printable_and_short() {
    let dir = tempfile::tempdir().unwrap();
    let run = a_run(dir.path());
    let s = fs::read_to_string(run.join("summary.json")).unwrap();
    let bad = s.replacen("\"outcome\": \"ok\"", &format!("\"outcome\": \"x\\u001b[2J{}\"", "A".repeat(100_000)), 1);
    assert_ne!(bad, s);
    fs::write(run.join("summary.json"), bad).unwrap();
    let o = syncbench(&["report", "run"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!stderr(&o).contains('\u{1b}') && stderr(&o).len() < 2_000, "{} bytes", stderr(&o).len());
}

/// D5: every PNG failed ("Unsupported … format: Unknown"): `ingest --png` exited 1
/// with the run incomplete, `matrix --png` recorded harness errors.
#[test]
fn png_charts_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let o = ingest_in(dir.path(), &["--no-ceilings", "--out", "run", "--png"]);
    assert!(o.status.success(), "{}", text(&o));
    let png = fs::read(dir.path().join("run/charts/rss.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(json(&dir.path().join("run/summary.json"))["incomplete"].is_null());
}

/// D6: one run listed three ways in suite.json counted as three runs (a baseline "from
/// 3 runs", a verdict from n = 3 copies).
#[test]
fn a_run_counts_once_however_it_is_named() {
    let dir = tempfile::tempdir().unwrap();
    node_bin("jemalloc");
    let o = syncbench(
        &[
            "matrix",
            "--alloc",
            "jemalloc",
            "--repeat",
            "1",
            "--workload",
            "smoke",
            "--blocks",
            "400",
            "--no-ceilings",
            "--out",
            "s",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let path = dir.path().join("s/suite.json");
    let mut s = json(&path);
    let entry = s["order"][0].clone();
    let run_dir = entry["run_dir"].as_str().unwrap().to_owned();
    let copies: Vec<serde_json::Value> = [run_dir.clone(), format!("./{run_dir}"), run_dir.replace('/', "//")]
        .into_iter()
        .map(|d| {
            let mut e = entry.clone();
            e["run_dir"] = serde_json::Value::String(d);
            e
        })
        .collect();
    s["order"] = serde_json::Value::Array(copies);
    fs::write(&path, serde_json::to_string(&s).unwrap()).unwrap();
    let o = syncbench(&["gate", "--candidate", "s", "--write-baseline", "b.json"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("listed twice"), "{}", text(&o));
    let r = dir.path().join("s").join(&run_dir).display().to_string();
    let o = syncbench(&["report", &r, &format!("{r}/"), &format!("{r}/."), "--out", "m"], dir.path());
    assert!(o.status.success(), "{}", text(&o));
    assert!(json(&dir.path().join("m/comparison.json"))["metrics"][0]["cells"][0]["n"] == 1);
}

/// D7: axes of 3,000 × 3,000 values were planned for over ten minutes, deaf to signals.
#[test]
fn a_huge_matrix_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let many = (1..=3000).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let started = Instant::now();
    let o = syncbench(&["matrix", "--peers", &many, "--compaction-concurrency", &many], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(stderr(&o).contains("the product of the axes"), "{}", text(&o));
}

/// D8: a signal that arrived while `report` or `gate` finished exited 0.
#[test]
fn a_signal_at_the_last_step_is_still_reported() {
    let dir = tempfile::tempdir().unwrap();
    a_run(dir.path());
    // Many runs to re-render: long enough to be signalled mid-way.
    let dirs: Vec<String> = (0..40).map(|_| "run".to_owned()).collect();
    let mut child = Command::new(SYNCBENCH)
        .arg("report")
        .args(&dirs)
        .arg("--png")
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_bounded(&mut child, Duration::from_secs(60));
    assert_eq!(status.code(), Some(143), "{status:?}");
}

/// D9: `identify` waited for a background process the node binary left running (60 s
/// instead of its 10 s bound).
#[test]
fn the_identify_check_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let real = node_bin("jemalloc").display().to_string();
    executable(&dir.path().join("lingers"), &format!("#!/bin/sh\nsleep 60 &\nexec {real} \"$@\"\n"));
    let started = Instant::now();
    let o = syncbench(
        &[
            "ingest",
            "--alloc",
            "jemalloc",
            "--node-bin",
            "./lingers",
            "--workload",
            "smoke",
            "--blocks",
            "400",
            "--no-ceilings",
            "--out",
            "run",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(started.elapsed() < Duration::from_secs(40), "{:?}", started.elapsed());
    let _ = Command::new("pkill").args(["-f", "sleep 60"]).status();
}

/// D12: `[ab] floor_pct = 999` in a thresholds file disabled every verdict, though
/// `--floor-pct 999` is refused.
#[test]
fn a_thresholds_file_has_the_flags_bounds() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("t.toml"), "[ab]\nfloor_pct = 999\n").unwrap();
    let node = node_bin("jemalloc").display().to_string();
    let o = syncbench(&["ab", "--base-node", &node, "--head-node", &node, "--thresholds", "t.toml"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("t.toml:2:") && stderr(&o).contains("0..100"), "{}", text(&o));
}

/// D13: two `report --out` into one directory at once mixed their files.
#[test]
fn two_reports_never_write_one_directory_at_once() {
    let dir = tempfile::tempdir().unwrap();
    a_run(dir.path());
    fs::create_dir(dir.path().join("m")).unwrap();
    let lock = fs::File::open(dir.path().join("m")).unwrap();
    // SAFETY: flock(2) on a descriptor we own: what a running report holds.
    assert_eq!(unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) }, 0);
    let o = syncbench(&["report", "run", "--out", "m"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("in use"), "{}", text(&o));
}

/// D16: `--sample-interval 1.5ms` sampled every 1.5 ms while config.json and
/// reproduce.sh said 1 ms.
#[test]
fn a_sample_interval_is_whole_milliseconds() {
    let dir = tempfile::tempdir().unwrap();
    let o = ingest_in(dir.path(), &["--no-ceilings", "--sample-interval", "1.5ms"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("whole milliseconds"), "{}", text(&o));
}

/// D18: a `summary.json` that is a FIFO was reported as "it has neither".
#[test]
fn an_odd_summary_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("r")).unwrap();
    let c = std::ffi::CString::new(dir.path().join("r/summary.json").as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let o = syncbench(&["report", "r"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("summary.json is not a regular file"), "{}", text(&o));
}

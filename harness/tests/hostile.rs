//! Hostile conditions: signals, concurrent runs, odd paths, hangs and inputs that used
//! to lose results or report success wrongly. Each test is named after the root cause
//! it guards against; all run the real binaries.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{executable, json, node_bin, smoke, syncbench, text, wait_bounded, SYNCBENCH};

fn run_in(dir: &Path, args: &[String], extra: &[&str]) -> std::process::Output {
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend_from_slice(extra);
    syncbench(&all, dir)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn out_and_data_dir_that_overlap_are_refused_and_nothing_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keep")).unwrap();
    std::fs::write(dir.path().join("keep/precious.txt"), b"x").unwrap();
    std::os::unix::fs::symlink(dir.path().join("x"), dir.path().join("link")).unwrap();
    let cases = [("x", "x"), ("x", "x/data"), ("x/run", "x"), ("x", "link"), ("keep/run", "keep")];
    for (out, data) in cases {
        let o = run_in(dir.path(), &smoke("200"), &["--no-ceilings", "--out", out, "--data-dir", data]);
        assert_eq!(o.status.code(), Some(2), "--out {out} --data-dir {data}: {}", text(&o));
        assert!(stderr(&o).contains("overlap"), "{}", text(&o));
        assert!(!dir.path().join("x").exists(), "an early refusal leaves no --out behind");
        assert!(dir.path().join("keep/precious.txt").is_file());
    }
}

#[test]
fn concurrent_runs_never_share_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let spawn = |extra: &[&str]| {
        let mut cmd = Command::new(SYNCBENCH);
        cmd.args(smoke("1200")).args(["--no-ceilings"]).args(extra).current_dir(dir.path()).env_remove("CARGO");
        cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
    };
    // Same --out: one run gets it, the other is refused (exit 2), never both "ok".
    let (a, b) = (spawn(&["--out", "same"]), spawn(&["--out", "same"]));
    let codes = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()].map(|o| o.status.code());
    assert!(codes.contains(&Some(0)) && codes.contains(&Some(2)), "{codes:?}");
    assert_eq!(json(&dir.path().join("same/summary.json"))["outcome"], "ok");
    // Same --data-dir: refused as a usage error, not a corrupt store blamed on the node.
    let (a, b) = (spawn(&["--out", "r1", "--data-dir", "d"]), spawn(&["--out", "r2", "--data-dir", "d"]));
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let codes = outs.iter().map(|o| o.status.code()).collect::<Vec<_>>();
    assert!(codes.contains(&Some(0)) && codes.contains(&Some(2)), "{codes:?}");
    // Default names in the same second: two run directories, two data directories.
    let (a, b) = (spawn(&[]), spawn(&[]));
    assert!(a.wait_with_output().unwrap().status.success() && b.wait_with_output().unwrap().status.success());
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("results")).unwrap().flatten().collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(!dir.path().join(".syncbench-data").exists());
}

/// Regression: with `--out` on a full filesystem the run wrote a 0-byte config.json, or
/// lost everything after the node ran ("writing latency/compaction.hgrm: No space
/// left"), sometimes exiting 0. Needs a tmpfs (root, as in CI).
#[test]
fn a_full_out_filesystem_never_exits_0_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted =
        Command::new("mount").args(["-t", "tmpfs", "-o", "size=24k", "syncbench-out-full"]).arg(&small).status();
    if !mounted.is_ok_and(|s| s.success()) {
        assert!(std::env::var_os("CI").is_none(), "CI must be able to mount a tmpfs");
        eprintln!("not run: cannot mount a tmpfs here");
        return;
    }
    let out = small.join("run").display().to_string();
    let o = run_in(dir.path(), &smoke("600"), &["--no-ceilings", "--out", &out, "--data-dir", "data"]);
    let summary = std::fs::read_to_string(small.join("run/summary.json")).ok();
    let _ = Command::new("umount").arg(&small).status();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stderr(&o).contains(&out) && stderr(&o).contains("No space left"), "names the file: {}", text(&o));
    if let Some(summary) = summary {
        let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
        assert!(summary["incomplete"].is_string(), "a summary never vouches for missing files: {summary}");
    }
    assert!(!dir.path().join("data").exists(), "node data removed");
}

#[test]
fn a_symlinked_data_dir_is_emptied_not_unlinked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("target")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("target"), dir.path().join("link")).unwrap();
    let o = run_in(dir.path(), &smoke("600"), &["--no-ceilings", "--out", "run", "--data-dir", "link"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(dir.path().join("link").is_symlink(), "the link stays");
    assert_eq!(std::fs::read_dir(dir.path().join("target")).unwrap().count(), 0, "the node's data is gone");
}

/// Regression: a 1-hour sample interval made a 1 s run take an hour (the sampler was
/// joined while asleep); a slow rate limit slept past --timeout.
#[test]
fn sleeps_end_with_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let o = run_in(dir.path(), &smoke("600"), &["--no-ceilings", "--out", "a", "--sample-interval", "60s"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../workloads/specs/smoke.toml")).unwrap();
    let slow = spec.replace("[arrival]", "[arrival]\nrate_limit_mib_per_s = 0.01");
    assert_ne!(slow, spec);
    std::fs::write(dir.path().join("slow.toml"), slow).unwrap();
    let node = node_bin("jemalloc").display().to_string();
    let started = Instant::now();
    let args = ["ingest", "--alloc", "jemalloc", "--workload", "./slow.toml", "--no-ceilings", "--node-bin", &node];
    let o = syncbench(&[&args[..], &["--timeout", "3s", "--out", "b"]].concat(), dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(json(&dir.path().join("b/summary.json"))["outcome"], "timeout");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

#[test]
fn odd_paths_and_arguments_get_clear_errors() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-file"), b"x").unwrap();
    std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--out", "a-file"], "--out a-file: expected a directory, got a file"),
        (&["--out", "loop"], "--out loop: cannot resolve"),
        (&["--out", "r", "--data-dir", "/proc/nope"], "--data-dir /proc/nope: cannot create"),
        (&["--out", "r", "--sample-interval", "0.0001ms"], "--sample-interval: expected 1ms..=60s"),
        (&["--out", "r", "--alloc-conf", "narenas:banana,junk"], "Invalid conf value: narenas:banana"),
        (&["--out", "r", "--verify-sample", "1000000"], "--verify-sample: expected 0..=100000"),
    ];
    for (extra, fragment) in cases {
        let o = run_in(dir.path(), &smoke("200"), &[&["--no-ceilings"], *extra].concat());
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", text(&o));
        assert!(stderr(&o).contains(fragment), "{extra:?}: want {fragment:?} in {}", text(&o));
        assert!(!dir.path().join("r").exists(), "{extra:?}: an early refusal left --out behind");
    }
    // mimalloc ignores unknown options silently: the key is checked against its list.
    let mi = node_bin("mimalloc").display().to_string();
    let args = ["ingest", "--alloc", "mimalloc", "--workload", "smoke", "--no-ceilings", "--node-bin", &mi];
    let o = syncbench(&[&args[..], &["--out", "r", "--alloc-conf", "nonsense_key=3"]].concat(), dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("mimalloc has no option `nonsense_key`"), "{}", text(&o));
    // A value mimalloc cannot read: it warns only when verbose and runs with its default.
    let o = syncbench(&[&args[..], &["--out", "r", "--alloc-conf", "purge_delay=soon"]].concat(), dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let want = "mimalloc option `purge_delay`: expected an integer or on/off, got `soon`";
    assert!(stderr(&o).contains(want), "{}", text(&o));
    let o = syncbench(&["workload", "describe", "results"], dir.path());
    let _ = std::fs::create_dir(dir.path().join("results"));
    let o2 = syncbench(&["workload", "describe", "results"], dir.path());
    assert_eq!((o.status.code(), o2.status.code()), (Some(2), Some(2)));
    assert!(stderr(&o2).contains("expected a regular file, got a directory"), "{}", text(&o2));
    // A non-UTF-8 --out: recorded lossily, never a panic.
    let weird = std::ffi::OsStr::from_bytes(b"out-\xff");
    let o = Command::new(SYNCBENCH)
        .args(smoke("200"))
        .arg("--no-ceilings")
        .arg("--out")
        .arg(weird)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(json(&dir.path().join(weird).join("config.json"))["command"].to_string().contains("out-\u{fffd}"));
    // A FIFO as a spec: refused at once, never opened (opening would block).
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let mut describe = Command::new(SYNCBENCH);
    describe.args(["workload", "describe", "./fifo"]).current_dir(dir.path()).stderr(Stdio::piped());
    let mut child = describe.spawn().unwrap();
    assert_eq!(wait_bounded(&mut child, Duration::from_secs(10)).code(), Some(2));
    // A TMPDIR too long for a socket path: the socket goes to /tmp instead.
    let long = dir.path().join("t".repeat(100));
    std::fs::create_dir(&long).unwrap();
    let o = Command::new(SYNCBENCH)
        .args(smoke("200"))
        .args(["--no-ceilings", "--out", "long-tmp"])
        .env("TMPDIR", &long)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

/// Regression: a node printing 300 MB without a newline grew the harness to 317 MB.
#[test]
fn node_output_without_newlines_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let chatty = dir.path().join("chatty-node");
    executable(&chatty, "#!/bin/sh\nhead -c 100000000 /dev/zero | tr '\\0' x\nexit 1\n");
    let mut child = Command::new(SYNCBENCH)
        .args(["ingest", "--alloc", "jemalloc", "--workload", "smoke", "--no-ceilings", "--out", "run"])
        .arg("--node-bin")
        .arg(&chatty)
        .args(["--timeout", "30s"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter; wait4 on our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let _ = child.try_wait();
    let peak_mib = usage.ru_maxrss as f64 / 1024.0;
    assert!(peak_mib < 80.0, "the harness peaked at {peak_mib:.0} MiB reading 100 MB of one line");
}

#[test]
fn gate_and_report_refuse_what_they_cannot_judge() {
    let dir = tempfile::tempdir().unwrap();
    node_bin("jemalloc"); // the matrix finds it next to syncbench
    let m = |out: &str, extra: &[&str]| {
        let args = ["matrix", "--alloc", "jemalloc", "--workload", "smoke", "--blocks", "300", "--no-ceilings"];
        let o = syncbench(&[&args[..], &["--out", out], extra].concat(), dir.path());
        assert!(o.status.success(), "{}", text(&o));
    };
    m("one", &["--repeat", "1"]);
    m("mixed", &["--repeat", "3", "--compaction", "streaming,buffered"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["gate", "--candidate", "one", "--write-baseline", "one"],
            "--write-baseline: one: refusing to write: it is a directory",
        ),
        (&["gate", "--candidate", "one", "--write-baseline", "b.json"], "expected at least 3 successful runs"),
        (&["gate", "--candidate", "mixed", "--baseline", "one", "--markdown", "no/x.md"], "--markdown no/x.md"),
        (&["gate", "--candidate", "mixed", "--baseline", "one"], "configured differently"),
    ];
    let node = node_bin("jemalloc").display().to_string();
    let ab = ["ab", "--base-node", &node, "--head-node", &node, "--markdown", "no/ab.md"];
    let cases = [cases, &[(&ab[..], "--markdown no/ab.md: directory no does not exist")]].concat();
    for (args, fragment) in &cases {
        let o = syncbench(args, dir.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(stderr(&o).contains(fragment), "{args:?}: want {fragment:?}: {}", text(&o));
        assert!(!String::from_utf8_lossy(&o.stdout).contains("result: pass"), "{args:?}");
    }
    // report: NaN in samples.csv is refused with file:line; a suite naming a run
    // directory outside itself is refused before anything is written.
    let run = dir.path().join("one/runs/jemalloc_streaming_cc1-r1");
    let csv = std::fs::read_to_string(run.join("samples.csv")).unwrap();
    let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
    let mut cells: Vec<&str> = lines[2].split(',').collect();
    cells[1] = "NaN";
    lines[2] = cells.join(",");
    std::fs::write(run.join("samples.csv"), lines.join("\n") + "\n").unwrap();
    let o = syncbench(&["report", "one"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("samples.csv:3: column `rss_bytes`"), "{}", text(&o));
    let suite = dir.path().join("mixed/suite.json");
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let s = std::fs::read_to_string(&suite).unwrap();
    let first = json(&suite)["order"][0]["run_dir"].as_str().unwrap().to_owned();
    std::fs::write(&suite, s.replacen(&format!("\"{first}\""), &format!("\"{}\"", outside.display()), 1)).unwrap();
    let o = syncbench(&["report", "mixed"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("expected a relative path inside the suite"), "{}", text(&o));
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

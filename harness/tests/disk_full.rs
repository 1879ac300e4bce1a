//! Disk full: the node's data directory on a 48 MiB tmpfs made for the test (the smoke
//! workload needs ~400 MiB). The node must report the error, the run must be marked
//! failed with a crash bundle, the data directory must be removed, the harness must
//! exit 1, and nothing may panic.
//!
//! Needs permission to mount (root, as in CI). Elsewhere the test says so and passes
//! without running, unless `CI` is set, where it fails instead: CI must run it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{json, text};

const SIZE: &str = "size=48m";

/// A tmpfs mounted for the test; unmounted on drop (also when the test panics).
struct SmallFs(PathBuf);

impl SmallFs {
    fn mount(at: &Path) -> Result<SmallFs, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", SIZE, "syncbench-disk-full"])
            .arg(at)
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(SmallFs(at.to_owned()))
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Regression: a failed writer left the node blocked forever on its full hash queue
/// (the queue's receiving end outlived the hash workers), so a disk-full run hung
/// until the harness's timeout.
#[test]
fn disk_full_fails_the_run_with_a_bundle_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let small = match SmallFs::mount(&dir.path().join("small")) {
        Ok(fs) => fs,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("disk_full: not run: cannot mount a tmpfs here ({e}); CI runs it as root");
            return;
        }
        Err(e) => panic!("CI must be able to mount a tmpfs for the disk-full test: {e}"),
    };
    let data = small.0.join("data").display().to_string();
    let node = common::node_bin("glibc").display().to_string();
    let out = common::syncbench(
        &[
            "ingest",
            "--alloc",
            "glibc",
            "--workload",
            "smoke",
            "--out",
            "run",
            "--data-dir",
            &data,
            "--node-bin",
            &node,
            "--no-ceilings",
            "--no-disk-check",
            "--timeout",
            "120s",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", text(&out));
    let run = dir.path().join("run");
    let s = json(&run.join("summary.json"));
    // Regression (hostile round 2): a full disk was classed `error`, like any failure.
    assert_eq!((s["outcome"].as_str(), s["crash_class"].as_str()), (Some("crashed"), Some("disk_full")), "{s}");
    assert!(s["blocks"].as_u64().unwrap() < s["blocks_expected"].as_u64().unwrap(), "{s}");
    let stderr_tail = std::fs::read_to_string(run.join("crash/stderr_tail.txt")).unwrap();
    assert!(stderr_tail.contains("No space left on device"), "the node must say why: {stderr_tail}");
    // Regression (hostile round 2): the node's messages carried this machine's paths
    // into files of a results directory that may be committed.
    let machine = dir.path().display().to_string();
    for f in ["crash/stderr_tail.txt", "events.jsonl", "crash/events_tail.jsonl", "config.json", "summary.json"] {
        let t = std::fs::read_to_string(run.join(f)).unwrap();
        assert!(!t.contains(&machine), "{f} names {machine}: {t}");
    }
    assert!(stderr_tail.contains("<data-dir>"), "{stderr_tail}");
    assert!(run.join("crash/reproduce.sh").is_file());
    assert!(!small.0.join("data").exists(), "data directory left on the full filesystem");
}

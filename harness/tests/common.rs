//! Helpers for tests that run the real `syncbench` binary against real node binaries.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

pub const SYNCBENCH: &str = env!("CARGO_BIN_EXE_syncbench");

/// `node-<alloc>` next to the syncbench test binary, (re)built once per test process
/// with cargo: `cargo test -p syncbench` alone would otherwise test stale node binaries.
pub fn node_bin(alloc: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = Path::new(SYNCBENCH).parent().unwrap();
    let path = dir.join(format!("node-{alloc}"));
    {
        BUILT.get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let release = dir.ends_with("release");
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "-p", "syncbench-allocators", "--bins"])
                .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
            if release {
                cmd.arg("--release");
            }
            assert!(cmd.status().unwrap().success(), "building the node binaries failed");
        });
    }
    assert!(path.exists(), "{} missing", path.display());
    path
}

pub fn syncbench(args: &[&str], cwd: &Path) -> Output {
    Command::new(SYNCBENCH).args(args).current_dir(cwd).env_remove("CARGO").output().expect("running syncbench")
}

/// Runs `syncbench ingest` of the smoke workload into `<dir>/run`, with extra args,
/// without the ceiling probes (they add seconds per run; see [`ingest_with_ceilings`]).
pub fn ingest(dir: &Path, alloc: &str, extra: &[&str]) -> Output {
    let mut args = extra.to_vec();
    args.push("--no-ceilings");
    ingest_with_ceilings(dir, alloc, &args)
}

/// [`ingest`] as a user runs it: with the disk and CPU ceiling probes.
pub fn ingest_with_ceilings(dir: &Path, alloc: &str, extra: &[&str]) -> Output {
    let node = node_bin(alloc);
    let mut args = vec!["ingest", "--alloc", alloc, "--workload", "smoke", "--out", "run", "--data-dir", "data"];
    let node = node.display().to_string();
    args.extend(["--node-bin", &node]);
    args.extend_from_slice(extra);
    syncbench(&args, dir)
}

pub fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

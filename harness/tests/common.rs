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

/// `node-jemalloc-prof` (the heap-profiling build), built once per test process in
/// the tests' own profile with the allocators crate's `profiling` feature.
pub fn node_bin_prof() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = Path::new(SYNCBENCH).parent().unwrap();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "syncbench-allocators", "--features", "profiling", "--bin", "node-jemalloc-prof"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        assert!(cmd.status().unwrap().success(), "building node-jemalloc-prof failed");
    });
    dir.join("node-jemalloc-prof")
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

/// Writes an executable shell script.
pub fn executable(path: &Path, script: &str) {
    std::fs::write(path, script).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// `syncbench ingest` of `blocks` smoke blocks against the jemalloc node.
pub fn smoke(blocks: &str) -> Vec<String> {
    let node = node_bin("jemalloc").display().to_string();
    ["ingest", "--alloc", "jemalloc", "--workload", "smoke", "--blocks", blocks, "--node-bin", &node]
        .map(str::to_owned)
        .to_vec()
}

/// Processes whose command line mentions `needle` (the test's private directory).
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else { continue };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let state = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = state.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z'));
        if cmd.contains(needle) && !zombie {
            found.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
        }
    }
    found
}

/// Memory cgroups a harness with pid `pid` created and left behind.
pub fn leftover_cgroups(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("syncbench-{pid}-");
    let mut stack = vec![(PathBuf::from("/sys/fs/cgroup"), 0)];
    let mut found = Vec::new();
    while let Some((d, depth)) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                found.push(e.path());
            } else if depth < 6 {
                stack.push((e.path(), depth + 1));
            }
        }
    }
    found
}

/// Waits up to `limit` for `child`; kills it and panics past that.
pub fn wait_bounded(child: &mut std::process::Child, limit: std::time::Duration) -> std::process::ExitStatus {
    let until = std::time::Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if std::time::Instant::now() > until {
            let _ = child.kill();
            panic!("syncbench did not stop within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

//! Finding (or building) the node executable for an allocator.
//!
//! Order: `--node-bin PATH`; under `cargo run` (the `CARGO` variable is set and this
//! binary was built from a workspace that still exists), `cargo build --release` of
//! `node-<alloc>`, which is instant when up to date; otherwise `node-<alloc>` next to
//! this executable, refused (exit 2) when built from another commit than this
//! executable (`cargo build --release` builds the harness only). A `--heap-profile`
//! run uses `node-jemalloc-prof`, built with the allocators crate's `profiling` feature
//! (never the plain binary: features would otherwise leak into it) in cargo profile
//! `profiling` (found in `target/profiling/` when this executable is
//! `target/release/syncbench`). A `--store rocksdb` run uses
//! `node-<alloc>-rocksdb` (or `node-<alloc>-rocksdb-sysmalloc` for `--engine-malloc
//! system`), built with the allocators crate's `rocksdb` feature (plus
//! `<alloc>-replaces-malloc`) against the system's RocksDB library (docs/rocksdb.md).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use crate::error::input;
use crate::options::IngestOptions;
use crate::settings::{Allocator, EngineMalloc};
use syncbench_node::config::StoreKind;

/// The workspace this binary was built from (compile-time path).
pub fn workspace_root() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.to_path_buf();
    root.join("allocators").join("Cargo.toml").is_file().then_some(root)
}

/// The profiling build of the jemalloc node.
pub const PROFILING_BIN: &str = "node-jemalloc-prof";

/// Which node binary a run needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeKind {
    pub alloc: Allocator,
    pub store: StoreKind,
    pub engine_malloc: EngineMalloc,
    pub profiled: bool,
}

impl NodeKind {
    pub fn of(o: &IngestOptions) -> NodeKind {
        NodeKind { alloc: o.alloc, store: o.store, engine_malloc: o.engine_malloc, profiled: o.heap_profile.is_some() }
    }

    /// The binary's name in `syncbench-allocators`.
    pub fn bin_name(&self) -> String {
        match (self.store, self.engine_malloc) {
            _ if self.profiled => PROFILING_BIN.to_owned(),
            (StoreKind::Native, _) => self.alloc.node_bin_name(),
            (StoreKind::Rocksdb, EngineMalloc::System) if self.alloc != Allocator::Glibc => {
                format!("node-{}-rocksdb-sysmalloc", self.alloc)
            }
            (StoreKind::Rocksdb, _) => format!("node-{}-rocksdb", self.alloc),
        }
    }

    /// Whether the binary's allocator replaces the C library's `malloc`.
    pub fn replaces_malloc(&self) -> bool {
        self.store == StoreKind::Rocksdb
            && self.engine_malloc == EngineMalloc::Allocator
            && self.alloc != Allocator::Glibc
    }

    /// The allocators crate's features the binary is built with.
    fn features(&self) -> Vec<String> {
        let mut f = Vec::new();
        if self.profiled {
            f.push("profiling".to_owned());
        }
        if self.store == StoreKind::Rocksdb {
            f.push("rocksdb".to_owned());
        }
        if self.replaces_malloc() {
            f.push(format!("{}-replaces-malloc", self.alloc));
        }
        f
    }
}

pub fn resolve(kind: NodeKind, explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return check_executable(p).map_err(|e| input(format!("--node-bin {}: {e}", p.display())));
    }
    let (name, profiled) = (kind.bin_name(), kind.profiled);
    if let (Some(cargo), Some(root)) = (std::env::var_os("CARGO"), workspace_root()) {
        return build(Path::new(&cargo), &root, &kind);
    }
    let dir = std::env::current_exe().ok().and_then(|e| Some(e.parent()?.to_owned()));
    // In a cargo target directory the profiling node is built into `profiling/`, beside
    // `release/` (a `node-jemalloc-prof` in `release/` would lack the function-level
    // debug info that names inlined frames).
    let candidates = dir.map(|d| {
        let sibling = (profiled && d.ends_with("release")).then(|| d.with_file_name("profiling").join(&name));
        sibling.into_iter().chain([d.join(&name)])
    });
    match candidates.into_iter().flatten().find(|p| p.is_file()) {
        Some(p) => check_sibling_build(&p, &kind).map(|()| p),
        None => Err(input(format!(
            "node binary `{name}` not found next to syncbench; build it with \
             `cargo build {}` or pass --node-bin PATH",
            build_command(&kind)
        ))),
    }
}

/// Refuses (exit 2) a node found next to this executable that was built from another
/// commit than this harness. `cargo build --release` builds the harness only, so a node
/// binary beside it may be left from an older checkout: it would run without this
/// commit's node code (e.g. without stats fields the harness reads), its results
/// labelled with this commit. A node too old to `identify` passes here and is checked
/// by what it announces when it starts.
fn check_sibling_build(bin: &Path, kind: &NodeKind) -> Result<()> {
    let Some(id) = identify(bin)? else { return Ok(()) };
    // This harness's commit, as its build script recorded it.
    let harness = env!("SYNCBENCH_GIT_SHA");
    match other_commit(&id.build.git_sha, harness) {
        None => Ok(()),
        Some(why) => Err(input(format!(
            "{}: {why}; either may be the stale one: rebuild both with `cargo build {}` and \
             `cargo build --release -p syncbench`, run syncbench through `cargo run --release --` \
             (which builds both), or pass --node-bin {} to run it as it is",
            bin.display(),
            build_command(kind),
            bin.display()
        ))),
    }
}

/// Why a node built from commit `node` is not this harness's build (`harness`): `None`
/// when both are the same commit or either is `unknown` (built outside a git checkout).
fn other_commit(node: &str, harness: &str) -> Option<String> {
    let short = |s: &str| s.get(..12).unwrap_or(s).to_owned();
    if node == harness || node == "unknown" || harness == "unknown" {
        return None;
    }
    Some(format!("this node binary was built from commit {}, this syncbench from {}", short(node), short(harness)))
}

fn check_executable(p: &Path) -> std::result::Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(p).map_err(|e| format!("expected an executable file, got {e}"))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err("expected an executable file, got a non-executable path".into());
    }
    Ok(p.to_path_buf())
}

/// The cargo profile a node binary is built in: the profiling node has its own (more
/// debug info, same code).
fn profile(kind: &NodeKind) -> &'static str {
    if kind.profiled {
        "--profile=profiling"
    } else {
        "--release"
    }
}

/// The command that builds `kind`'s binary, for messages.
fn build_command(kind: &NodeKind) -> String {
    let features = kind.features();
    let features = if features.is_empty() { String::new() } else { format!(" --features {}", features.join(",")) };
    format!("{} -p syncbench-allocators{features} --bin {}", profile(kind), kind.bin_name())
}

/// `cargo build --release -p syncbench-allocators --bin <name>` with the kind's
/// features (the profiling node: `--profile=profiling`); returns the executable.
fn build(cargo: &Path, root: &Path, kind: &NodeKind) -> Result<PathBuf> {
    let name = kind.bin_name();
    let profile = profile(kind);
    let rocksdb = (kind.store == StoreKind::Rocksdb).then(crate::rocksdb_lib::lib_dir).transpose()?;
    let phase = crate::util::phase::Phase::start(format!("building {name} (cargo build {profile})"));
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args([
        "build",
        // Quiet: syncbench prints its one line; compiler errors still show.
        "--quiet",
        profile,
        "-p",
        "syncbench-allocators",
        "--bin",
        &name,
        "--message-format=json-render-diagnostics",
    ]);
    let features = kind.features();
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    if let Some(dir) = &rocksdb {
        cmd.env(crate::rocksdb_lib::LIB_DIR_VAR, dir);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("running {} build", cargo.display()))?;
    let stdout = child.stdout.take().context("cargo stdout")?;
    // cargo's messages are read on a thread so that this one can stop the build when
    // the harness is interrupted (cargo is killed, not left building).
    let name_owned = name.clone();
    let reader = std::thread::spawn(move || {
        let mut exe = None;
        for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
            let Ok(msg) = serde_json::from_str::<CargoMessage>(&line) else { continue };
            if msg.reason == "compiler-artifact" && msg.target.is_some_and(|t| t.name == name_owned) {
                exe = msg.executable;
            }
        }
        exe
    });
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for cargo")? {
            break status;
        }
        if crate::signals::received().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            crate::signals::check()?;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let exe = reader.join().ok().flatten();
    if !status.success() && rocksdb.is_some() {
        anyhow::bail!("building {name} failed ({status}); {}", crate::rocksdb_lib::PREREQUISITES);
    }
    anyhow::ensure!(status.success(), "building {name} failed ({status})");
    let exe = exe.with_context(|| format!("cargo built no executable named {name}"))?;
    phase.done("ready");
    Ok(exe)
}

/// The fields of one of cargo's `--message-format=json` lines read here.
#[derive(serde::Deserialize)]
struct CargoMessage {
    reason: String,
    #[serde(default)]
    target: Option<CargoTarget>,
    #[serde(default)]
    executable: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
struct CargoTarget {
    name: String,
}

/// Longest `identify` output read (one JSON line of a few hundred bytes).
const IDENTIFY_MAX_BYTES: u64 = 64 * 1024;
/// How long `identify` may take (it prints and exits; a binary that does not is not a node).
const IDENTIFY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A finished short command: its status and its output (each at most the bound).
pub struct Finished {
    pub status: std::process::ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `cmd` (stdin closed, stdout and stderr piped) for at most `timeout`, reading at
/// most `max_bytes` of each output; `None` if it did not finish in time (it is killed)
/// or a signal stopped the harness. A background process the command left holding its
/// pipes is not waited for: the outputs are taken as they are a moment after it exits.
pub fn output_within(mut cmd: Command, timeout: std::time::Duration, max_bytes: u64) -> Result<Option<Finished>> {
    use std::io::Read;
    use std::sync::mpsc;
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    // Each pipe is read into a shared buffer as bytes arrive; its end of file is
    // signalled on a channel, which is waited on only briefly after the command exits.
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = mpsc::channel::<()>();
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(mut p) = pipe {
            let buf = std::sync::Arc::clone(&buf);
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = p.read(&mut chunk) {
                    let Ok(mut b) = buf.lock() else { break };
                    if n == 0 || b.len() as u64 >= max_bytes {
                        break;
                    }
                    let room = (max_bytes - b.len() as u64).min(n as u64) as usize;
                    b.extend_from_slice(&chunk[..room]);
                }
                let _ = tx.send(());
            });
        }
        (rx, buf)
    };
    let out = reader(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = reader(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let until = std::time::Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if std::time::Instant::now() >= until || crate::signals::received().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let take = |(rx, buf): (mpsc::Receiver<()>, std::sync::Arc<std::sync::Mutex<Vec<u8>>>)| {
        let _ = rx.recv_timeout(until.saturating_duration_since(std::time::Instant::now()));
        buf.lock().map(|b| b.clone()).unwrap_or_default()
    };
    let (stdout, stderr) = (take(out), take(err));
    Ok(status.map(|status| Finished { status, stdout, stderr }))
}

/// What `bin identify` says it is; `None` for a node built before it had `identify`
/// (it refuses the word), which is then checked by what it announces when it starts.
pub fn identify(bin: &Path) -> Result<Option<syncbench_node::Identity>> {
    let shown = bin.display();
    let mut cmd = node_command(bin, &[]);
    cmd.arg("identify");
    let done = output_within(cmd, IDENTIFY_TIMEOUT, IDENTIFY_MAX_BYTES)
        .map_err(|e| input(format!("{shown}: cannot start it: {e}")))?;
    crate::signals::check()?;
    let Some(done) = done else {
        return Err(input(format!(
            "{shown}: `identify` did not answer within {IDENTIFY_TIMEOUT:?}: not a node binary?"
        )));
    };
    if !done.status.success() {
        return Ok(None);
    }
    let line = String::from_utf8_lossy(&done.stdout);
    serde_json::from_str(line.trim())
        .map(Some)
        .map_err(|_| input(format!("{shown}: expected a node binary (`identify` prints what it is), got other output")))
}

/// Refuses (exit 2) a node binary that is not what the run will be labelled: another
/// allocator than `--alloc`, or no heap profiler for `--heap-profile`. A node too old
/// to say is checked against its `node_start` instead (`run::check_announced`).
pub fn check_identity(bin: &Path, kind: &NodeKind) -> Result<()> {
    let (alloc, profiled) = (kind.alloc, kind.profiled);
    let Some(id) = identify(bin)? else { return Ok(()) };
    if id.allocator != alloc.name() {
        return Err(input(format!(
            "{}: this node binary is built with {} (it says so itself), but --alloc is {alloc}: \
             its results would be labelled with the wrong allocator",
            bin.display(),
            id.allocator
        )));
    }
    if profiled && !id.heap_profiler {
        return Err(input(format!(
            "--heap-profile: {} has no heap profiler (use the profiling build, {PROFILING_BIN})",
            bin.display()
        )));
    }
    check_engine(bin, kind, &id)
}

/// Refuses a binary without the run's store, or whose engine `malloc` is served by
/// another allocator than `--engine-malloc` says (the node measures it at start).
fn check_engine(bin: &Path, kind: &NodeKind, id: &syncbench_node::Identity) -> Result<()> {
    if kind.store == StoreKind::Native {
        return Ok(());
    }
    if !id.stores.contains(&kind.store) {
        return Err(input(format!(
            "--store {}: {} was built without it (build {})",
            kind.store,
            bin.display(),
            build_command(kind)
        )));
    }
    let want = kind.engine_malloc.expected_server(kind.alloc);
    match id.engine_malloc.as_deref() {
        Some(got) if got == want => Ok(()),
        got => Err(input(format!(
            "--engine-malloc {}: {}'s engine malloc is served by {} (it measures it itself), expected {want}: \
             its results would be labelled with the wrong configuration",
            kind.engine_malloc,
            bin.display(),
            got.unwrap_or("an allocator it could not tell")
        ))),
    }
}

/// Variables passed from the harness's environment to the node (plus any `LC_*` and
/// `SYNCBENCH_*`, the node's whitebox test hooks); every other variable is left out, so
/// the node runs with what its flags set and nothing the shell happened to carry.
const PASSED_ENV: &[&str] =
    &["PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR", "RUST_LOG", "RUST_MIN_STACK", "LD_LIBRARY_PATH"];

pub use syncbench_node::self_report::is_allocator_env;

fn passed(name: &str) -> bool {
    !is_allocator_env(name) && (PASSED_ENV.contains(&name) || name.starts_with("LC_") || name.starts_with("SYNCBENCH_"))
}

/// The allocator- or loader-changing variables of the harness's own environment, by
/// name (sorted): removed from every node's environment, recorded in `config.json`.
pub fn removed_allocator_env() -> Vec<String> {
    let mut names: Vec<String> =
        std::env::vars_os().map(|(k, _)| k.to_string_lossy().into_owned()).filter(|k| is_allocator_env(k)).collect();
    names.sort();
    names
}

/// A command for a node binary with a clean environment: the allow-listed variables
/// of the harness's environment, then `env` (the run's allocator settings).
pub fn node_command(bin: &Path, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env_clear();
    cmd.envs(std::env::vars_os().filter(|(k, _)| passed(&k.to_string_lossy())));
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_sibling_node_binary_from_another_commit_is_refused() {
        let (a, b) = ("4cdb1ac0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6", "e3b14a5f6e7d8c9b0a1b2c3d4e5f6a7b8c9d0e1f");
        let why = other_commit(b, a).expect("another commit is refused");
        assert!(why.contains("e3b14a5f6e7d") && why.contains("4cdb1ac0d1e2"), "{why}");
        assert_eq!(other_commit(a, a), None, "the same commit runs");
        assert_eq!(other_commit("unknown", a), None, "built outside git: cannot tell");
        assert_eq!(other_commit(a, "unknown"), None, "built outside git: cannot tell");
    }

    #[test]
    fn allocator_and_loader_variables_are_never_passed() {
        for name in ["LD_PRELOAD", "LD_AUDIT", "GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_"] {
            assert!(is_allocator_env(name) && !passed(name), "{name}");
        }
        for name in ["_RJEM_MALLOC_CONF", "MALLOC_CONF", "MIMALLOC_PURGE_DELAY", "JE_MALLOC_CONF"] {
            assert!(!passed(name), "{name}");
        }
        for name in ["PATH", "HOME", "LC_ALL", "SYNCBENCH_KILL_POINT", "LD_LIBRARY_PATH"] {
            assert!(passed(name), "{name}");
        }
        assert!(!passed("AWS_SECRET_ACCESS_KEY"), "whatever is not on the list stays with the harness");
    }
}

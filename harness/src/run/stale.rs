//! What a harness killed outright (`kill -9`, a power cut) leaves behind, and how the
//! next run clears it: only its own debris, recognised by a marker and a lock nobody
//! holds any more — and only where the harness itself puts such debris, whatever the
//! marker says (a marker is a file anyone could have planted, e.g. in a results
//! directory that came from elsewhere).
//!
//! While a run is in progress its run directory holds [`MARKER`]: the harness's pid and
//! the node's data directory, socket directory and memory cgroup. The harness removes
//! the marker when the run ends, however it ends (the node's death, a signal, an
//! error). A marker found later in a directory whose `flock` is free (the lock dies
//! with its holder) is a run whose harness was killed; [`sweep`], run once the new run
//! holds its own directory, removes:
//! - its data directory, only if it is a default one (`.syncbench-data/<name>` of the
//!   working directory) that no run holds — never one given with `--data-dir`;
//! - its socket directory, only if it is `syncbench-<pid>-<hex>` directly in the
//!   temporary directory, this user's, holding nothing but sockets;
//! - its memory cgroup, only a `syncbench-<pid>-<n>` directory under `/sys/fs/cgroup`
//!   (`rmdir`: it must be empty);
//! - the run directory itself only when no `summary.json` was written (nothing
//!   measured was recorded) and it holds nothing but what a run writes; otherwise only
//!   the marker goes, and a directory with anything else in it is left untouched.
//!
//! Symlinks are never followed while looking.
//!
//! Socket directories of the CPU probe and the run are named `syncbench-<pid>-<hex>`
//! under the temporary directory; [`sweep_sockets`] removes those of this user whose
//! pid no longer exists (a live pid, reused or not, is left alone).
//!
//! ## Format
//! `<run dir>/.syncbench-running`, JSON: `{ "pid": 4242, "data_dir": "/abs/data",
//! "socket_dir": "/tmp/syncbench-4242-1f", "cgroup_dir": "/sys/fs/cgroup/…" }`, each
//! path absent until known. Never part of a finished run.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The marker's file name inside a run directory.
pub const MARKER: &str = ".syncbench-running";
/// Largest marker read (a few hundred bytes).
const MARKER_MAX_BYTES: u64 = 64 * 1024;
/// Most directories looked at by one sweep (a results directory of this size is
/// already unusual; the sweep must stay cheap).
const SWEEP_MAX_DIRS: usize = 10_000;

/// What a run in progress records about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub pid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_dir: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_dir: Option<PathBuf>,
}

impl Marker {
    /// Writes (or rewrites) the marker in `run_dir`.
    pub fn write(&self, run_dir: &Path) -> anyhow::Result<()> {
        crate::util::fsx::write_atomic(&run_dir.join(MARKER), &serde_json::to_vec(self)?)
    }

    /// Adds the run's memory cgroup to the marker in `run_dir`.
    pub fn add_cgroup(run_dir: &Path, cgroup: &Path) {
        if cgroup.to_str().is_none() {
            return;
        }
        let path = run_dir.join(MARKER);
        let read = crate::util::fsx::read_bounded(&path, MARKER_MAX_BYTES, "run marker").ok();
        if let Some(mut m) = read.and_then(|t| serde_json::from_str::<Marker>(&t).ok()) {
            m.cgroup_dir = Some(cgroup.to_owned());
            let _ = m.write(run_dir);
        }
    }

    /// Removes the marker: the run ended and cleaned up after itself.
    pub fn remove(run_dir: &Path) {
        let _ = fs::remove_file(run_dir.join(MARKER));
    }
}

/// Where the harness itself puts what a run leaves: the default data directories'
/// parent and the temporary directories of socket directories.
pub struct Places {
    pub data_parent: PathBuf,
    pub tmp: Vec<PathBuf>,
}

impl Places {
    /// This process's: `.syncbench-data` of the working directory, `$TMPDIR` and `/tmp`.
    pub fn here() -> Places {
        let cwd = std::env::current_dir().unwrap_or_default();
        Places { data_parent: cwd.join(super::DEFAULT_DATA_PARENT), tmp: vec![std::env::temp_dir(), "/tmp".into()] }
    }
}

/// Clears the debris of killed runs among the directories of `parent` and of its
/// suites' `runs/`; returns one line per run cleared.
pub fn sweep(parent: &Path, places: &Places) -> Vec<String> {
    let mut cleared = Vec::new();
    for dir in candidates(parent) {
        if let Some(line) = clear_if_stale(&dir, places) {
            cleared.push(line);
        }
    }
    cleared
}

/// Directories that may be run directories: `parent/*` and `parent/*/runs/*`, real
/// directories only (a symlink, even to a directory, is not followed).
fn candidates(parent: &Path) -> Vec<PathBuf> {
    let subdirs = |d: &Path| -> Vec<PathBuf> {
        if !fs::symlink_metadata(d).is_ok_and(|m| m.file_type().is_dir()) {
            return Vec::new();
        }
        fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .take(SWEEP_MAX_DIRS)
            .collect()
    };
    let mut out = Vec::new();
    for d in subdirs(parent) {
        out.extend(subdirs(&d.join("runs")));
        out.push(d);
        if out.len() >= SWEEP_MAX_DIRS {
            break;
        }
    }
    out
}

/// Clears `dir` if it holds a marker and nobody holds its lock (see the module's
/// rules for what may be removed).
fn clear_if_stale(dir: &Path, places: &Places) -> Option<String> {
    let marker_path = dir.join(MARKER);
    if !fs::symlink_metadata(&marker_path).is_ok_and(|m| m.file_type().is_file()) {
        return None;
    }
    let _held = try_lock(dir)?;
    let marker: Marker = crate::util::fsx::read_bounded(&marker_path, MARKER_MAX_BYTES, "run marker")
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())?;
    let mut removed = Vec::new();
    if let Some(data) = marker.data_dir.as_deref().filter(|d| is_default_data_dir(d, &places.data_parent)) {
        if try_lock(data).is_some() && fs::remove_dir_all(data).is_ok() {
            removed.push("its data directory");
        }
    }
    if marker.socket_dir.as_deref().is_some_and(|d| remove_socket_dir(d, &places.tmp)) {
        removed.push("its socket directory");
    }
    if marker.cgroup_dir.as_deref().is_some_and(|c| is_our_cgroup(c) && fs::remove_dir(c).is_ok()) {
        removed.push("its memory cgroup");
    }
    let complete = dir.join("summary.json").exists();
    if !complete && only_run_files(dir) && fs::remove_dir_all(dir).is_ok() {
        removed.push("its run directory (no summary.json)");
    } else {
        Marker::remove(dir);
    }
    Some(format!(
        "{}: a run whose harness (pid {}) was killed; removed {}",
        dir.display(),
        marker.pid,
        if removed.is_empty() { "its marker".to_owned() } else { removed.join(", ") }
    ))
}

/// What a run directory holds before its summary is written (and nothing else).
const RUN_FILES: &[&str] = &[MARKER, ".write-test", "config.json", "events.jsonl", "samples.csv", "ratchet.csv"];
/// Its subdirectories, which hold only what the run writes into them.
const RUN_SUBDIRS: &[&str] = &["latency", "charts", "crash", "heap"];

/// Whether `dir` holds only the files a run in progress writes (real files, no links).
fn only_run_files(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().all(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let kind = e.file_type().ok();
            (RUN_FILES.contains(&name.as_str()) && kind.is_some_and(|t| t.is_file()))
                || (RUN_SUBDIRS.contains(&name.as_str()) && kind.is_some_and(|t| t.is_dir()))
        })
    })
}

/// Whether `d` is a default data directory (`<data_parent>/<name>`, a real directory).
fn is_default_data_dir(d: &Path, data_parent: &Path) -> bool {
    let real = fs::symlink_metadata(d).is_ok_and(|m| m.file_type().is_dir());
    real && fs::canonicalize(data_parent).is_ok_and(|p| d.parent() == Some(p.as_path()))
}

/// Removes `d` if it is a socket directory of this user's directly in the temporary
/// directory, holding only sockets; true if it did.
fn remove_socket_dir(d: &Path, tmp: &[PathBuf]) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let in_tmp = d.parent().is_some_and(|p| tmp.iter().any(|t| fs::canonicalize(t).is_ok_and(|t| t == p)));
    let ours = fs::symlink_metadata(d).is_ok_and(|m| m.file_type().is_dir() && m.uid() == uid);
    let sockets_only = fs::read_dir(d).is_ok_and(|e| e.flatten().all(|e| e.file_type().is_ok_and(|t| t.is_socket())));
    in_tmp && ours && is_socket_dir_name(d) && sockets_only && fs::remove_dir_all(d).is_ok()
}

/// A `syncbench-…` directory under `/sys/fs/cgroup`.
fn is_our_cgroup(c: &Path) -> bool {
    c.starts_with("/sys/fs/cgroup")
        && !c.components().any(|p| p == std::path::Component::ParentDir)
        && c.file_name().is_some_and(|n| n.to_string_lossy().starts_with("syncbench-"))
}

/// An exclusive, non-blocking `flock` on `dir`: `None` if another process holds it.
fn try_lock(dir: &Path) -> Option<fs::File> {
    let f = fs::File::open(dir).ok()?;
    // SAFETY: flock(2) on a descriptor we own.
    (unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0).then_some(f)
}

/// `syncbench-<pid>-<hex>`: the harness's socket directories (`run::private_socket_dir`).
fn socket_dir_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("syncbench-")?;
    let (pid, hex) = rest.split_once('-')?;
    (!hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(())?;
    pid.parse().ok()
}

fn is_socket_dir_name(p: &Path) -> bool {
    p.file_name().is_some_and(|n| socket_dir_pid(&n.to_string_lossy()).is_some())
}

/// Removes this user's socket directories under `tmp` whose harness pid is gone.
pub fn sweep_sockets(tmp: &Path) -> usize {
    let mut removed = 0;
    for e in fs::read_dir(tmp).into_iter().flatten().flatten().take(SWEEP_MAX_DIRS) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = socket_dir_pid(&name) else { continue };
        if !alive(pid) && remove_socket_dir(&e.path(), &[tmp.to_owned()]) {
            removed += 1;
        }
    }
    removed
}

/// Whether a process with `pid` exists (`kill(pid, 0)`: EPERM still means it does).
fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(t: &Path) -> Places {
        Places { data_parent: t.join(".syncbench-data"), tmp: vec![t.join("tmp")] }
    }

    fn socket_dir(at: &Path) {
        fs::create_dir(at).unwrap();
        std::os::unix::net::UnixListener::bind(at.join("node.sock")).unwrap();
    }

    #[test]
    fn a_killed_runs_debris_is_cleared_and_a_live_one_kept() {
        let t = tempfile::tempdir().unwrap();
        let p = places(t.path());
        fs::create_dir_all(&p.tmp[0]).unwrap();
        let (run, data) = (t.path().join("r1"), p.data_parent.join("r1"));
        let sock = p.tmp[0].join("syncbench-2000000000-ab");
        fs::create_dir(&run).unwrap();
        fs::create_dir_all(&data).unwrap();
        socket_dir(&sock);
        fs::write(data.join("blob"), b"x").unwrap();
        fs::write(run.join("config.json"), b"{}").unwrap();
        let m = Marker {
            pid: 2_000_000_000,
            data_dir: Some(data.clone()),
            socket_dir: Some(sock.clone()),
            cgroup_dir: None,
        };
        m.write(&run).unwrap();
        // A live run (its lock held) is not touched.
        let held = try_lock(&run).unwrap();
        assert!(sweep(t.path(), &p).is_empty());
        drop(held);
        let cleared = sweep(t.path(), &p);
        assert_eq!(cleared.len(), 1, "{cleared:?}");
        assert!(!run.exists() && !data.exists() && !sock.exists(), "{cleared:?}");
    }

    #[test]
    fn a_run_with_a_summary_keeps_it_and_loses_only_the_marker() {
        let t = tempfile::tempdir().unwrap();
        let run = t.path().join("suite/runs/c-r1");
        fs::create_dir_all(&run).unwrap();
        fs::write(run.join("summary.json"), b"{}").unwrap();
        Marker { pid: 1, ..Marker::default() }.write(&run).unwrap();
        assert_eq!(sweep(t.path(), &places(t.path())).len(), 1);
        assert!(run.join("summary.json").is_file() && !run.join(MARKER).exists());
    }

    /// Regression (hostile round 3): a marker planted anywhere beside `--out` made the
    /// sweep delete the directory it named, and the directory it sat in.
    #[test]
    fn a_planted_marker_deletes_nothing_the_harness_did_not_put_there() {
        let t = tempfile::tempdir().unwrap();
        let p = places(t.path());
        let victim = t.path().join("victim");
        let notes = t.path().join("notes");
        fs::create_dir(&victim).unwrap();
        fs::create_dir(&notes).unwrap();
        fs::write(victim.join("f"), b"precious").unwrap();
        fs::write(notes.join("todo.txt"), b"mine").unwrap();
        let planted = Marker {
            pid: 2_000_000_000,
            data_dir: Some(victim.clone()),
            socket_dir: Some(victim.clone()),
            cgroup_dir: Some("/sys/fs/cgroup/../../etc".into()),
        };
        planted.write(&notes).unwrap();
        // A symlinked `runs` leads nowhere either.
        fs::create_dir(t.path().join("s")).unwrap();
        std::os::unix::fs::symlink(&victim, t.path().join("s/runs")).unwrap();
        sweep(t.path(), &p);
        assert!(victim.join("f").is_file(), "the victim is untouched");
        assert!(notes.join("todo.txt").is_file(), "a directory with other files is left");
        // An empty or garbled marker is no marker.
        fs::write(notes.join(MARKER), b"").unwrap();
        assert!(sweep(t.path(), &p).is_empty() && notes.join("todo.txt").is_file());
    }

    #[test]
    fn only_dead_harnesses_socket_directories_go() {
        let t = tempfile::tempdir().unwrap();
        let dead = t.path().join("syncbench-2000000000-1f");
        let live = t.path().join(format!("syncbench-{}-1f", std::process::id()));
        let other = t.path().join("syncbench-notapid");
        for d in [&dead, &live, &other] {
            fs::create_dir(d).unwrap();
        }
        assert_eq!(sweep_sockets(t.path()), 1);
        assert!(!dead.exists() && live.exists() && other.exists());
    }
}

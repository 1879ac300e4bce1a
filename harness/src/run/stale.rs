//! What a harness killed outright (`kill -9`, a power cut) leaves behind, and how the
//! next run clears it: only its own debris, recognised by a marker and a lock nobody
//! holds any more.
//!
//! While a run is in progress its run directory holds [`MARKER`]: the harness's pid and
//! the node's data directory, socket directory and memory cgroup. The harness removes
//! the marker when the run ends, however it ends (the node's death, a signal, an
//! error). A marker found later in a directory whose `flock` is free (the lock dies
//! with its holder) is a run whose harness was killed: [`sweep`] removes its data
//! directory (unless another run holds it), its socket directory and its cgroup, and
//! the run directory itself when no `summary.json` was written (nothing measured was
//! recorded; a summary written before the kill stays, marked incomplete).
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

/// Clears the debris of killed runs among the directories of `parent` and of its
/// suites' `runs/`; returns one line per run cleared.
pub fn sweep(parent: &Path) -> Vec<String> {
    let mut cleared = Vec::new();
    for dir in candidates(parent) {
        if let Some(line) = clear_if_stale(&dir) {
            cleared.push(line);
        }
    }
    cleared
}

/// Directories that may be run directories: `parent/*` and `parent/*/runs/*`.
fn candidates(parent: &Path) -> Vec<PathBuf> {
    let subdirs = |d: &Path| -> Vec<PathBuf> {
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

/// Clears `dir` if it holds a marker and nobody holds its lock.
fn clear_if_stale(dir: &Path) -> Option<String> {
    let marker_path = dir.join(MARKER);
    fs::symlink_metadata(&marker_path).ok()?;
    let _held = try_lock(dir)?;
    let marker: Marker = crate::util::fsx::read_bounded(&marker_path, MARKER_MAX_BYTES, "run marker")
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let mut removed = Vec::new();
    if let Some(data) = &marker.data_dir {
        // Another run may have claimed the same path since: only an unheld one goes.
        if data.is_dir() && try_lock(data).is_some() && fs::remove_dir_all(data).is_ok() {
            removed.push("its data directory");
        }
    }
    if let Some(sock) = marker.socket_dir.as_ref().filter(|s| is_socket_dir_name(s)) {
        if fs::remove_dir_all(sock).is_ok() {
            removed.push("its socket directory");
        }
    }
    if let Some(cg) = marker
        .cgroup_dir
        .as_ref()
        .filter(|c| c.file_name().is_some_and(|n| n.to_string_lossy().starts_with("syncbench-")))
    {
        if fs::remove_dir(cg).is_ok() {
            removed.push("its memory cgroup");
        }
    }
    let complete = dir.join("summary.json").is_file();
    if complete {
        Marker::remove(dir);
    } else if fs::remove_dir_all(dir).is_ok() {
        removed.push("its run directory (no summary.json)");
    }
    Some(format!(
        "{}: a run whose harness (pid {}) was killed; removed {}",
        dir.display(),
        marker.pid,
        if removed.is_empty() { "its marker".to_owned() } else { removed.join(", ") }
    ))
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
    use std::os::unix::fs::MetadataExt;
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let mut removed = 0;
    for e in fs::read_dir(tmp).into_iter().flatten().flatten().take(SWEEP_MAX_DIRS) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = socket_dir_pid(&name) else { continue };
        let ours = e.metadata().is_ok_and(|m| m.is_dir() && m.uid() == uid);
        if ours && !alive(pid) && fs::remove_dir_all(e.path()).is_ok() {
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

    #[test]
    fn a_killed_runs_debris_is_cleared_and_a_live_one_kept() {
        let t = tempfile::tempdir().unwrap();
        let (run, data, sock) = (t.path().join("r1"), t.path().join("data"), t.path().join("syncbench-2000000000-ab"));
        for d in [&run, &data, &sock] {
            fs::create_dir(d).unwrap();
        }
        fs::write(data.join("blob"), b"x").unwrap();
        let m = Marker {
            pid: 2_000_000_000,
            data_dir: Some(data.clone()),
            socket_dir: Some(sock.clone()),
            cgroup_dir: None,
        };
        m.write(&run).unwrap();
        // A live run (its lock held) is not touched.
        let held = try_lock(&run).unwrap();
        assert!(sweep(t.path()).is_empty());
        drop(held);
        let cleared = sweep(t.path());
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
        assert_eq!(sweep(t.path()).len(), 1);
        assert!(run.join("summary.json").is_file() && !run.join(MARKER).exists());
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

//! `--mem-limit`: a cgroup for the node where the kernel allows one, else a watchdog.
//!
//! - cgroup v2: a child of this process's cgroup with `memory.max`; OOM kills are
//!   counted in `memory.events` (`oom_kill`).
//! - cgroup v1: a child of this process's memory cgroup with `memory.limit_in_bytes`;
//!   OOM kills counted in `memory.oom_control` (`oom_kill`).
//! - otherwise: the sampler kills the node when its RSS exceeds the limit
//!   (`watchdog_killed`); coarser (one sample interval late) but always available.
//!
//! The node joins the cgroup between fork and exec (it writes `0` to `cgroup.procs`
//! itself), so no allocation of the node escapes the limit.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    None,
    CgroupV2,
    CgroupV1,
    Watchdog,
}

/// The limit in force for one node.
pub struct MemLimit {
    pub mechanism: Mechanism,
    pub limit_bytes: Option<u64>,
    pub cgroup_dir: Option<PathBuf>,
    /// Open `cgroup.procs` of the child cgroup, written by the node before exec.
    pub procs_file: Option<File>,
    /// Why a cgroup could not be used, if it could not.
    pub fallback_reason: Option<String>,
}

impl MemLimit {
    pub fn none() -> MemLimit {
        MemLimit {
            mechanism: Mechanism::None,
            limit_bytes: None,
            cgroup_dir: None,
            procs_file: None,
            fallback_reason: None,
        }
    }

    /// Sets up the strongest mechanism available for `limit` bytes.
    pub fn setup(limit: u64, run_tag: &str) -> MemLimit {
        let mut reasons = Vec::new();
        for (mechanism, attempt) in [
            (Mechanism::CgroupV2, try_v2 as fn(u64, &str) -> Result<(PathBuf, File), String>),
            (Mechanism::CgroupV1, try_v1),
        ] {
            match attempt(limit, run_tag) {
                Ok((dir, procs)) => {
                    return MemLimit {
                        mechanism,
                        limit_bytes: Some(limit),
                        cgroup_dir: Some(dir),
                        procs_file: Some(procs),
                        fallback_reason: None,
                    }
                }
                Err(e) => reasons.push(e),
            }
        }
        MemLimit {
            mechanism: Mechanism::Watchdog,
            limit_bytes: Some(limit),
            cgroup_dir: None,
            procs_file: None,
            fallback_reason: Some(reasons.join("; ")),
        }
    }

    /// OOM kills recorded by the cgroup so far (None without a cgroup).
    pub fn oom_kills(&self) -> Option<u64> {
        let dir = self.cgroup_dir.as_ref()?;
        let (file, key) = match self.mechanism {
            Mechanism::CgroupV2 => ("memory.events", "oom_kill"),
            Mechanism::CgroupV1 => ("memory.oom_control", "oom_kill"),
            _ => return None,
        };
        let text = fs::read_to_string(dir.join(file)).ok()?;
        text.lines().find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
    }

    /// `config.json`'s `limits.mem_limit`: mechanism, limit, why a fallback was taken.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "mechanism": self.mechanism, "limit_bytes": self.limit_bytes, "fallback_reason": self.fallback_reason,
        })
    }

    /// The cgroup's own evidence files, for crash bundles.
    pub fn evidence(&self) -> String {
        let Some(dir) = &self.cgroup_dir else {
            return format!("mechanism: {:?}\n{}\n", self.mechanism, self.fallback_reason.clone().unwrap_or_default());
        };
        let files = [
            "memory.events",
            "memory.max",
            "memory.peak",
            "memory.oom_control",
            "memory.limit_in_bytes",
            "memory.max_usage_in_bytes",
            "memory.failcnt",
        ];
        let mut out = format!("mechanism: {:?}\n", self.mechanism);
        for f in files {
            if let Ok(t) = fs::read_to_string(dir.join(f)) {
                out.push_str(&format!("== {f}\n{t}"));
            }
        }
        out
    }
}

impl Drop for MemLimit {
    fn drop(&mut self) {
        if let Some(dir) = &self.cgroup_dir {
            // Succeeds once the node has exited; a leftover empty cgroup is harmless.
            let _ = fs::remove_dir(dir);
        }
    }
}

/// This process's cgroup path for a v1 controller or (`controller == ""`) for v2.
fn own_cgroup(controller: &str) -> Option<String> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let hit = if controller.is_empty() { ctrls.is_empty() } else { ctrls.split(',').any(|c| c == controller) };
        hit.then(|| path.to_owned())
    })
}

fn make_child(
    parent: &Path,
    run_tag: &str,
    limit_file: &str,
    limit: u64,
    procs: &str,
) -> Result<(PathBuf, File), String> {
    let dir = parent.join(format!("syncbench-{run_tag}"));
    // The error names the cgroup's own name, not this machine's hierarchy above it.
    fs::create_dir(&dir).map_err(|e| format!("creating cgroup syncbench-{run_tag}: {e}"))?;
    let setup = || -> Result<File, String> {
        fs::write(dir.join(limit_file), limit.to_string()).map_err(|e| format!("{limit_file}: {e}"))?;
        OpenOptions::new().write(true).open(dir.join(procs)).map_err(|e| format!("{procs}: {e}"))
    };
    match setup() {
        Ok(f) => Ok((dir, f)),
        Err(e) => {
            let _ = fs::remove_dir(&dir);
            Err(e)
        }
    }
}

fn try_v2(limit: u64, run_tag: &str) -> Result<(PathBuf, File), String> {
    let path = own_cgroup("").ok_or("cgroup v2: no unified hierarchy entry")?;
    let base = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let controllers = fs::read_to_string(base.join("cgroup.controllers")).map_err(|e| format!("cgroup v2: {e}"))?;
    if !controllers.split_whitespace().any(|c| c == "memory") {
        return Err("cgroup v2: memory controller not available".into());
    }
    make_child(&base, run_tag, "memory.max", limit, "cgroup.procs").map_err(|e| format!("cgroup v2: {e}"))
}

fn try_v1(limit: u64, run_tag: &str) -> Result<(PathBuf, File), String> {
    let path = own_cgroup("memory").ok_or("cgroup v1: no memory controller entry")?;
    let base = Path::new("/sys/fs/cgroup/memory").join(path.trim_start_matches('/'));
    make_child(&base, run_tag, "memory.limit_in_bytes", limit, "cgroup.procs").map_err(|e| format!("cgroup v1: {e}"))
}

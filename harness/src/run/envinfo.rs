//! The environment snapshot in `config.json`: what machine and software produced a run.
//! Environment variables are recorded from an allow-list only: a results directory
//! must never carry a secret that happened to be in the shell.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Serialize;

/// Variables recorded when set (plus any `MIMALLOC_*`).
pub const ENV_ALLOWLIST: &[&str] = &[
    "MALLOC_ARENA_MAX",
    "GLIBC_TUNABLES",
    "_RJEM_MALLOC_CONF",
    "RUST_BACKTRACE",
    "RUST_MIN_STACK",
    "CI",
    "GITHUB_ACTIONS",
    "GITHUB_RUN_ID",
    "GITHUB_SHA",
    "RUNNER_NAME",
    "RUNNER_OS",
];

#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub host: String,
    pub cpu_model: String,
    pub cores: usize,
    pub memory_bytes: u64,
    pub kernel: String,
    pub os: String,
    pub glibc_version: String,
    pub rustc: &'static str,
    pub syncbench_version: &'static str,
    /// The commit the harness binary was built from, and whether the tree had changes
    /// (tracked or untracked) then: compile-time, not the checkout at run time. The
    /// node reports its own in `node.reported.build`.
    pub git_sha: &'static str,
    pub git_dirty: &'static str,
    pub crate_versions: BTreeMap<&'static str, &'static str>,
    pub cgroup_version: &'static str,
    pub env: BTreeMap<String, String>,
}

fn first_line(path: &str) -> String {
    fs::read_to_string(path).map(|s| s.lines().next().unwrap_or("").trim().to_owned()).unwrap_or_default()
}

pub fn snapshot() -> Environment {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model =
        cpuinfo.lines().find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|x| x.1.trim().to_owned()));
    let os = fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned()))
        .unwrap_or_default();
    // SAFETY: returns a pointer to a static NUL-terminated string.
    let glibc = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) }.to_string_lossy().into_owned();
    Environment {
        host: first_line("/proc/sys/kernel/hostname"),
        cpu_model: cpu_model.unwrap_or_default(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory_bytes: crate::procfs::read_meminfo().map_or(0, |m| m.1),
        kernel: first_line("/proc/sys/kernel/osrelease"),
        os,
        glibc_version: glibc,
        rustc: env!("SYNCBENCH_RUSTC"),
        syncbench_version: env!("CARGO_PKG_VERSION"),
        git_sha: env!("SYNCBENCH_GIT_SHA"),
        git_dirty: env!("SYNCBENCH_GIT_DIRTY"),
        crate_versions: env!("SYNCBENCH_CRATE_VERSIONS").split(',').filter_map(|kv| kv.split_once('=')).collect(),
        cgroup_version: if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() { "v2" } else { "v1" },
        env: allowed_env(std::env::vars()),
    }
}

/// The allow-listed subset of `vars`.
pub fn allowed_env(vars: impl Iterator<Item = (String, String)>) -> BTreeMap<String, String> {
    vars.filter(|(k, _)| ENV_ALLOWLIST.contains(&k.as_str()) || k.starts_with("MIMALLOC_")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_recorded() {
        let vars = [
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
            ("GITHUB_TOKEN", "ghp_x"),
            ("MALLOC_ARENA_MAX", "2"),
            ("MIMALLOC_PURGE_DELAY", "0"),
        ];
        let got = allowed_env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(got.keys().collect::<Vec<_>>(), ["MALLOC_ARENA_MAX", "MIMALLOC_PURGE_DELAY"]);
    }
}

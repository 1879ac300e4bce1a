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
    /// CPUs this process may run on (affinity and cgroup limits applied).
    pub cores: usize,
    pub logical_cpus: usize,
    pub physical_cores: Option<usize>,
    pub memory_bytes: u64,
    pub kernel: String,
    pub os: String,
    pub distribution: String,
    pub virtualization: String,
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

/// The machine and software inventory. Host, CPU, memory, kernel and distribution come
/// from `sysinfo`; the sampler's hot path keeps its own cheap `/proc` readers.
pub fn snapshot() -> Environment {
    use sysinfo::{CpuRefreshKind, System};
    let sys = System::new().ok().map(|mut s| {
        s.refresh_memory();
        s.refresh_cpu_list(CpuRefreshKind::nothing());
        s
    });
    let cpus = sys.as_ref().map_or(&[][..], |s| s.cpus());
    // SAFETY: returns a pointer to a static NUL-terminated string.
    let glibc = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) }.to_string_lossy().into_owned();
    Environment {
        host: System::host_name().unwrap_or_default(),
        cpu_model: cpus.first().map(|c| c.brand().trim().to_owned()).unwrap_or_default(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        logical_cpus: cpus.len(),
        physical_cores: System::physical_core_count().ok(),
        memory_bytes: sys.as_ref().map_or(0, System::total_memory),
        kernel: System::kernel_version().unwrap_or_default(),
        os: System::long_os_version().unwrap_or_default(),
        distribution: System::distribution_id(),
        virtualization: virtualization(),
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

/// `container`, `virtual machine (<vendor> <product>)` or `none detected`: whether the
/// figures came from bare metal (`sysinfo` does not say; the CPU's `hypervisor` flag
/// and the DMI strings do).
fn virtualization() -> String {
    let container = ["/.dockerenv", "/run/.containerenv"].iter().any(|p| Path::new(p).exists());
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let hypervisor =
        cpuinfo.lines().filter(|l| l.starts_with("flags")).any(|l| l.split_whitespace().any(|f| f == "hypervisor"));
    let dmi = ["sys_vendor", "product_name"].map(|f| first_line(&format!("/sys/class/dmi/id/{f}")));
    let dmi = dmi.iter().filter(|s| !s.is_empty()).cloned().collect::<Vec<_>>().join(" ");
    let vm = if dmi.is_empty() { "virtual machine".to_owned() } else { format!("virtual machine ({dmi})") };
    match (container, hypervisor) {
        (true, true) => format!("container in a {vm}"),
        (true, false) => "container".into(),
        (false, true) => vm,
        (false, false) => "none detected".into(),
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

//! What the node reads about itself from `/proc/self` for its final `node_summary`:
//! its own peak resident set (`VmHWM`) and storage I/O. The harness samples the same
//! files from outside, but its last sample may precede the node's last growth; this
//! read is taken after the session's work is done, just before `Done`.

use serde::{Deserialize, Serialize};

/// `node_summary`'s `self`; a field is null where `/proc` does not provide it (then the
/// harness keeps its own samples).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfReport {
    pub vm_hwm_bytes: Option<u64>,
    /// `RssAnon` at the same moment as `node_summary`'s `heap_live_bytes`: the two give
    /// what the process holds beyond what the program does (`retained_end_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_anon_bytes: Option<u64>,
    pub io_read_bytes: Option<u64>,
    pub io_write_bytes: Option<u64>,
}

/// Reads this process's own peak resident set and storage I/O.
pub fn read() -> SelfReport {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    SelfReport {
        vm_hwm_bytes: field(&status, "VmHWM:").map(|kb| kb * 1024),
        rss_anon_bytes: field(&status, "RssAnon:").map(|kb| kb * 1024),
        io_read_bytes: field(&io, "read_bytes:"),
        io_write_bytes: field(&io, "write_bytes:"),
    }
}

/// Whether environment variable `name` changes an allocator: glibc's `MALLOC_*_`
/// variables and `GLIBC_TUNABLES`, jemalloc's and mimalloc's configuration, and the
/// loader's `LD_PRELOAD` and `LD_AUDIT` (which swap the allocator outright;
/// `LD_LIBRARY_PATH`, which `cargo run` sets, only says where libraries are found).
/// The harness removes all of them from the node's environment and sets only those its
/// flags ask for; the node announces what it actually got ([`allocator_env`]).
pub fn is_allocator_env(name: &str) -> bool {
    ["MALLOC_", "_RJEM_", "JE_", "MIMALLOC_"].iter().any(|p| name.starts_with(p))
        || ["GLIBC_TUNABLES", "LD_PRELOAD", "LD_AUDIT"].contains(&name)
}

/// The allocator- and loader-changing variables in this process's environment
/// (`node_start`'s `allocator_env`): what configured this node's allocator, as the
/// node itself saw it (a wrapper script given as the node binary cannot hide one).
pub fn allocator_env() -> std::collections::BTreeMap<String, String> {
    std::env::vars_os()
        .filter(|(k, _)| is_allocator_env(&k.to_string_lossy()))
        .map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()))
        .collect()
}

/// The first number after `key` at the start of a line.
fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_peak_and_io() {
        let f = read();
        assert!(f.vm_hwm_bytes.is_some_and(|b| b > 0), "{f:?}");
        assert_eq!(field("VmHWM:\t  1234 kB\nVmRSS: 5 kB", "VmHWM:"), Some(1234));
        assert_eq!(field("rchar: 1\nwrite_bytes: 4096\n", "write_bytes:"), Some(4096));
        assert_eq!(field("", "VmHWM:"), None);
    }
}

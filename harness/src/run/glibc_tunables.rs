//! `--alloc-conf` for glibc, checked against this machine's glibc before a run: the
//! tunables its dynamic loader lists (`ld.so --list-tunables`, glibc ≥ 2.33), read by
//! [`check_here`]; what each setting must satisfy is in `crate::glibc_conf`.

use std::path::PathBuf;
use std::time::Duration;

use crate::glibc_conf::{complaints, parse, parse_list};

/// How long `ld.so --list-tunables` may take, and how much of its output is read
/// (about 3 KiB on glibc 2.36).
const LIST_TIMEOUT: Duration = Duration::from_secs(10);
const LIST_MAX_BYTES: u64 = 256 << 10;

/// `conf` checked against this machine's glibc: `Ok(complaints)` (empty: every
/// setting will apply), `Err` if the loader cannot list its tunables.
pub fn check_here(conf: &str) -> anyhow::Result<Vec<String>> {
    let settings = parse(conf).map_err(anyhow::Error::msg)?;
    let loader =
        loader().ok_or_else(|| anyhow::anyhow!("no dynamic loader (ld-linux*.so) is mapped in this process"))?;
    let mut cmd = std::process::Command::new(&loader);
    cmd.arg("--list-tunables").env_clear();
    let out = crate::node_bin::output_within(cmd, LIST_TIMEOUT, LIST_MAX_BYTES)?.ok_or_else(|| {
        anyhow::anyhow!("`{} --list-tunables` did not finish within {LIST_TIMEOUT:?}", loader.display())
    })?;
    let listed = parse_list(&String::from_utf8_lossy(&out.stdout));
    if listed.is_empty() {
        anyhow::bail!(
            "`{} --list-tunables` listed no tunables (glibc 2.33 or newer is needed to check a glibc setting)",
            loader.display()
        );
    }
    Ok(complaints(&settings, &listed))
}

/// The dynamic loader mapped into this process (the harness and the node binaries are
/// built by one toolchain on one machine: the same loader and glibc).
fn loader() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().filter_map(|l| l.split_whitespace().nth(5)).map(PathBuf::from).find(|p| {
        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("ld-linux") && n.contains(".so"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machines_loader_lists_the_malloc_tunables() {
        // Linux with glibc ≥ 2.33 is what the harness supports (the CI image has 2.36).
        let ok = check_here("glibc.malloc.trim_threshold=131072").unwrap();
        assert!(ok.is_empty(), "{ok:?}");
        let bad = check_here("glibc.malloc.no_such_tunable=1").unwrap();
        assert_eq!(bad, ["this glibc has no tunable `glibc.malloc.no_such_tunable`"]);
    }
}

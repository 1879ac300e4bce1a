//! The settings every run, cell and summary names, as types: the allocator a node
//! binary is compiled with, glibc's `MALLOC_ARENA_MAX`, the default shape of a run, and
//! how a configuration becomes a directory name. A leaf: it imports nothing of the
//! harness, so the command line, the runner and the result files can all use it.

use std::fmt;
use std::time::Duration;

use syncbench_node::CompactionMode;

use serde::{Deserialize, Serialize};

/// The allocator a node binary is compiled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Allocator {
    Glibc,
    Jemalloc,
    Mimalloc,
}

impl Allocator {
    pub fn name(self) -> &'static str {
        match self {
            Allocator::Glibc => "glibc",
            Allocator::Jemalloc => "jemalloc",
            Allocator::Mimalloc => "mimalloc",
        }
    }

    /// The binary of `syncbench-allocators` built for this allocator.
    pub fn node_bin_name(self) -> String {
        format!("node-{}", self.name())
    }
}

impl fmt::Display for Allocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// glibc's `MALLOC_ARENA_MAX` for the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArenaMax {
    /// Unset (glibc default: 8 arenas per core).
    Default,
    Max(u32),
}

impl ArenaMax {
    /// Whether this setting is ignored by `alloc`'s node (a cap for an allocator other
    /// than glibc, the only one that reads `MALLOC_ARENA_MAX`): `ingest` refuses such a
    /// run, `matrix` skips such a cell unless it is kept as a control (`--no-skip`).
    pub fn ignored_by(self, alloc: Allocator) -> bool {
        self != ArenaMax::Default && alloc != Allocator::Glibc
    }

    /// The cap, `None` when unset (how `summary.json` and baselines record it).
    pub fn limit(self) -> Option<u32> {
        match self {
            ArenaMax::Default => None,
            ArenaMax::Max(n) => Some(n),
        }
    }

    pub fn parse(s: &str) -> Result<ArenaMax, String> {
        match s.trim() {
            "default" => Ok(ArenaMax::Default),
            n => n
                .parse::<u32>()
                .ok()
                .filter(|&n| (1..=1024).contains(&n))
                .map(ArenaMax::Max)
                .ok_or_else(|| format!("expected `default` or a number 1..=1024, got `{s}`")),
        }
    }
}

/// Driver connections unless told otherwise: a history node fetches from many peers.
pub const DEFAULT_PEERS: u64 = 16;

/// `[_pN][_wtN][_dNs]` (see [`IngestOptions::shape_suffix`]).
pub fn shape_suffix(peers: u64, worker_threads: Option<u64>, duration: Option<Duration>) -> String {
    let mut s = String::new();
    if peers != DEFAULT_PEERS {
        s.push_str(&format!("_p{peers}"));
    }
    if let Some(n) = worker_threads {
        s.push_str(&format!("_wt{n}"));
    }
    if let Some(d) = duration {
        s.push_str(&format!("_d{}s", d.as_secs()));
    }
    s
}

/// Appended to the cell name of a run with heap profiles.
pub const PROFILED_SUFFIX: &str = "_heapprof";

/// `<alloc>[_arenaN]_<mode>_cc<N>`: a configuration's name in run and matrix directories.
pub fn cell_label(alloc: Allocator, arena_max: ArenaMax, compaction: CompactionMode, cc: u64) -> String {
    let arena = match arena_max {
        ArenaMax::Default => String::new(),
        ArenaMax::Max(n) => format!("_arena{n}"),
    };
    let mode = compaction.as_str();
    sanitize(&format!("{alloc}{arena}_{mode}_cc{cc}"))
}

/// Keeps `[A-Za-z0-9._-]`, replaces anything else (including `/`) with `-`: a name
/// built from user input can never leave the directory it is created in.
pub fn sanitize(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect();
    let s = s.trim_start_matches('.').to_owned();
    if s.is_empty() {
        "unnamed".to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_cannot_escape() {
        assert_eq!(sanitize("../../etc/passwd"), "-..-etc-passwd");
        assert_eq!(sanitize(".."), "unnamed");
        assert_eq!(sanitize("mainnet_jemalloc_streaming_cc1"), "mainnet_jemalloc_streaming_cc1");
    }

    #[test]
    fn arena_max_parsing() {
        assert_eq!(ArenaMax::parse("default"), Ok(ArenaMax::Default));
        assert_eq!(ArenaMax::parse("2"), Ok(ArenaMax::Max(2)));
        assert!(ArenaMax::parse("0").is_err());
        assert!(ArenaMax::parse("lots").is_err());
    }
}

//! The settings every run, cell and summary names, as types: the allocator a node
//! binary is compiled with, glibc's `MALLOC_ARENA_MAX`, the default shape of a run, and
//! how a configuration becomes a directory name. A leaf: it imports nothing of the
//! harness, so the command line, the runner and the result files can all use it.

use std::fmt;
use std::time::Duration;

use syncbench_node::config::StoreKind;
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

/// Which allocator serves a RocksDB node's C `malloc` (`--engine-malloc`): the node's
/// own (`allocator`: jemalloc or mimalloc built to replace `malloc`) or glibc's
/// (`system`: only the node's Rust allocations go to the allocator under test, as in a
/// Rust node that sets `#[global_allocator]` and links RocksDB unchanged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EngineMalloc {
    #[default]
    Allocator,
    System,
}

impl EngineMalloc {
    pub fn name(self) -> &'static str {
        match self {
            EngineMalloc::Allocator => "allocator",
            EngineMalloc::System => "system",
        }
    }

    /// Whether this setting cannot change `alloc`'s run on `store`: there is no engine
    /// (native store), or the node's allocator is glibc's `malloc` already.
    pub fn ignored_by(self, alloc: Allocator, store: StoreKind) -> bool {
        self == EngineMalloc::System && (store == StoreKind::Native || alloc == Allocator::Glibc)
    }

    /// The allocator that must serve the engine's `malloc` (what the node reports).
    pub fn expected_server(self, alloc: Allocator) -> &'static str {
        match self {
            EngineMalloc::Allocator => alloc.name(),
            EngineMalloc::System => Allocator::Glibc.name(),
        }
    }
}

impl fmt::Display for EngineMalloc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The store part of a cell name: `_<compaction mode>` for the native store (its own
/// compaction), `_rocksdb` or `_rocksdb-sysmalloc` (`--engine-malloc system`).
fn store_label(store: StoreKind, engine_malloc: EngineMalloc, compaction: CompactionMode) -> String {
    match (store, engine_malloc) {
        (StoreKind::Native, _) => format!("_{}", compaction.as_str()),
        (StoreKind::Rocksdb, EngineMalloc::Allocator) => "_rocksdb".into(),
        (StoreKind::Rocksdb, EngineMalloc::System) => "_rocksdb-sysmalloc".into(),
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

/// Longest `--alloc-conf` accepted: the published tunings are under 80 bytes, and the
/// setting becomes part of run directory names.
pub const ALLOC_CONF_MAX_BYTES: usize = 160;

/// `_conf-<setting>` for a run with `--alloc-conf` (glibc's `glibc.malloc.` prefixes
/// dropped; characters outside `[A-Za-z0-9._-]` become `-`); empty without one.
pub fn conf_suffix(conf: Option<&str>) -> String {
    conf.map_or_else(String::new, |c| format!("_conf-{}", sanitize(&c.replace("glibc.malloc.", ""))))
}

/// Appended to the cell name of a run with heap profiles.
pub const PROFILED_SUFFIX: &str = "_heapprof";

/// A configuration of the node as a cell name: allocator, arena cap, store, compaction.
#[derive(Debug, Clone, Copy)]
pub struct Cell {
    pub alloc: Allocator,
    pub arena_max: ArenaMax,
    pub store: StoreKind,
    pub engine_malloc: EngineMalloc,
    pub compaction: CompactionMode,
    pub compaction_concurrency: u64,
}

/// `<alloc>[_arenaN]_<mode>_cc<N>` (native store) or `<alloc>[_arenaN]_rocksdb[-sysmalloc]_cc<N>`:
/// a configuration's name in run and matrix directories.
pub fn cell_label(c: Cell) -> String {
    let arena = match c.arena_max {
        ArenaMax::Default => String::new(),
        ArenaMax::Max(n) => format!("_arena{n}"),
    };
    let store = store_label(c.store, c.engine_malloc, c.compaction);
    sanitize(&format!("{}{arena}{store}_cc{}", c.alloc, c.compaction_concurrency))
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

//! The allocators a node binary can be compiled with, and glibc's `MALLOC_ARENA_MAX`:
//! the two choices every run, cell and summary names.

use std::fmt;

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

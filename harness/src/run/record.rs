//! A run as data: what was decided before the node started ([`Plan`]) and what the
//! run produced ([`Collected`]); the summary and the run's files are computed from
//! these two (`results::summary`, `run::write`).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use syncbench_node::Config;
use syncbench_workloads::Description;

use super::{ceiling, driver, node};
use crate::options::IngestOptions;
use crate::time::RunClock;

/// Everything decided before the node starts.
#[derive(Clone)]
pub struct Plan<'a> {
    pub opts: &'a IngestOptions,
    pub run_dir: PathBuf,
    pub data_dir: PathBuf,
    pub socket_dir: PathBuf,
    pub node_bin: PathBuf,
    pub description: Description,
    pub start: SystemTime,
    /// The workload's fingerprint, computed once (a trace's is a hash of all its rows).
    pub spec_hash: String,
    /// The measured node's configuration (its command line is `node.to_args()`).
    pub node: Config,
    /// The node's environment, decided once ([`NodeEnv::of`]).
    pub env: NodeEnv,
}

/// The node's allocator environment, decided once per run and used by every process of
/// it (the CPU probes, the measured node) and by `config.json`: what the run's flags set
/// (`MALLOC_ARENA_MAX`, `_RJEM_MALLOC_CONF`, `MIMALLOC_*`) and which allocator- or
/// loader-changing variables of the harness's own environment the node will not see.
#[derive(Debug, Clone)]
pub struct NodeEnv {
    pub set: Vec<(String, String)>,
    pub removed: Vec<String>,
}

impl NodeEnv {
    pub fn of(opts: &IngestOptions) -> NodeEnv {
        NodeEnv { set: node::allocator_env(opts), removed: crate::node_bin::removed_allocator_env() }
    }
}

/// What the run produced, for the writers.
pub struct Collected {
    pub driver: Option<driver::DriverResult>,
    pub samples: Vec<crate::record::sample::Sample>,
    pub exit: Option<node::ExitInfo>,
    pub stderr_tail: String,
    pub timed_out: bool,
    pub watchdog_fired: bool,
    pub oom_kills: u64,
    pub kernel_oom_line: Option<String>,
    pub mem_limit: serde_json::Value,
    pub cgroup_evidence: String,
    pub wall: Duration,
    pub pid: u32,
    pub acked: u64,
    pub acked_bytes: u64,
    pub ceilings: ceiling::Ceilings,
    /// The run's time zero (the node's spawn).
    pub clock: RunClock,
    /// Acknowledged blocks read back from the store (`None`: not attempted).
    pub verification: Option<crate::verify::SampleCheck>,
    /// The signal that stopped the run while the node ran, if any.
    pub interrupted: Option<i32>,
    /// The run stalled (the node stopped, fell silent or never became ready, or the
    /// sampling had a hole).
    pub stall: Option<crate::record::outcome::Stall>,
    /// `--heap-profile`: the converted profiles.
    pub heap_profile: Option<crate::heap::HeapProfileSummary>,
}

//! `config.json`: how a run was set up — workload, node, time zero, sampling, ceilings,
//! limits, environment. Written once before the node starts (and again with what the
//! node reported), read back only through [`ConfigFile`].
//!
//! ## Format
//! ```text
//! { "run", "started_at", "command", "cell",
//!   "workload": { arg, name, spec_hash, description, blocks, start_height, shard_size,
//!                 seed, arrival_window, rate_limit_mib_per_s, describe },
//!   "node": { alloc, binary, arena_max, alloc_conf, compaction, compaction_concurrency,
//!             writer_batch, args (paths as <socket>/<data-dir>), env, reported },
//!   "time_zero": { event, unix_ms, utc, applies_to },
//!   "sampling": { interval_ms }, "ceilings": { disk_before, disk_after, cpu, … } | null,
//!   "limits": { timeout_s, mem_limit }, "environment": { host, cores, kernel, … } }
//! ```
//! `cell`, `spec_hash`, `time_zero` and `node.reported.mode` are absent in runs
//! recorded before they were added; readers default them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use syncbench_node::events::NodeStart;
use syncbench_node::CompactionMode;

use crate::record::ceilings::Ceilings;
use crate::settings::{cell_label, Allocator, ArenaMax, Cell, EngineMalloc};
use crate::time::TimeZero;
use syncbench_node::config::StoreKind;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigFile {
    /// The run directory's name.
    #[serde(default)]
    pub run: Option<String>,
    #[serde(default)]
    pub started_at: String,
    #[serde(default)]
    pub command: Vec<String>,
    /// The configuration's name (`<alloc>[_arenaN]_<mode>_cc<N>`), as the run named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    pub workload: WorkloadRecord,
    pub node: NodeRecord,
    #[serde(default)]
    pub time_zero: Option<TimeZero>,
    #[serde(default)]
    pub sampling: Sampling,
    /// The probes' results; `None` with `--no-ceilings`.
    #[serde(default)]
    pub ceilings: Option<Ceilings>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub environment: EnvironmentRecord,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkloadRecord {
    /// The argument the workload was named by (built-in name or path).
    #[serde(default)]
    pub arg: String,
    pub name: String,
    #[serde(default)]
    pub spec_hash: Option<String>,
    #[serde(default)]
    pub description: String,
    pub blocks: u64,
    #[serde(default)]
    pub start_height: u64,
    pub shard_size: u64,
    pub seed: u64,
    #[serde(default)]
    pub arrival_window: u64,
    #[serde(default)]
    pub rate_limit_mib_per_s: Option<f64>,
    /// `--duration`: the run sent blocks for this long, then finished (absent for a run
    /// that sent the whole workload, and in runs recorded before it was written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// `syncbench workload describe`'s figures (kept as written; nothing reads them).
    #[serde(default)]
    pub describe: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRecord {
    pub alloc: Allocator,
    #[serde(default)]
    pub binary: Option<String>,
    #[serde(default = "default_arena")]
    pub arena_max: ArenaMax,
    #[serde(default)]
    pub alloc_conf: Option<String>,
    pub compaction: CompactionMode,
    pub compaction_concurrency: u64,
    /// `--store` and `--engine-malloc` (absent in runs recorded before them: native).
    #[serde(default)]
    pub store: StoreKind,
    #[serde(default)]
    pub engine_malloc: EngineMalloc,
    pub writer_batch: u64,
    /// The node's command line, this machine's paths as `<socket>` and `<data-dir>`.
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Variables of the harness's environment that change an allocator or the loader
    /// (`LD_PRELOAD`, `GLIBC_TUNABLES`, `MALLOC_*`, …), by name: removed from the
    /// node's environment, so the run is the configuration its flags say. Absent when
    /// there were none (and in runs recorded before they were removed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_removed: Vec<String>,
    /// The node's `node_start` event (absent until the node reported).
    #[serde(default)]
    pub reported: Option<NodeStart>,
}

fn default_arena() -> ArenaMax {
    ArenaMax::Default
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sampling {
    pub interval_ms: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Limits {
    pub timeout_s: f64,
    /// Mechanism, limit and why a fallback was taken (see `run::memlimit`).
    #[serde(default)]
    pub mem_limit: Value,
}

/// The environment snapshot: `host` is read back (merged cells are named by it); the
/// rest is kept as written (`run::envinfo` owns its fields).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EnvironmentRecord {
    #[serde(default)]
    pub host: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl ConfigFile {
    pub fn host(&self) -> &str {
        self.environment.host.as_deref().unwrap_or("unknown-host")
    }

    /// The configuration's name: as recorded, or derived from the node settings for
    /// runs recorded before the cell was.
    pub fn cell(&self) -> String {
        let n = &self.node;
        self.cell.clone().unwrap_or_else(|| {
            cell_label(Cell {
                alloc: n.alloc,
                arena_max: n.arena_max,
                store: n.store,
                engine_malloc: n.engine_malloc,
                compaction: n.compaction,
                compaction_concurrency: n.compaction_concurrency,
            })
        })
    }
}

//! What a node does: how it compacts, and whether it stores what it acknowledges.
//! Named in flags, events, run names and summaries.

use serde::{Deserialize, Serialize};

/// How a complete shard's WAL becomes a sorted segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompactionMode {
    /// Read the whole WAL into memory, clone every payload, sort, build the segment in
    /// memory, write it at once: the incident's pre-fix behaviour (peak ≈ 3 × WAL size).
    Buffered,
    /// Scan record headers into an offset index, read records on demand in block
    /// order, write in bounded chunks: the fix (peak ≈ index + one record + 1 MiB).
    #[default]
    Streaming,
}

impl std::fmt::Display for CompactionMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a node does with the blocks it acknowledges, announced in `node_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeMode {
    /// Stores every block durably before acknowledging it (the system under test).
    Store,
    /// `--sink`: acknowledges on receipt, stores nothing.
    Sink,
    /// `--null-writer`: decodes and hashes, stores nothing.
    NullWriter,
}

impl NodeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeMode::Store => "store",
            NodeMode::Sink => "sink",
            NodeMode::NullWriter => "null_writer",
        }
    }
}

impl CompactionMode {
    /// The flag value and the name used in events, run names and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            CompactionMode::Buffered => "buffered",
            CompactionMode::Streaming => "streaming",
        }
    }
}

/// Where a storing node keeps what it acknowledges (`--store`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// The node's own per-shard WALs, compacted into sorted segments (`store`, `wal`,
    /// `segment`, `compaction`).
    #[default]
    Native,
    /// RocksDB (`rocks`): only in binaries built with the `rocksdb` feature
    /// (`node-<alloc>-rocksdb`).
    Rocksdb,
}

impl StoreKind {
    /// The flag value and the name used in events, run names and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Native => "native",
            StoreKind::Rocksdb => "rocksdb",
        }
    }

    /// The stores this binary can run.
    pub fn compiled_in() -> Vec<StoreKind> {
        let mut v = vec![StoreKind::Native];
        if cfg!(feature = "rocksdb") {
            v.push(StoreKind::Rocksdb);
        }
        v
    }
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

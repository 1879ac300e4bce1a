//! What a workload will do, computed before it runs: sizes, shards, disk needed.
//! `syncbench workload describe` prints it and the harness's free-disk preflight uses it.

use serde::Serialize;

use crate::generator::Generator;
use crate::WorkloadSpec;

/// Most blocks generated to estimate sizes (evenly spaced over the workload).
pub const MAX_SAMPLED_BLOCKS: u64 = 4_000;
/// Bytes the node adds per stored block: WAL record header (24) or segment record
/// header plus index entry (16 + 16); the larger is used for estimates.
pub const STORE_OVERHEAD_PER_BLOCK: u64 = 32;

/// Distribution summary of one per-block quantity over the sampled blocks.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Quantiles {
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p95: u64,
    pub p99: u64,
    pub max: u64,
}

impl Quantiles {
    /// Summarises `values` (sorted in place).
    pub fn of(values: &mut [u64]) -> Quantiles {
        values.sort_unstable();
        let n = values.len();
        let at = |p: f64| values.get(((n as f64 * p).ceil() as usize).clamp(1, n.max(1)) - 1).copied().unwrap_or(0);
        let mean = if n == 0 { 0.0 } else { values.iter().sum::<u64>() as f64 / n as f64 };
        Quantiles {
            mean,
            p50: at(0.5),
            p90: at(0.9),
            p95: at(0.95),
            p99: at(0.99),
            max: values.last().copied().unwrap_or(0),
        }
    }
}

/// The plan of one workload run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Description {
    pub name: String,
    pub blocks: u64,
    pub first_block: u64,
    pub last_block: u64,
    pub shard_size: u64,
    pub shards: u64,
    pub sampled_blocks: u64,
    pub bytes_per_block: Quantiles,
    pub txs_per_block: Quantiles,
    pub logs_per_block: Quantiles,
    pub total_bytes_estimate: u64,
    pub shard_bytes_estimate: u64,
}

impl Description {
    /// Samples up to [`MAX_SAMPLED_BLOCKS`] blocks evenly spaced over the workload.
    pub fn of(spec: &WorkloadSpec) -> Description {
        let mut gen = Generator::new(spec);
        let n = spec.blocks.min(MAX_SAMPLED_BLOCKS);
        let step = spec.blocks / n;
        let (mut bytes, mut txs, mut logs) = (Vec::new(), Vec::new(), Vec::new());
        let mut buf = Vec::new();
        for i in 0..n {
            let shape = gen.block(spec.start_height + i * step, &mut buf);
            bytes.push(shape.bytes as u64);
            txs.push(shape.transactions as u64);
            logs.push(shape.logs as u64);
        }
        let bytes_per_block = Quantiles::of(&mut bytes);
        let first = spec.start_height / spec.shard_size;
        let last = (spec.start_height + spec.blocks - 1) / spec.shard_size;
        let stored = bytes_per_block.mean + STORE_OVERHEAD_PER_BLOCK as f64;
        Description {
            name: spec.name.clone(),
            blocks: spec.blocks,
            first_block: spec.start_height,
            last_block: spec.start_height + spec.blocks - 1,
            shard_size: spec.shard_size,
            shards: last - first + 1,
            sampled_blocks: n,
            bytes_per_block,
            txs_per_block: Quantiles::of(&mut txs),
            logs_per_block: Quantiles::of(&mut logs),
            total_bytes_estimate: (bytes_per_block.mean * spec.blocks as f64) as u64,
            shard_bytes_estimate: (stored * spec.shard_size.min(spec.blocks) as f64) as u64,
        }
    }

    /// Peak disk use of the node's data directory: every block stored once, plus, while
    /// a shard compacts, its WAL and its new segment side by side (one per concurrent
    /// compaction), plus 10 % for the noise of the estimate.
    pub fn peak_disk_bytes(&self, compaction_concurrency: u64) -> u64 {
        self.peak_disk_bytes_bounded(compaction_concurrency, None, None, 0)
    }

    /// [`Self::peak_disk_bytes`] for a run that stores at most `blocks` of the workload
    /// (a run limited in time) and keeps only the newest `retain_shards` sealed shards
    /// (history expiry): then the store holds those shards, the sealed shards waiting
    /// for compaction (the node's `compaction_backlog` limit, plus the two one batch can
    /// seal past it), the shards still open (arrival windows straddle at most two) and
    /// the compactions' copies.
    pub fn peak_disk_bytes_bounded(
        &self,
        compaction_concurrency: u64,
        blocks: Option<u64>,
        retain_shards: Option<u64>,
        compaction_backlog: u64,
    ) -> u64 {
        let everything = self.total_bytes_estimate + self.blocks * STORE_OVERHEAD_PER_BLOCK;
        let per_block = self.total_bytes_estimate / self.blocks.max(1) + STORE_OVERHEAD_PER_BLOCK;
        let all = blocks.map_or(everything, |b| everything.min(b.saturating_mul(per_block)));
        let stored = match retain_shards {
            Some(k) => all.min((k + compaction_backlog + 4).saturating_mul(self.shard_bytes_estimate)),
            None => all,
        };
        let peak = stored + compaction_concurrency.max(1) * self.shard_bytes_estimate;
        peak + peak / 10
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1,000,000 blocks of 1,000 bytes stored, in shards of 10,000 (10 MB each).
    fn million() -> Description {
        let q = Quantiles::of(&mut [1_000 - STORE_OVERHEAD_PER_BLOCK]);
        Description {
            name: "t".into(),
            blocks: 1_000_000,
            first_block: 0,
            last_block: 999_999,
            shard_size: 10_000,
            shards: 100,
            sampled_blocks: 1,
            bytes_per_block: q,
            txs_per_block: q,
            logs_per_block: q,
            total_bytes_estimate: 1_000_000 * (1_000 - STORE_OVERHEAD_PER_BLOCK),
            shard_bytes_estimate: 10_000_000,
        }
    }

    /// Regression: with retention the preflight counted the retained and open shards
    /// only, not the sealed WALs waiting for compaction, and passed a run whose backlog
    /// then filled the disk.
    #[test]
    fn retention_bounds_the_disk_with_the_compaction_backlog() {
        let d = million();
        let shard = d.shard_bytes_estimate;
        // Everything stored, plus one shard compacting; 10 % margin.
        assert_eq!(d.peak_disk_bytes(1), (1_000_000_000 + shard) * 11 / 10);
        // Retain 2, backlog 4: 2 + 4 + 4 shards stored, plus one compacting.
        assert_eq!(d.peak_disk_bytes_bounded(1, None, Some(2), 4), 11 * shard * 11 / 10);
        assert!(d.peak_disk_bytes_bounded(1, None, Some(2), 8) > d.peak_disk_bytes_bounded(1, None, Some(2), 4));
        // Never more than the whole workload.
        assert_eq!(d.peak_disk_bytes_bounded(1, None, Some(200), 4), d.peak_disk_bytes(1));
    }
}

//! The long-lived state a history node keeps beside its pipeline: an index of every
//! retained block's location, and a bounded cache of recent decoded headers and
//! receipts.
//!
//! They exist for their memory behaviour, which is what distinguishes allocators over
//! hours: the index is many small objects that live as long as their shard (growing
//! with blocks ingested, shrinking when `--retain-shards` expires a shard), and the
//! cache holds thousands of small allocations made on a runtime worker (decode) and
//! freed on the writer thread when evicted, in between short-lived buffers. Together
//! they pin pages that transient buffers would otherwise return. Nothing in this
//! benchmark reads them back; a node would serve RPC reads from them.

use std::collections::{BTreeMap, VecDeque};

use syncbench_proto::block::{Log, Receipt};
use syncbench_proto::Block;

/// Where a durable block is: its shard and its record's offset in the shard's WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub shard: u64,
    pub wal_offset: u64,
}

/// Block number → location, for the retained range.
#[derive(Debug, Default)]
pub struct Index {
    map: BTreeMap<u64, Location>,
}

impl Index {
    pub fn insert(&mut self, number: u64, at: Location) {
        self.map.insert(number, at);
    }

    /// Forgets every block of shard `shard` (blocks `shard * size .. (shard + 1) * size`).
    pub fn expire_shard(&mut self, shard: u64, shard_size: u64) {
        let (lo, hi) = (shard * shard_size, (shard + 1).saturating_mul(shard_size));
        let keep = self.map.split_off(&hi);
        self.map.retain(|&n, _| n < lo);
        self.map.extend(keep);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, number: u64) -> Option<Location> {
        self.map.get(&number).copied()
    }
}

/// A decoded block's header and receipts, as the cache keeps them.
struct Cached {
    number: u64,
    _header: Vec<u8>,
    _receipts: Vec<Receipt>,
    bytes: u64,
}

/// Recent blocks' headers and receipts, oldest evicted first once their estimated heap
/// size passes the budget.
#[derive(Default)]
pub struct BlockCache {
    budget_bytes: u64,
    bytes: u64,
    entries: VecDeque<Cached>,
}

impl BlockCache {
    pub fn new(budget_bytes: u64) -> BlockCache {
        BlockCache { budget_bytes, bytes: 0, entries: VecDeque::new() }
    }

    /// Keeps `block`'s header and receipts (its transactions are freed now), then evicts
    /// the oldest entries until the cache fits its budget again.
    pub fn insert(&mut self, block: Block) {
        if self.budget_bytes == 0 {
            return;
        }
        let bytes = heap_bytes(&block.header, &block.receipts);
        self.bytes += bytes;
        self.entries.push_back(Cached {
            number: block.number,
            _header: block.header,
            _receipts: block.receipts,
            bytes,
        });
        while self.bytes > self.budget_bytes {
            let Some(old) = self.entries.pop_front() else { break };
            self.bytes -= old.bytes;
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn newest(&self) -> Option<u64> {
        self.entries.back().map(|c| c.number)
    }
}

/// Estimated heap bytes of a header and its receipts (lengths of their buffers; the
/// allocator's rounding is not counted).
fn heap_bytes(header: &[u8], receipts: &[Receipt]) -> u64 {
    let logs = |logs: &[Log]| -> usize {
        logs.iter().map(|l| std::mem::size_of::<Log>() + l.topics.len() * 32 + l.data.len()).sum()
    };
    let r: usize = receipts.iter().map(|r| std::mem::size_of::<Receipt>() + logs(&r.logs)).sum();
    (header.len() + r) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(number: u64, data_bytes: usize) -> Block {
        let log = Log { address: [0; 20], topics: vec![[1; 32]], data: vec![0; data_bytes] };
        let receipt = Receipt { status: 1, cumulative_gas: 21_000, logs: vec![log] };
        Block { number, header: vec![0; 500], transactions: vec![vec![0; 100]], receipts: vec![receipt] }
    }

    #[test]
    fn evicts_oldest_beyond_the_budget() {
        let one = heap_bytes(&block(0, 1000).header, &block(0, 1000).receipts);
        let mut c = BlockCache::new(3 * one);
        (0..10).for_each(|n| c.insert(block(n, 1000)));
        assert_eq!(c.len(), 3);
        assert_eq!(c.bytes(), 3 * one);
        assert_eq!(c.newest(), Some(9));
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let mut c = BlockCache::new(0);
        c.insert(block(1, 10));
        assert!(c.is_empty());
    }

    #[test]
    fn expiring_a_shard_forgets_only_its_blocks() {
        let mut i = Index::default();
        (0..30).for_each(|n| i.insert(n, Location { shard: n / 10, wal_offset: n * 100 }));
        i.expire_shard(1, 10);
        assert_eq!(i.len(), 20);
        assert!(i.get(10).is_none() && i.get(19).is_none());
        assert_eq!(i.get(20), Some(Location { shard: 2, wal_offset: 2000 }));
        assert_eq!(i.get(9), Some(Location { shard: 0, wal_offset: 900 }));
    }
}

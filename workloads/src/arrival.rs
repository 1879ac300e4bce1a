//! The order in which blocks reach the node.
//!
//! Real nodes fetch `window` blocks in parallel from peers and receive them in whatever
//! order the responses come back, so the node's write-ahead logs see blocks out of
//! order. Here each window of consecutive block numbers is shuffled deterministically
//! (Fisher–Yates seeded from the workload seed and the window index).

use crate::rng::SplitMix64;

/// Stream id space for arrival shuffles, kept apart from block content streams.
const ARRIVAL_STREAM: u64 = 0xA11_1BA1_0000_0000;

/// Iterates windows of block numbers in arrival order.
#[derive(Debug, Clone)]
pub struct ArrivalOrder {
    next: u64,
    end: u64,
    window: u64,
    seed: u64,
    index: u64,
}

impl ArrivalOrder {
    pub fn new(first: u64, count: u64, window: u64, seed: u64) -> Self {
        ArrivalOrder { next: first, end: first + count, window: window.max(1), seed, index: 0 }
    }

    /// Fills `out` with the next window in arrival order; false when all blocks were given.
    pub fn next_window(&mut self, out: &mut Vec<u64>) -> bool {
        out.clear();
        if self.next >= self.end {
            return false;
        }
        let stop = self.end.min(self.next + self.window);
        out.extend(self.next..stop);
        let mut rng = SplitMix64::for_stream(self.seed ^ ARRIVAL_STREAM, self.index);
        for i in (1..out.len()).rev() {
            out.swap(i, rng.below(i as u64 + 1) as usize);
        }
        self.next = stop;
        self.index += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_block_arrives_exactly_once_and_within_its_window() {
        let mut order = ArrivalOrder::new(100, 1000, 64, 7);
        let (mut all, mut w) = (Vec::new(), Vec::new());
        while order.next_window(&mut w) {
            let lo = *w.iter().min().unwrap();
            assert!(w.iter().all(|&b| b - lo < 64));
            all.extend_from_slice(&w);
        }
        assert_ne!(all[..64], (100..164).collect::<Vec<_>>()[..], "window 0 was not shuffled");
        all.sort_unstable();
        assert_eq!(all, (100..1100).collect::<Vec<_>>());
    }
}

//! Acknowledgement accounting: the driver believes nothing a node acknowledges
//! without checking it against what was sent.
//!
//! A run can be `ok` only if every block sent was acknowledged exactly once and no
//! number that was never sent was acknowledged. [`AckBook`] keeps one bit per block of
//! the workload's range for "sent" and one for "acknowledged" (16 KiB for a million
//! blocks), so the check is exact at any length.

pub use crate::record::acks::AckCounts;

/// Sent and acknowledged blocks of the range `first .. first + len`.
#[derive(Debug, Clone)]
pub struct AckBook {
    first: u64,
    len: u64,
    /// Blocks the session must deliver: the workload's, or those sent when the driver
    /// stopped early on purpose (`--duration`, [`AckBook::end_early`]).
    expected: u64,
    sent: Vec<u64>,
    acked: Vec<u64>,
    counts: AckCounts,
}

/// What an acknowledgement of one number turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckKind {
    /// First acknowledgement of a sent block.
    New,
    Duplicate,
    Unknown,
}

impl AckBook {
    /// A book for `len` blocks from `first`; the workload's block count is capped by its
    /// spec validation, so the bitsets are bounded (2 bits per block).
    pub fn new(first: u64, len: u64) -> AckBook {
        let words = len.div_ceil(64) as usize;
        AckBook { first, len, expected: len, sent: vec![0; words], acked: vec![0; words], counts: AckCounts::default() }
    }

    fn bit(&self, number: u64) -> Option<(usize, u64)> {
        let i = number.checked_sub(self.first).filter(|&i| i < self.len)?;
        Some(((i / 64) as usize, 1 << (i % 64)))
    }

    /// Records that `number` was sent.
    pub fn sent(&mut self, number: u64) {
        if let Some((w, m)) = self.bit(number) {
            if self.sent[w] & m == 0 {
                self.sent[w] |= m;
                self.counts.sent += 1;
            }
        }
    }

    /// Records an acknowledgement of `number` and says what it was.
    pub fn ack(&mut self, number: u64) -> AckKind {
        let kind = match self.bit(number) {
            Some((w, m)) if self.sent[w] & m == 0 => AckKind::Unknown,
            None => AckKind::Unknown,
            Some((w, m)) if self.acked[w] & m != 0 => AckKind::Duplicate,
            Some((w, m)) => {
                self.acked[w] |= m;
                AckKind::New
            }
        };
        match kind {
            AckKind::New => self.counts.acked += 1,
            AckKind::Duplicate => self.counts.duplicate += 1,
            AckKind::Unknown => self.counts.unknown += 1,
        }
        kind
    }

    /// Blocks the session must deliver: the whole workload, or what was sent before a
    /// planned early end.
    pub fn workload_blocks(&self) -> u64 {
        self.expected
    }

    /// The driver stopped sending on purpose (`--duration`): only what was sent is due.
    pub fn end_early(&mut self) {
        self.expected = self.counts.sent;
    }

    pub fn counts(&self) -> AckCounts {
        self.counts
    }

    /// Up to `k` acknowledged block numbers chosen uniformly with a seeded PRNG
    /// (reservoir sampling), in ascending order: the same run gives the same sample.
    pub fn sample_acked(&self, k: usize, seed: u64) -> Vec<u64> {
        let mut rng = syncbench_workloads::rng::SplitMix64::new(seed);
        let mut chosen: Vec<u64> = Vec::with_capacity(k.min(self.counts.acked as usize));
        let mut seen = 0u64;
        for (w, &word) in self.acked.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let number = self.first + w as u64 * 64 + u64::from(bits.trailing_zeros());
                bits &= bits - 1;
                seen += 1;
                if chosen.len() < k {
                    chosen.push(number);
                } else if let Some(slot) = Some(rng.below(seen) as usize).filter(|&j| j < k) {
                    chosen[slot] = number;
                }
            }
        }
        chosen.sort_unstable();
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book_with(sent: impl IntoIterator<Item = u64>) -> AckBook {
        let mut b = AckBook::new(100, 1000);
        sent.into_iter().for_each(|n| b.sent(n));
        b
    }

    #[test]
    fn each_sent_block_acknowledged_once_is_clean() {
        let mut b = book_with(100..200);
        (100..200).rev().for_each(|n| assert_eq!(b.ack(n), AckKind::New));
        assert_eq!(b.counts(), AckCounts { sent: 100, acked: 100, duplicate: 0, unknown: 0 });
        assert_eq!(b.counts().violation(true), None);
    }

    #[test]
    fn double_unknown_and_missing_acks_are_violations() {
        let mut b = book_with(100..110);
        b.ack(100);
        assert_eq!(b.ack(100), AckKind::Duplicate);
        assert!(b.counts().violation(false).unwrap().contains("more than once"));
        let mut b = book_with(100..110);
        assert_eq!(b.ack(150), AckKind::Unknown, "in range but never sent");
        assert_eq!(b.ack(5), AckKind::Unknown, "below the range");
        assert_eq!(b.ack(u64::MAX), AckKind::Unknown, "above the range");
        assert!(b.counts().violation(false).unwrap().contains("never sent"));
        let mut b = book_with(100..110);
        (100..109).for_each(|n| {
            b.ack(n);
        });
        assert_eq!(b.counts().violation(false), None, "still in flight: not a violation before Done");
        assert!(b.counts().violation(true).unwrap().contains("1 of 10"));
    }

    #[test]
    fn the_sample_is_seeded_and_only_holds_acknowledged_blocks() {
        let mut b = book_with(100..1100);
        (100..1100).filter(|n| n % 3 == 0).for_each(|n| {
            b.ack(n);
        });
        let s = b.sample_acked(64, 7);
        assert_eq!(s.len(), 64);
        assert!(s.iter().all(|n| n % 3 == 0 && (100..1100).contains(n)));
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(s, b.sample_acked(64, 7));
        assert_ne!(s, b.sample_acked(64, 8));
        assert!(s.last().unwrap() - s[0] > 500, "spread over the range: {s:?}");
        assert_eq!(book_with(100..103).sample_acked(64, 1), Vec::<u64>::new());
    }
}

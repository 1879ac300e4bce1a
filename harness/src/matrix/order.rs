//! Run order of a matrix: every (cell, repetition) once, rounds of a seeded shuffle,
//! never the same cell twice in a row — so slow drift of a shared machine (thermal,
//! page cache, neighbours) spreads over all cells instead of biasing one.

use syncbench_workloads::rng::SplitMix64;

/// `(cell index, repetition)` in the order to run them.
pub fn interleaved(cells: usize, repeat: u32, seed: u64) -> Vec<(usize, u32)> {
    let mut order = Vec::with_capacity(cells * repeat as usize);
    for rep in 0..repeat {
        let mut round: Vec<usize> = (0..cells).collect();
        let mut rng = SplitMix64::for_stream(seed, u64::from(rep));
        for i in (1..round.len()).rev() {
            round.swap(i, rng.below(i as u64 + 1) as usize);
        }
        if cells > 1 && order.last().map(|&(c, _)| c) == round.first().copied() {
            round.swap(0, 1);
        }
        order.extend(round.into_iter().map(|c| (c, rep)));
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_once_never_back_to_back_and_deterministic() {
        for (cells, repeat) in [(1, 3), (2, 5), (5, 4), (16, 3)] {
            for seed in 0..20 {
                let o = interleaved(cells, repeat, seed);
                assert_eq!(o, interleaved(cells, repeat, seed));
                let mut sorted = o.clone();
                sorted.sort_unstable();
                let all: Vec<_> = (0..cells).flat_map(|c| (0..repeat).map(move |r| (c, r))).collect();
                assert_eq!(sorted, all);
                if cells > 1 {
                    assert!(o.windows(2).all(|w| w[0].0 != w[1].0), "{cells}x{repeat} seed {seed}: {o:?}");
                }
                // Rounds: repetition k of every cell runs before repetition k + 1 of any.
                assert!(o.windows(2).all(|w| w[0].1 <= w[1].1));
            }
        }
    }
}

//! The `mainnet` workload must match its reference figures (the header of
//! `workloads/specs/mainnet.toml`) within 10 %:
//! ~273 KB per block, logs per block p50 597 / p95 1,810 / p99 6,551.

use syncbench_proto::Block;
use syncbench_workloads::describe::Quantiles;
use syncbench_workloads::{load, Generator};

const SAMPLED: u64 = 12_000;

fn within(got: f64, want: f64, tolerance: f64) -> bool {
    (got - want).abs() <= want * tolerance
}

#[test]
fn mainnet_matches_reference_figures_within_10_percent() {
    let spec = load("mainnet").unwrap();
    let mut gen = Generator::new(&spec);
    let (mut buf, mut bytes, mut logs) = (Vec::new(), Vec::new(), Vec::new());
    // Spread the sample over the whole range, as a real sync sees it.
    let step = spec.blocks / SAMPLED;
    for i in 0..SAMPLED {
        let shape = gen.block(spec.start_height + i * step, &mut buf);
        bytes.push(shape.bytes as u64);
        logs.push(shape.logs as u64);
    }
    let b = Quantiles::of(&mut bytes);
    let l = Quantiles::of(&mut logs);
    eprintln!("bytes/block {b:?}\nlogs/block {l:?}");
    assert!(within(b.mean, 273_000.0, 0.10), "mean bytes/block {}", b.mean);
    assert!(within(l.p50 as f64, 597.0, 0.10), "logs p50 {}", l.p50);
    assert!(within(l.p95 as f64, 1_810.0, 0.10), "logs p95 {}", l.p95);
    assert!(within(l.p99 as f64, 6_551.0, 0.10), "logs p99 {}", l.p99);
}

#[test]
fn generated_blocks_decode_and_report_their_shape() {
    for name in ["smoke", "mainnet", "early-chain"] {
        let spec = load(name).unwrap();
        let mut gen = Generator::new(&spec);
        let mut buf = Vec::new();
        for n in spec.start_height..spec.start_height + 50 {
            let shape = gen.block(n, &mut buf);
            let block = Block::decode(&buf).unwrap_or_else(|e| panic!("{name} block {n}: {e}"));
            assert_eq!(block.number, n);
            assert_eq!(block.log_count(), shape.logs);
            assert_eq!(block.transactions.len(), shape.transactions);
            assert_eq!(buf.len(), shape.bytes);
        }
    }
}

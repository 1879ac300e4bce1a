//! Block generation speed: must stay far above what the node can ingest (≥ 1 GiB/s of
//! block bytes on one core), so the driver is never the bottleneck.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use syncbench_workloads::{load, Generator};

fn generate(c: &mut Criterion) {
    for name in ["mainnet", "early-chain"] {
        let spec = load(name).expect("built-in spec");
        let mut gen = Generator::new(&spec);
        let mut buf = Vec::new();
        let blocks = 256u64;
        let bytes: usize = (0..blocks).map(|i| gen.block(spec.start_height + i, &mut buf).bytes).sum();
        let mut group = c.benchmark_group("generate");
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(format!("{name}/{blocks}_blocks"), |b| {
            b.iter(|| {
                for i in 0..blocks {
                    gen.block(spec.start_height + i, &mut buf);
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, generate);
criterion_main!(benches);

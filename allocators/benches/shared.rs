//! The node's hot paths as criterion benchmarks, compiled into one bench binary per
//! allocator (and per allocator once more without the counting wrapper), so the same
//! code measures each allocator and the wrapper's own cost.
//!
//! Files go to /dev/shm when it exists (tmpfs: the benches measure CPU and allocation,
//! not this machine's noisy disk). Criterion's HTML plots are off (the workspace
//! builds criterion without plotters; see the root Cargo.toml).

// Each bench binary includes this file and uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, Throughput};
use syncbench_node::compaction::{buffered, streaming};
use syncbench_node::pipeline::hash_block;
use syncbench_node::segment::writer::SegmentWriter;
use syncbench_node::wal::writer::WalWriter;
use syncbench_proto::Block;
use syncbench_workloads::Generator;

/// Blocks per decode/hash iteration (about 17 MiB of mainnet blocks).
const BLOCKS: u64 = 64;
/// WAL size for the compaction benches.
const COMPACTION_WAL_BYTES: usize = 64 << 20;

fn scratch_dir() -> tempfile::TempDir {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).expect("tmpfs dir")
    } else {
        tempfile::tempdir().expect("temp dir")
    }
}

fn mainnet_blocks(n: u64) -> Vec<(u64, Vec<u8>)> {
    let spec = syncbench_workloads::load("mainnet").expect("built-in spec");
    let mut gen = Generator::new(&spec);
    (spec.start_height..spec.start_height + n)
        .map(|b| {
            let mut buf = Vec::new();
            gen.block(b, &mut buf);
            (b, buf)
        })
        .collect()
}

/// Decodes every block into owned structures (the allocation-heavy stage).
fn bench_decode(g: &mut BenchmarkGroup<WallTime>, blocks: &[(u64, Vec<u8>)]) {
    g.bench_function("decode", |b| b.iter(|| decode_all(blocks)));
}

fn decode_all(blocks: &[(u64, Vec<u8>)]) -> usize {
    blocks.iter().map(|(_, raw)| Block::decode(raw).map(|x| x.log_count()).unwrap_or(0)).sum()
}

pub fn benches(c: &mut Criterion, alloc: &str) {
    let blocks = mainnet_blocks(BLOCKS);
    let bytes: u64 = blocks.iter().map(|b| b.1.len() as u64).sum();

    let mut g = c.benchmark_group(format!("{alloc}/pipeline"));
    g.throughput(Throughput::Bytes(bytes)).measurement_time(Duration::from_secs(5));
    bench_decode(&mut g, &blocks);
    let decoded: Vec<Block> = blocks.iter().filter_map(|(_, raw)| Block::decode(raw).ok()).collect();
    g.bench_function("hash", |b| b.iter(|| decoded.iter().map(|d| hash_block(d).transactions.len()).sum::<usize>()));
    g.finish();

    let dir = scratch_dir();
    let mut g = c.benchmark_group(format!("{alloc}/storage"));
    g.throughput(Throughput::Bytes(bytes)).measurement_time(Duration::from_secs(5));
    let wal = dir.path().join("bench.wal");
    g.bench_function("wal_append_commit", |b| {
        b.iter_batched(
            || {
                let _ = std::fs::remove_file(&wal);
                WalWriter::open(&wal).expect("wal")
            },
            |mut w| {
                for (n, raw) in &blocks {
                    w.append(*n, raw).expect("append");
                }
                w.commit(1).expect("commit");
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("segment_write", |b| {
        b.iter(|| {
            let mut s = SegmentWriter::new(Vec::with_capacity(bytes as usize + 4096), 0).expect("segment");
            for (n, raw) in &blocks {
                s.append(*n, raw, crc32c::crc32c(raw)).expect("append");
            }
            s.finish().expect("finish").1
        })
    });
    g.finish();

    let big = dir.path().join("staging.wal");
    let mut w = WalWriter::open(&big).expect("wal");
    let mut n = 0u64;
    let mut written = 0usize;
    // Out-of-order arrival, like the real WAL: reverse order within each lap.
    while written < COMPACTION_WAL_BYTES {
        for (_, raw) in blocks.iter().rev() {
            w.append(n, raw).expect("append");
            n += 1;
            written += raw.len();
        }
    }
    w.commit(1).expect("commit");
    let index = w.into_index();
    let mut g = c.benchmark_group(format!("{alloc}/compaction_64MiB"));
    g.throughput(Throughput::Bytes(written as u64)).sample_size(10).measurement_time(Duration::from_secs(10));
    let tmp = dir.path().join("segment.tmp");
    g.bench_function("buffered", |b| b.iter(|| buffered::compact(&big, &tmp, 0).expect("compact").bytes_out));
    // The WAL read as the node reads it by default: one record at a time.
    let reads = streaming::Reads::InTurn;
    g.bench_function("streaming", |b| {
        b.iter(|| {
            streaming::compact(&big, &tmp, 0, index.clone(), streaming::CHUNK_BYTES, reads).expect("compact").bytes_out
        })
    });
    // A WAL reopened after a restart has no writer index: pass 1 scans its headers.
    g.bench_function("streaming_scan", |b| {
        b.iter(|| streaming::compact(&big, &tmp, 0, None, streaming::CHUNK_BYTES, reads).expect("compact").bytes_out)
    });
    g.finish();
}

/// Without criterion: decodes the blocks `iters` times (for instruction counting under
/// `valgrind --tool=callgrind`, where wall-clock sampling is meaningless). Enabled by
/// `SYNCBENCH_DECODE_ITERS=<n>`; returns whether it ran.
pub fn decode_iterations_from_env() -> bool {
    let Some(iters) = std::env::var("SYNCBENCH_DECODE_ITERS").ok().and_then(|v| v.parse::<u32>().ok()) else {
        return false;
    };
    let blocks = mainnet_blocks(BLOCKS);
    let mut logs = 0;
    for _ in 0..iters {
        logs += decode_all(&blocks);
    }
    println!("decoded {} blocks ({logs} logs)", blocks.len() * iters as usize);
    true
}

/// Only the decode bench: the counting wrapper's cost shows in it most.
pub fn decode_only(c: &mut Criterion, label: &str) {
    let blocks = mainnet_blocks(BLOCKS);
    let bytes: u64 = blocks.iter().map(|b| b.1.len() as u64).sum();
    let mut g = c.benchmark_group(format!("{label}/pipeline"));
    g.throughput(Throughput::Bytes(bytes)).measurement_time(Duration::from_secs(5));
    bench_decode(&mut g, &blocks);
    g.finish();
}

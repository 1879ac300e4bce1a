//! Streaming compaction's WAL reads: one record at a time in the compaction thread
//! (the default), front to back through a 32 MiB window (`--compaction-window-bytes
//! 33554432`), and reader threads reading ahead (`--compaction-readers 4`), with the
//! disk to themselves and beside a competing writer — the batch writer filling the
//! next shard's WAL, as during ingest.
//!
//! The WAL holds 256 records of 256 KiB (64 MiB) in the order parallel fetch leaves
//! them: block order shuffled within windows of 64 records (a default-workload WAL
//! measured 35 records' median displacement), so the reads are random ~256 KiB reads.
//! The files live under cargo's target directory (`CARGO_TARGET_TMPDIR`), on the disk
//! the node would use when run from this checkout; O_DIRECT bypasses the page cache, so
//! every iteration reads and writes the disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::Write;
use syncbench_node::compaction::streaming::{compact, Reads, CHUNK_BYTES};
use syncbench_node::config::WIDE_COMPACTION_WINDOW_BYTES;
use syncbench_node::direct_io::DirectWriter;
use syncbench_node::wal::reader::Entry;
use syncbench_node::wal::writer::WalWriter;

const RECORDS: u64 = 256;
const RECORD_BYTES: usize = 256 << 10;
const WINDOW: usize = 64;
/// The competing writer syncs every this many bytes (a writer batch's order of size).
const WRITER_SYNC_BYTES: u64 = 32 << 20;
/// The competing writer's file wraps around at this size.
const WRITER_FILE_BYTES: u64 = 256 << 20;

/// xorshift64*: a seeded shuffle without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

fn arrival_order() -> Vec<u64> {
    let mut order: Vec<u64> = (0..RECORDS).collect();
    let mut rng = 0x5eed;
    for window in order.chunks_mut(WINDOW) {
        for i in (1..window.len()).rev() {
            window.swap(i, (next(&mut rng) % (i as u64 + 1)) as usize);
        }
    }
    order
}

fn write_wal(path: &Path) -> Vec<Entry> {
    let mut w = WalWriter::open(path).expect("create the bench WAL");
    let mut rng = 7;
    let payload: Vec<u8> = (0..RECORD_BYTES).map(|_| next(&mut rng) as u8).collect();
    for n in arrival_order() {
        w.append(n, &payload).expect("append");
    }
    w.commit(1).expect("commit");
    w.into_index().expect("a new WAL keeps its index")
}

/// A thread writing 1 MiB direct writes, fdatasync'ing every [`WRITER_SYNC_BYTES`],
/// until `stop`.
fn competing_writer(path: PathBuf, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let chunk = vec![0x5a; CHUNK_BYTES];
        while !stop.load(Ordering::Relaxed) {
            let mut out = DirectWriter::create(&path, CHUNK_BYTES).expect("create the writer's file");
            for written in (CHUNK_BYTES as u64..=WRITER_FILE_BYTES).step_by(CHUNK_BYTES) {
                out.write_all(&chunk).expect("write");
                if written % WRITER_SYNC_BYTES == 0 {
                    out.sync_data().expect("fdatasync");
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
        }
        let _ = std::fs::remove_file(&path);
    })
}

fn compaction_reads(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("bench directory");
    let wal = dir.path().join("staging.wal");
    let index = write_wal(&wal);
    let segment = dir.path().join("segment.tmp");
    let mut group = c.benchmark_group("compaction_reads");
    group.throughput(Throughput::Bytes(RECORDS * RECORD_BYTES as u64));
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(15));
    for competing in [false, true] {
        let stop = Arc::new(AtomicBool::new(false));
        let writer = competing.then(|| competing_writer(dir.path().join("writer"), Arc::clone(&stop)));
        let ways = [
            ("in_turn", Reads::InTurn),
            ("window_32mib", Reads::Window { bytes: WIDE_COMPACTION_WINDOW_BYTES as usize }),
            ("readers_4", Reads::Ahead { readers: 4 }),
        ];
        for (way, reads) in ways {
            let name = format!("{}/{way}", if competing { "beside_a_writer" } else { "alone" });
            group.bench_function(name, |b| {
                b.iter(|| compact(&wal, &segment, 0, Some(index.clone()), CHUNK_BYTES, reads).expect("compact"))
            });
        }
        stop.store(true, Ordering::Relaxed);
        if let Some(writer) = writer {
            writer.join().expect("the competing writer");
        }
    }
    group.finish();
}

criterion_group!(benches, compaction_reads);
criterion_main!(benches);

//! The node's durability promise against the real binary over its real socket: every
//! acknowledged block survives `kill -9` — at random points under load, during
//! recovery, and mid-compaction — and reads back byte-identical; unacknowledged blocks
//! are wholly present or absent; recovery leaves no orphan files.
//!
//! 100 cycles by default (a few seconds); the long mode is
//! `SYNCBENCH_TORTURE_CYCLES=1000 cargo test -p syncbench-allocators --test kill9 -- --nocapture`.

mod common;

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

use common::{small_spec, verify, Node, Session};
use syncbench_proto::Frame;
use syncbench_workloads::rng::SplitMix64;

/// Cycles unless `SYNCBENCH_TORTURE_CYCLES` says otherwise (bounded to 100,000).
const DEFAULT_CYCLES: u64 = 100;
/// Blocks offered per cycle; the workload is sized so that it outlasts the cycles.
const PER_CYCLE: usize = 400;

fn cycles() -> u64 {
    std::env::var("SYNCBENCH_TORTURE_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CYCLES)
        .clamp(1, 100_000)
}

#[test]
fn acknowledged_blocks_survive_kill_9_across_restarts() {
    torture(1);
}

/// The same with 16 peer connections: blocks of one window arrive over 16 runtime
/// tasks in any order, acknowledgements on the first connection.
#[test]
fn acknowledged_blocks_survive_kill_9_with_16_peers() {
    torture(16);
}

/// The same against the RocksDB store (`--store rocksdb`, the node whose jemalloc also
/// serves RocksDB): only with `--features rocksdb,jemalloc-replaces-malloc` (CI runs
/// it; docs/rocksdb.md).
#[cfg(all(feature = "rocksdb", feature = "jemalloc-replaces-malloc"))]
#[test]
fn acknowledged_blocks_survive_kill_9_in_the_rocksdb_store() {
    torture_on(env!("CARGO_BIN_EXE_node-jemalloc-rocksdb"), &["--store", "rocksdb"], 16);
}

fn torture(peers: usize) {
    torture_on(common::bin("jemalloc"), &[], peers);
}

/// Kill -9 cycles against `bin` with the node flags `store_args`, over `peers`
/// connections, then a clean session and a full read-back.
fn torture_on(bin: &str, store_args: &[&str], peers: usize) {
    let cycles = cycles();
    let peers_arg = peers.to_string();
    let spec = small_spec((cycles * 300).max(30_000), 1_000);
    let dir = tempfile::tempdir().unwrap();
    let (data, socket) = (dir.path().join("data"), dir.path().join("node.sock"));
    let mut acked = BTreeSet::new();
    let mut rng = SplitMix64::new(20261121);
    let mut torn_tails = 0;
    let started = Instant::now();
    let mut orphans_removed = 0;
    for cycle in 0..cycles {
        let mut node = Node::start(
            bin,
            &data,
            &socket,
            spec.shard_size,
            &[&["--writer-batch", "64", "--max-batch-delay-ms", "20", "--peers", &peers_arg], store_args].concat(),
            &[],
        );
        if cycle % 10 == 3 {
            // Kill while recovery may still be running.
            thread::sleep(Duration::from_micros(rng.below(3_000)));
            node.child.kill().unwrap();
            node.child.wait().unwrap();
            continue;
        }
        assert!(node.wait_ready(), "cycle {cycle}: node exited before ready: {}", node.stderr());
        torn_tails += node.events_named("wal_torn_tail").len();
        orphans_removed += node.events_named("orphan_removed").len();
        assert_no_orphans(&data, cycle);
        // Send a bounded slice of the remaining blocks; kill after a random number of
        // acknowledgements (then a random few hundred µs), i.e. mid-batch or mid-compaction.
        let session = Session::start_peers(node.connect_peers(peers), &spec, &acked, Some(PER_CYCLE), false);
        let target = rng.below(PER_CYCLE as u64) as usize;
        let deadline = Instant::now() + Duration::from_secs(20);
        while session.acked_count() < target && Instant::now() < deadline {
            thread::sleep(Duration::from_micros(200));
        }
        thread::sleep(Duration::from_micros(rng.below(800)));
        node.child.kill().unwrap();
        node.child.wait().unwrap();
        let (got, _) = session.join();
        acked.extend(got);
    }
    // A final clean session completes the workload, then everything is checked.
    let args = [&["--writer-batch", "64", "--peers", &peers_arg], store_args].concat();
    let mut node = Node::start(bin, &data, &socket, spec.shard_size, &args, &[]);
    assert!(node.wait_ready(), "final start failed: {}", node.stderr());
    let (got, done) = Session::start_peers(node.connect_peers(peers), &spec, &acked, None, true).join();
    let status = node.child.wait().unwrap();
    assert!(matches!(done, Some(Frame::Done { .. })), "final session ended with {done:?}; stderr: {}", node.stderr());
    assert!(status.success());
    let before_final = acked.len();
    acked.extend(got);
    let checked = verify(&data, &spec, &acked);
    assert_eq!(checked as u64, spec.blocks, "every block of the workload is stored exactly once");
    eprintln!(
        "kill -9 cycles: {cycles}, store: {store_args:?}, peers: {peers}, blocks acknowledged before the final session: {before_final}, torn tails repaired: {torn_tails}, orphans removed: {orphans_removed}, \
         blocks verified: {checked}, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(before_final > 5_000, "kills came too early to test anything ({before_final} acknowledged)");
    assert!((before_final as u64) < spec.blocks, "the workload finished before the kills ended");
}

/// After recovery (the node is ready), no interrupted-compaction leftovers remain: no
/// `segment.tmp`, and no WAL beside a sealed segment.
fn assert_no_orphans(data: &std::path::Path, cycle: u64) {
    for f in common::walk(data) {
        assert!(!f.ends_with("segment.tmp"), "cycle {cycle}: orphan {} after recovery", f.display());
        if f.ends_with("staging.wal") {
            let sealed = f.parent().unwrap().join("sorted/segment.sbs");
            assert!(!sealed.exists(), "cycle {cycle}: WAL beside a sealed segment: {}", f.display());
        }
    }
}

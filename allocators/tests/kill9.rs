//! The node's durability promise against the real binary over its real socket: every
//! acknowledged block survives `kill -9` — at random points under load, during
//! recovery, and mid-compaction — and reads back byte-identical.

mod common;

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

use common::{small_spec, verify, Node, Session};
use syncbench_proto::Frame;
use syncbench_workloads::rng::SplitMix64;

const CYCLES: u64 = 24;
/// Blocks offered per cycle: the workload outlasts the cycles.
const PER_CYCLE: usize = 1_500;

#[test]
fn acknowledged_blocks_survive_kill_9_across_restarts() {
    let spec = small_spec(30_000, 1_000);
    let dir = tempfile::tempdir().unwrap();
    let (data, socket) = (dir.path().join("data"), dir.path().join("node.sock"));
    let bin = common::bin("jemalloc");
    let mut acked = BTreeSet::new();
    let mut rng = SplitMix64::new(20261121);
    let mut torn_tails = 0;
    let started = Instant::now();
    for cycle in 0..CYCLES {
        let mut node = Node::start(
            bin,
            &data,
            &socket,
            spec.shard_size,
            &["--writer-batch", "64", "--max-batch-delay-ms", "20"],
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
        // Send a bounded slice of the remaining blocks; kill after a random number of
        // acknowledgements (then a random few hundred µs), i.e. mid-batch or mid-compaction.
        let session = Session::start(node.connect(), &spec, &acked, Some(PER_CYCLE), false);
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
    let mut node = Node::start(bin, &data, &socket, spec.shard_size, &["--writer-batch", "64"], &[]);
    assert!(node.wait_ready(), "final start failed: {}", node.stderr());
    let (got, done) = Session::start(node.connect(), &spec, &acked, None, true).join();
    let status = node.child.wait().unwrap();
    assert!(matches!(done, Some(Frame::Done { .. })), "final session ended with {done:?}; stderr: {}", node.stderr());
    assert!(status.success());
    let before_final = acked.len();
    acked.extend(got);
    let checked = verify(&data, &spec, &acked);
    assert_eq!(checked as u64, spec.blocks, "every block of the workload is stored exactly once");
    eprintln!(
        "kill -9 cycles: {CYCLES}, blocks acknowledged before the final session: {before_final}, torn tails repaired: {torn_tails}, \
         blocks verified: {checked}, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(before_final > 5_000, "kills came too early to test anything ({before_final} acknowledged)");
    assert!((before_final as u64) < spec.blocks, "the workload finished before the kills ended");
}

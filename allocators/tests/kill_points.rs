//! Whitebox kill points: the node SIGKILLs itself at a named point of the write or
//! compaction path (`SYNCBENCH_KILL_POINT=<point>:<n>`); after every death, every
//! acknowledged block is still there and every stored block is byte-identical.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{small_spec, verify, Node, Session};
use syncbench_proto::Frame;

const HITS_PER_POINT: u32 = 20;

fn hammer(point: &str) {
    hammer_with(point, &[]);
}

/// `node_args` go to every node of the test, the killed ones and the clean one.
fn hammer_with(point: &str, node_args: &[&str]) {
    let spec = small_spec(8_000, 200);
    let dir = tempfile::tempdir().unwrap();
    let (data, socket) = (dir.path().join("data"), dir.path().join("node.sock"));
    let bin = common::bin("jemalloc");
    let mut acked = BTreeSet::new();
    for hit in 0..HITS_PER_POINT {
        let armed = format!("{point}:{}", 1 + hit % 2);
        let mut node = Node::start(
            bin,
            &data,
            &socket,
            spec.shard_size,
            &[&["--writer-batch", "50"], node_args].concat(),
            &[("SYNCBENCH_KILL_POINT", &armed)],
        );
        if node.wait_ready() {
            let session = Session::start(node.connect(), &spec, &acked, Some(600), false);
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while node.child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            let _ = node.child.kill();
            acked.extend(session.join().0);
        }
        let status = node.child.wait().unwrap();
        let stderr = node.stderr();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "{point} hit {hit}: the kill point was not reached: {stderr}");
        assert!(stderr.contains(&format!("kill point {point} reached")), "{stderr}");
    }
    // A clean session finishes the workload; nothing acknowledged may be missing.
    let mut node = Node::start(bin, &data, &socket, spec.shard_size, node_args, &[]);
    assert!(node.wait_ready(), "{}", node.stderr());
    let (got, done) = Session::start(node.connect(), &spec, &acked, None, true).join();
    assert!(node.child.wait().unwrap().success());
    assert!(matches!(done, Some(Frame::Done { .. })));
    assert!(!node.has_event("error"));
    acked.extend(got);
    assert_eq!(verify(&data, &spec, &acked) as u64, spec.blocks);
    let leftovers: Vec<_> = common::walk(&data)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tmp") || p.ends_with("staging.wal"))
        .collect();
    assert!(leftovers.is_empty(), "{point}: files left after a clean finish: {leftovers:?}");
}

#[test]
fn wal_after_append() {
    hammer("wal_after_append");
}

#[test]
fn wal_after_fsync() {
    hammer("wal_after_fsync");
}

#[test]
fn segment_mid_write() {
    hammer("segment_mid_write");
}

/// The same kill point with the WAL read ahead on reader threads
/// (`--compaction-readers`): killed mid-segment with reads in flight, the restarted
/// node compacts the shard again from its WAL.
#[test]
fn segment_mid_write_with_reader_threads() {
    hammer_with("segment_mid_write", &["--compaction-readers", "4"]);
}

#[test]
fn segment_after_rename() {
    hammer("segment_after_rename");
}

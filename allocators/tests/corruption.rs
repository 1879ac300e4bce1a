//! The real node refuses to start on damaged acknowledged data: exit code 3, the file
//! and offset on stderr, and the store left exactly as it was.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{small_spec, Node, Session};

#[test]
fn bit_flip_in_acknowledged_wal_data_is_refused_with_exit_3() {
    let spec = small_spec(5_000, 1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let (data, socket) = (dir.path().join("data"), dir.path().join("node.sock"));
    let bin = common::bin("glibc");
    // One shard, never complete: everything stays in its WAL. Stop after 2,000 acks.
    let mut node = Node::start(bin, &data, &socket, spec.shard_size, &["--writer-batch", "100"], &[]);
    assert!(node.wait_ready());
    let session = Session::start(node.connect(), &spec, &BTreeSet::new(), Some(3_000), false);
    let deadline = Instant::now() + Duration::from_secs(30);
    while session.acked_count() < 2_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    node.child.kill().unwrap();
    node.child.wait().unwrap();
    let (acked, _) = session.join();
    assert!(acked.len() >= 2_000);
    let wal = data.join("shard-0000000000/staging.wal");
    let mut bytes = std::fs::read(&wal).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x40;
    std::fs::write(&wal, &bytes).unwrap();

    let mut node = Node::start(bin, &data, &socket, spec.shard_size, &[], &[]);
    let status = node.child.wait().unwrap();
    let stderr = node.stderr();
    assert_eq!(status.code(), Some(syncbench_node::EXIT_CORRUPT as i32), "{stderr}");
    assert!(stderr.contains("staging.wal") && stderr.contains("corrupt record at offset"), "{stderr}");
    assert!(!node.has_event("ready"));
    assert_eq!(std::fs::read(&wal).unwrap(), bytes, "a refused WAL must be left untouched");
}

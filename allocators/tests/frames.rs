//! Malformed frames against the real node: an error and a clean exit, never a panic,
//! and no allocation driven by a hostile length (RSS grows < 10 MB).

mod common;

use std::io::Write;

use common::{wait4, Node};
use syncbench_proto::frame::{write_frame, Frame, PROTOCOL_VERSION};

const MAX_RSS_GROWTH: u64 = 10 << 20;

fn hwm(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

/// Sends `bytes` (after a valid Hello when `hello`), then closes; returns (exit code, stderr, RSS growth).
fn send_raw(bytes: &[u8], hello: bool) -> (Option<i32>, String, u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut node =
        Node::start(common::bin("glibc"), &dir.path().join("data"), &dir.path().join("s.sock"), 100, &[], &[]);
    assert!(node.wait_ready());
    let mut s = node.connect();
    if hello {
        write_frame(&mut s, &Frame::Hello { version: PROTOCOL_VERSION, first_block: 0, block_count: 100 }).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let before = hwm(node.child.id());
    let _ = s.write_all(bytes);
    drop(s);
    let (code, signal, max_rss) = wait4(&node.child);
    assert_eq!(signal, None, "node died by signal");
    (code, node.stderr(), max_rss.saturating_sub(before))
}

#[test]
fn length_ffffffff_is_rejected_without_allocating() {
    let (code, err, growth) = send_raw(&[0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0], true);
    assert_eq!(code, Some(1));
    assert!(err.contains("frame length 4294967295 out of range"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(growth < MAX_RSS_GROWTH, "RSS grew {growth} bytes");
}

#[test]
fn truncated_frame_is_an_error() {
    // A block frame announcing 1 MiB, of which only 10 bytes arrive.
    let mut bytes = (1u32 << 20).to_le_bytes().to_vec();
    bytes.extend_from_slice(&[2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    let (code, err, growth) = send_raw(&bytes, true);
    assert_eq!(code, Some(1));
    assert!(err.contains("connection closed inside a frame"), "{err}");
    assert!(growth < MAX_RSS_GROWTH);
}

#[test]
fn unknown_kind_is_an_error() {
    let (code, err, _) = send_raw(&[1, 0, 0, 0, 77], true);
    assert_eq!(code, Some(1));
    assert!(err.contains("unknown frame kind 77"), "{err}");
}

#[test]
fn block_before_hello_is_refused() {
    let (code, err, _) = send_raw(&[9, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0], false);
    assert_eq!(code, Some(1));
    assert!(err.contains("expected Hello"), "{err}");
}

#[test]
fn garbage_block_payload_is_an_error_not_a_panic() {
    let mut bytes = 17u32.to_le_bytes().to_vec();
    bytes.push(2);
    bytes.extend_from_slice(&5u64.to_le_bytes());
    bytes.extend_from_slice(b"NOTABLOC");
    let (code, err, _) = send_raw(&bytes, true);
    assert_eq!(code, Some(1));
    assert!(err.contains("bad magic"), "{err}");
    assert!(!err.contains("panicked"));
}

/// A driver of the single-connection protocol (version 1) cannot feed a node that
/// waits for several peers: refused at once with an `Error` frame, not left waiting.
#[test]
fn a_single_connection_driver_is_refused_by_a_node_expecting_peers() {
    use syncbench_proto::frame::{FrameReader, PROTOCOL_VERSION_SINGLE};
    let dir = tempfile::tempdir().unwrap();
    let (data, socket) = (dir.path().join("data"), dir.path().join("s.sock"));
    let mut node = Node::start(common::bin("glibc"), &data, &socket, 100, &["--peers", "4"], &[]);
    assert!(node.wait_ready());
    let mut s = node.connect();
    let hello = Frame::Hello { version: PROTOCOL_VERSION_SINGLE, first_block: 0, block_count: 100 };
    write_frame(&mut s, &hello).unwrap();
    let reply = FrameReader::new(&s).read_frame().unwrap();
    let Some(Frame::Error { message }) = reply else { panic!("expected an Error frame, got {reply:?}") };
    assert!(message.contains("expects 4 peers"), "{message}");
    let (code, _, _) = wait4(&node.child);
    assert_eq!(code, Some(1), "{}", node.stderr());
}

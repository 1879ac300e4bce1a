//! The node's socket input: any byte stream through `FrameReader`, and every Block
//! payload through `Block::decode`. Must return errors, never panic or over-allocate
//! (libFuzzer's -rss_limit_mb catches the latter).
#![no_main]

use libfuzzer_sys::fuzz_target;
use syncbench_proto::frame::{Frame, FrameReader};
use syncbench_proto::Block;

/// Frames read from one input at most (an input is bounded, but be explicit).
const MAX_FRAMES: usize = 4_096;

fuzz_target!(|data: &[u8]| {
    let mut frames = FrameReader::new(data);
    for _ in 0..MAX_FRAMES {
        match frames.read_frame() {
            Ok(Some(Frame::Block { payload, .. })) => {
                let _ = Block::decode(&payload);
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    // The payload decoder on its own, too: most inputs are not valid frames.
    let _ = Block::decode(data);
});

//! Sessions that store nothing: `--sink` (acknowledges on receipt) and the frame
//! helpers it shares with the lying nodes (`liar`): one socket writer and one
//! skim-and-acknowledge receive loop.

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

use syncbench_proto::frame::{write_frame, Frame, FrameReader, Skimmed};

use crate::events::{Events, NodeEvent, NodeSummary};
use crate::NodeError;

/// `--sink`: acknowledges blocks in batches as they arrive, stores nothing.
pub fn sink(
    frames: &mut FrameReader<BufReader<UnixStream>>,
    out: &Mutex<UnixStream>,
    batch: usize,
    events: &Events,
) -> Result<(), NodeError> {
    let ack = |blocks: Vec<u64>| {
        let n = blocks.len() as u64;
        send_frame(out, &Frame::Ack { blocks }).map(|()| n)
    };
    let (received, _) = receive_unstored(frames, batch, false, ack)?;
    events.emit(NodeEvent::NodeSummary(NodeSummary {
        blocks_received: received,
        self_report: Some(crate::self_report::read()),
        ..NodeSummary::default()
    }));
    send_frame(out, &Frame::Done { histograms: Vec::new() })
}

/// Sends one frame to the driver under the socket lock.
pub fn send_frame(out: &Mutex<UnixStream>, frame: &Frame) -> Result<(), NodeError> {
    let mut o = out.lock().map_err(|_| NodeError::Protocol("socket lock poisoned".into()))?;
    write_frame(&mut *o, frame).and_then(|_| o.flush()).map_err(NodeError::Disconnected)
}

/// Skims blocks without decoding or storing them until `Finish` (or the first block,
/// with `stop_at_first_block`), handing every `batch` numbers — and the rest at
/// `Finish` — to `ack`. Returns (blocks received, the sum of what `ack` returned).
/// The loop of `--sink` and of the lying nodes (`liar`).
pub fn receive_unstored(
    frames: &mut FrameReader<BufReader<UnixStream>>,
    batch: usize,
    stop_at_first_block: bool,
    ack: impl Fn(Vec<u64>) -> Result<u64, NodeError>,
) -> Result<(u64, u64), NodeError> {
    let (mut pending, mut scratch) = (Vec::with_capacity(batch), Vec::new());
    let (mut received, mut acked) = (0u64, 0u64);
    loop {
        match frames.skim_frame(&mut scratch)? {
            Some(Skimmed::Block(_)) if stop_at_first_block => return Ok((received + 1, acked)),
            Some(Skimmed::Block(number)) => {
                received += 1;
                pending.push(number);
                if pending.len() >= batch {
                    acked += ack(std::mem::take(&mut pending))?;
                }
            }
            Some(Skimmed::Other(Frame::Finish)) => {
                if !pending.is_empty() {
                    acked += ack(pending)?;
                }
                return Ok((received, acked));
            }
            Some(other) => return Err(NodeError::Protocol(format!("unexpected frame {other:?}"))),
            None => return Err(NodeError::Protocol("driver disconnected before Finish".into())),
        }
    }
}

//! A node that breaks the ingest protocol on purpose (`--lie KIND`), so that tests can
//! show the harness does not believe what a node acknowledges.
//!
//! A lying node receives blocks like `--sink` (nothing is decoded or stored) but
//! announces itself as an ordinary storing node and reports counts consistent with its
//! lie, so only the harness's own accounting can catch it:
//! - `double-ack`: acknowledges every block twice;
//! - `unknown-ack`: also acknowledges a block number that was never sent;
//! - `missing-ack`: leaves the first block of every batch unacknowledged, then
//!   reports `Done` as if all were durable;
//! - `done-without-acks`: reports `Done` after the first block, acknowledging nothing;
//! - `done-at-hello`: reports `Done` at once, before any block (nothing was sent, so
//!   nothing sent is unacknowledged: only "the whole workload" catches it);
//! - `ack-without-storing`: acknowledges everything exactly once and stores nothing
//!   (caught only by reading acknowledged blocks back).

use std::io::BufReader;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

use syncbench_proto::frame::{Frame, FrameReader};

use crate::events::{Events, NodeEvent, NodeSummary};
use crate::unstored::{receive_unstored, send_frame, Until};
use crate::NodeError;

/// One way of lying to the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lie {
    DoubleAck,
    UnknownAck,
    MissingAck,
    DoneWithoutAcks,
    DoneAtHello,
    AckWithoutStoring,
}

/// Serves one session with `lie`; `range` is the block range the driver announced.
pub fn serve(
    lie: Lie,
    frames: &mut FrameReader<BufReader<UnixStream>>,
    out: &Mutex<crate::unstored::AckStream>,
    batch: usize,
    range: (u64, u64),
    events: &Events,
) -> Result<(), NodeError> {
    let send = |frame: &Frame| send_frame(out, frame);
    let ack = |mut blocks: Vec<u64>| -> Result<u64, NodeError> {
        match lie {
            Lie::DoubleAck => send(&Frame::Ack { blocks: blocks.clone() })?,
            Lie::MissingAck => drop(blocks.remove(0)),
            _ => {}
        }
        let n = blocks.len() as u64;
        if lie == Lie::UnknownAck {
            blocks.push(range.1.saturating_add(7));
        }
        send(&Frame::Ack { blocks })?;
        Ok(n)
    };
    let acked = match lie {
        Lie::DoneAtHello => 0,
        Lie::DoneWithoutAcks => receive_unstored(frames, batch, Until::FirstBlock, ack)?.1,
        _ => receive_unstored(frames, batch, Until::Finish, ack)?.1,
    };
    // Counts consistent with the lie: "every block I acknowledged is durable".
    events.emit(NodeEvent::NodeSummary(NodeSummary {
        blocks_received: acked,
        blocks_durable: acked,
        lie: true,
        ..NodeSummary::default()
    }));
    send(&Frame::Done { histograms: Vec::new() })
}

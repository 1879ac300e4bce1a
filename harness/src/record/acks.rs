//! What the driver counted of the node's acknowledgements (`summary.json` `acks`).

use serde::{Deserialize, Serialize};

/// Counts the summary reports (`summary.json` `acks`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckCounts {
    /// Blocks written to the socket.
    pub sent: u64,
    /// Distinct sent blocks acknowledged.
    pub acked: u64,
    /// Acknowledgements of a block already acknowledged.
    pub duplicate: u64,
    /// Acknowledgements of a number that was never sent.
    pub unknown: u64,
}

impl AckCounts {
    /// Sent blocks that were never acknowledged.
    pub fn missing(&self) -> u64 {
        self.sent.saturating_sub(self.acked)
    }

    /// Why these counts break the protocol, if they do; `done` says whether the node
    /// declared the session complete (only then must every sent block be acknowledged).
    pub fn violation(&self, done: bool) -> Option<String> {
        if self.duplicate > 0 {
            return Some(format!("the node acknowledged {} block(s) more than once", self.duplicate));
        }
        if self.unknown > 0 {
            return Some(format!("the node acknowledged {} block number(s) that were never sent", self.unknown));
        }
        (done && self.missing() > 0).then(|| {
            format!("the node reported Done with {} of {} sent blocks unacknowledged", self.missing(), self.sent)
        })
    }
}

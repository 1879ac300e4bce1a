//! Encodings shared by every syncbench process.
//!
//! # Layout
//! - [`block`]: the byte encoding of one synthetic chain block (header, transactions,
//!   receipts with logs) and its decoder into owned structures. The workload generator
//!   writes it, the node decodes and stores it, `syncbench verify` compares it.
//! - [`frame`]: the length-prefixed frames the driver and the node exchange over the
//!   Unix socket.
//!
//! Both decoders check every length against the bytes actually present (and against a
//! fixed maximum) *before* allocating, so a hostile or corrupt length can never make a
//! process reserve more memory than the input it already holds.

pub mod block;
mod bytes;
pub mod frame;

pub use block::{Block, DecodeError, Log, Receipt};
pub use frame::{Frame, FrameError, FrameReader};

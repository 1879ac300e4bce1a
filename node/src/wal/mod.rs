//! Write-ahead log: one `staging.wal` per shard, block records appended in arrival order
//! (out of block order under parallel fetch), made durable one writer batch at a time.
//!
//! # Layout
//! - [`writer`]: appends records through a bounded buffer with direct I/O
//!   ([`crate::direct_io`]) and keeps the index of the records it wrote; `commit`
//!   appends a commit marker and fdatasyncs.
//! - [`reader`]: sequential scan of records, used by recovery, streaming compaction of a
//!   WAL reopened after a restart, and the read path.
//! - [`recovery`]: startup check that truncates a torn tail and refuses corruption.
//!
//! ## Format
//! A WAL is a sequence of records. All integers little-endian.
//! ```text
//! record = len u32 | number u64 | payload_crc u32 | header_crc u32 | payload (len bytes)
//! ```
//! - `payload_crc` is CRC-32C of the payload; `header_crc` is CRC-32C of the 16 bytes
//!   before it, so a damaged length is detected before it is trusted.
//! - `len` is at most [`MAX_PAYLOAD_BYTES`].
//! - A record with `number == COMMIT_MARKER` and an 8-byte payload (the batch sequence
//!   number) ends every writer batch, and is written before the batch's fdatasync. Every
//!   acknowledged block therefore lies before some valid commit marker: damage followed
//!   by a valid marker is corruption of acknowledged data (refuse to start), while damage
//!   with no marker after it is a torn, unacknowledged tail (truncate and report).

pub mod reader;
pub mod recovery;
pub mod writer;

use syncbench_proto::block::MAX_BLOCK_BYTES;

/// Bytes in a record header.
pub const HEADER_BYTES: usize = 20;
/// Largest payload a record may carry (one maximal block).
pub const MAX_PAYLOAD_BYTES: u32 = MAX_BLOCK_BYTES as u32;
/// The block number reserved for batch commit markers.
pub const COMMIT_MARKER: u64 = u64::MAX;
/// File name of a shard's write-ahead log.
pub const FILE_NAME: &str = "staging.wal";

/// A decoded, header-checked record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub len: u32,
    pub number: u64,
    pub payload_crc: u32,
}

impl RecordHeader {
    pub fn for_payload(number: u64, payload: &[u8]) -> RecordHeader {
        RecordHeader { len: payload.len() as u32, number, payload_crc: crc32c::crc32c(payload) }
    }

    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut h = [0u8; HEADER_BYTES];
        h[0..4].copy_from_slice(&self.len.to_le_bytes());
        h[4..12].copy_from_slice(&self.number.to_le_bytes());
        h[12..16].copy_from_slice(&self.payload_crc.to_le_bytes());
        let crc = crc32c::crc32c(&h[0..16]);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// Decodes a header; `None` when its CRC fails or its length is out of range.
    pub fn decode(h: &[u8]) -> Option<RecordHeader> {
        let h: &[u8; HEADER_BYTES] = h.get(..HEADER_BYTES)?.try_into().ok()?;
        let word = |r: std::ops::Range<usize>| h[r].try_into().ok();
        let crc = u32::from_le_bytes(word(16..20)?);
        if crc32c::crc32c(&h[0..16]) != crc {
            return None;
        }
        let len = u32::from_le_bytes(word(0..4)?);
        let number = u64::from_le_bytes(h[4..12].try_into().ok()?);
        let payload_crc = u32::from_le_bytes(word(12..16)?);
        (len <= MAX_PAYLOAD_BYTES).then_some(RecordHeader { len, number, payload_crc })
    }

    pub fn is_commit_marker(&self) -> bool {
        self.number == COMMIT_MARKER && self.len == 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_any_flip_is_detected() {
        let h = RecordHeader::for_payload(42, b"hello");
        let bytes = h.encode();
        assert_eq!(RecordHeader::decode(&bytes), Some(h));
        for bit in 0..HEADER_BYTES * 8 {
            let mut b = bytes;
            b[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(RecordHeader::decode(&b), None, "flip of bit {bit} went unnoticed");
        }
    }
}

//! Sealed segments: a compacted shard's blocks in block order with an offset index.
//!
//! # Layout
//! - [`writer`]: [`writer::SegmentWriter`] appends records in increasing block order
//!   to any `Write` (a file for streaming compaction, a `Vec` for buffered).
//! - [`reader`]: opens and checks a segment, returns blocks by number.
//!
//! ## Format
//! One file per shard, `sorted/segment.sbs`. All integers little-endian.
//! ```text
//! segment = header | record{count} | index | footer
//! header  = magic "SBSG" | version u32 (1) | shard u64                       (16 bytes)
//! record  = number u64 | len u32 | payload_crc u32 | payload                 (16 + len)
//! index   = (number u64 | record_offset u64){count}, strictly increasing numbers
//! footer  = index_offset u64 | count u64 | index_crc u32 | reserved u32 (0)
//!           | footer_crc u32 (CRC-32C of the 24 bytes before it) | magic "SBSE" (32 bytes)
//! ```
//! Written as `segment.tmp`, fsync'd, then renamed to `segment.sbs` (atomic): a
//! `segment.sbs` is always complete; a `segment.tmp` is garbage from an interrupted
//! compaction and is removed at startup.

pub mod reader;
pub mod writer;

pub const MAGIC: [u8; 4] = *b"SBSG";
pub const FOOTER_MAGIC: [u8; 4] = *b"SBSE";
pub const VERSION: u32 = 1;
pub const HEADER_BYTES: u64 = 16;
pub const RECORD_HEADER_BYTES: u64 = 16;
pub const INDEX_ENTRY_BYTES: u64 = 16;
pub const FOOTER_BYTES: u64 = 32;
/// Directory (inside a shard directory) holding the sealed segment.
pub const DIR_NAME: &str = "sorted";
pub const FILE_NAME: &str = "segment.sbs";
pub const TMP_NAME: &str = "segment.tmp";

//! Writes a segment: records in strictly increasing block order, then index and footer.

use std::io::{self, Write};

use super::*;

/// Appends records to a segment being built.
pub struct SegmentWriter<W: Write> {
    out: W,
    offset: u64,
    index: Vec<(u64, u64)>,
}

impl<W: Write> SegmentWriter<W> {
    /// Writes the segment header for `shard`.
    pub fn new(mut out: W, shard: u64) -> io::Result<Self> {
        out.write_all(&MAGIC)?;
        out.write_all(&VERSION.to_le_bytes())?;
        out.write_all(&shard.to_le_bytes())?;
        Ok(SegmentWriter { out, offset: HEADER_BYTES, index: Vec::new() })
    }

    /// Appends one block; numbers must strictly increase.
    pub fn append(&mut self, number: u64, payload: &[u8], payload_crc: u32) -> io::Result<()> {
        if self.index.last().is_some_and(|&(last, _)| last >= number) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "segment records out of order"));
        }
        let len = u32::try_from(payload.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record too large"))?;
        let mut head = [0u8; RECORD_HEADER_BYTES as usize];
        head[0..8].copy_from_slice(&number.to_le_bytes());
        head[8..12].copy_from_slice(&len.to_le_bytes());
        head[12..16].copy_from_slice(&payload_crc.to_le_bytes());
        self.out.write_all(&head)?;
        self.out.write_all(payload)?;
        self.index.push((number, self.offset));
        self.offset += RECORD_HEADER_BYTES + u64::from(len);
        Ok(())
    }

    pub fn records(&self) -> usize {
        self.index.len()
    }

    /// Writes index and footer; returns the writer and the segment's size in bytes.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        let index_offset = self.offset;
        let mut index = Vec::with_capacity(self.index.len() * INDEX_ENTRY_BYTES as usize);
        for (number, offset) in &self.index {
            index.extend_from_slice(&number.to_le_bytes());
            index.extend_from_slice(&offset.to_le_bytes());
        }
        self.out.write_all(&index)?;
        let mut footer = [0u8; FOOTER_BYTES as usize];
        footer[0..8].copy_from_slice(&index_offset.to_le_bytes());
        footer[8..16].copy_from_slice(&(self.index.len() as u64).to_le_bytes());
        footer[16..20].copy_from_slice(&crc32c::crc32c(&index).to_le_bytes());
        let crc = crc32c::crc32c(&footer[0..24]);
        footer[24..28].copy_from_slice(&crc.to_le_bytes());
        footer[28..32].copy_from_slice(&FOOTER_MAGIC);
        self.out.write_all(&footer)?;
        self.out.flush()?;
        Ok((self.out, index_offset + index.len() as u64 + FOOTER_BYTES))
    }
}

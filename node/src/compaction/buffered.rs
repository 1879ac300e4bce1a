//! Buffered compaction: the incident's pre-fix behaviour (README.md, "The incident"),
//! kept on purpose.
//!
//! The whole WAL is read into memory, every payload is cloned into its own `Vec`, the
//! records are sorted, and the segment is assembled in one more in-memory buffer before
//! a single write. Peak memory is about three times the WAL, and two such compactions
//! overlapping double it: the ratchet the incident report describes. The file I/O is
//! the same direct I/O as streaming compaction's ([`crate::direct_io`]), so the two
//! modes differ only in how they hold the data.

use std::io::Write;
use std::path::Path;

use super::streaming::CHUNK_BYTES;
use super::{io_err, CompactionError, Outcome};
use crate::direct_io::{self, DirectWriter};
use crate::fault::{kill_point, KillPoint};
use crate::segment::writer::SegmentWriter;
use crate::wal::{RecordHeader, HEADER_BYTES};

pub fn compact(wal: &Path, tmp: &Path, shard: u64) -> Result<Outcome, CompactionError> {
    let bytes = direct_io::read_file(wal).map_err(io_err(wal))?;
    let mut records = parse_all(&bytes, wal)?;
    records.sort_by_key(|r| r.0);
    records.dedup_by_key(|r| r.0);
    let mut w = SegmentWriter::new(Vec::with_capacity(bytes.len()), shard).map_err(io_err(tmp))?;
    for (number, crc, payload) in &records {
        w.append(*number, payload, *crc).map_err(io_err(tmp))?;
    }
    let (image, bytes_out) = w.finish().map_err(io_err(tmp))?;
    let mut file = DirectWriter::create(tmp, CHUNK_BYTES).map_err(io_err(tmp))?;
    let half = image.len() / 2;
    file.write_all(&image[..half]).map_err(io_err(tmp))?;
    kill_point(KillPoint::SegmentMidWrite);
    file.write_all(&image[half..]).map_err(io_err(tmp))?;
    file.sync_all().map_err(io_err(tmp))?;
    Ok(Outcome { records: records.len() as u64, bytes_in: bytes.len() as u64, bytes_out })
}

/// Every block record of an in-memory WAL, payloads cloned, CRCs checked.
fn parse_all(bytes: &[u8], wal: &Path) -> Result<Vec<(u64, u32, Vec<u8>)>, CompactionError> {
    let corrupt =
        |offset: usize, reason| CompactionError::Corrupt { path: wal.to_owned(), offset: offset as u64, reason };
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let h = RecordHeader::decode(&bytes[at..]).ok_or_else(|| corrupt(at, "bad record header"))?;
        let start = at + HEADER_BYTES;
        let payload = bytes.get(start..start + h.len as usize).ok_or_else(|| corrupt(at, "truncated payload"))?;
        if crc32c::crc32c(payload) != h.payload_crc {
            return Err(corrupt(at, "payload checksum mismatch"));
        }
        if !h.is_commit_marker() {
            records.push((h.number, h.payload_crc, payload.to_vec()));
        }
        at = start + h.len as usize;
    }
    Ok(records)
}

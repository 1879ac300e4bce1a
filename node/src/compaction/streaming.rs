//! Streaming compaction: the fix from seed 004.
//!
//! Pass 1 scans record headers only (payloads are skipped with a seek) into an offset
//! index of 24 bytes per block. Pass 2 reads each record on demand in block order,
//! checks its CRC, and appends it to the segment through a 1 MiB buffer. Memory is the
//! index plus the largest record plus the buffer, independent of the shard's size.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use super::{io_err, CompactionError, Outcome};
use crate::fault::{kill_point, KillPoint};
use crate::segment::writer::SegmentWriter;
use crate::wal::reader::{read_payload, scan, ScanEnd};

/// Size of the chunks the segment is written in.
pub const CHUNK_BYTES: usize = 1 << 20;

pub fn compact(wal: &Path, tmp: &Path, shard: u64) -> Result<Outcome, CompactionError> {
    let mut entries = Vec::new();
    let (end, bytes_in) = scan(wal, false, |h, e, _| {
        if !h.is_commit_marker() {
            entries.push(e);
        }
    })
    .map_err(io_err(wal))?;
    if let ScanEnd::Invalid { offset, reason } = end {
        return Err(CompactionError::Corrupt { path: wal.to_owned(), offset, reason });
    }
    entries.sort_by_key(|e| e.number);
    entries.dedup_by_key(|e| e.number);
    let source = File::open(wal).map_err(io_err(wal))?;
    let out = BufWriter::with_capacity(CHUNK_BYTES, File::create(tmp).map_err(io_err(tmp))?);
    let mut w = SegmentWriter::new(out, shard).map_err(io_err(tmp))?;
    let mut buf = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if !read_payload(&source, e, &mut buf).map_err(io_err(wal))? {
            return Err(CompactionError::Corrupt {
                path: wal.to_owned(),
                offset: e.offset,
                reason: "payload checksum mismatch",
            });
        }
        w.append(e.number, &buf, e.payload_crc).map_err(io_err(tmp))?;
        if i == entries.len() / 2 {
            kill_point(KillPoint::SegmentMidWrite);
        }
    }
    let (out, bytes_out) = w.finish().map_err(io_err(tmp))?;
    let file = out.into_inner().map_err(|e| io_err(tmp)(e.into_error()))?;
    file.sync_all().map_err(io_err(tmp))?;
    Ok(Outcome { records: entries.len() as u64, bytes_in, bytes_out })
}

//! Streaming compaction: the fix for the compaction-memory incident (README, "The
//! incident").
//!
//! Pass 1 builds an offset index of 24 bytes per block: the batch writer hands over the
//! index it kept while appending, and a WAL reopened after a restart is scanned for
//! record headers instead (payloads skipped with a seek). Pass 2 reads each record on
//! demand in block order, checks its CRC, and appends it to the segment through a
//! `--chunk-bytes` buffer (1 MiB by default; WAL reads go through a buffer of the same
//! size). Memory is the index plus the largest record plus the buffer, independent of
//! the shard's size. Both the WAL reads and the segment writes use direct I/O
//! ([`crate::direct_io`]).

use std::path::Path;

use super::{io_err, CompactionError, Outcome};
use crate::direct_io::{DirectReader, DirectWriter};
use crate::fault::{kill_point, KillPoint};
use crate::segment::writer::SegmentWriter;
use crate::wal::reader::{scan, Entry, ScanEnd};

/// Default size of the chunks the WAL is read and the segment written in.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Compacts the WAL at `wal` into `tmp`, in chunks of `chunk_bytes`; `index` is the
/// writer's record index, if any.
pub fn compact(
    wal: &Path,
    tmp: &Path,
    shard: u64,
    index: Option<Vec<Entry>>,
    chunk_bytes: usize,
) -> Result<Outcome, CompactionError> {
    let mut source = DirectReader::open(wal, chunk_bytes).map_err(io_err(wal))?;
    let mut entries = match index {
        Some(entries) => entries,
        None => scan_index(wal)?,
    };
    entries.sort_by_key(|e| e.number);
    entries.dedup_by_key(|e| e.number);
    let out = DirectWriter::create(tmp, chunk_bytes).map_err(io_err(tmp))?;
    let mut w = SegmentWriter::new(out, shard).map_err(io_err(tmp))?;
    for (i, e) in entries.iter().enumerate() {
        if e.end() > source.len() {
            return Err(CompactionError::Corrupt {
                path: wal.to_owned(),
                offset: e.offset,
                reason: "record past the end",
            });
        }
        let payload = source.read_at(e.payload_offset(), e.len as usize).map_err(io_err(wal))?;
        if crc32c::crc32c(payload) != e.payload_crc {
            return Err(CompactionError::Corrupt {
                path: wal.to_owned(),
                offset: e.offset,
                reason: "payload checksum mismatch",
            });
        }
        w.append(e.number, payload, e.payload_crc).map_err(io_err(tmp))?;
        if i == entries.len() / 2 {
            kill_point(KillPoint::SegmentMidWrite);
        }
    }
    let (mut out, bytes_out) = w.finish().map_err(io_err(tmp))?;
    out.sync_all().map_err(io_err(tmp))?;
    Ok(Outcome { records: entries.len() as u64, bytes_in: source.len(), bytes_out })
}

/// Pass 1 for a WAL without a writer's index: every block record's location.
fn scan_index(wal: &Path) -> Result<Vec<Entry>, CompactionError> {
    let mut entries = Vec::new();
    let (end, _) = scan(wal, false, |h, e, _| {
        if !h.is_commit_marker() {
            entries.push(e);
        }
    })
    .map_err(io_err(wal))?;
    match end {
        ScanEnd::Invalid { offset, reason } => Err(CompactionError::Corrupt { path: wal.to_owned(), offset, reason }),
        ScanEnd::Clean => Ok(entries),
    }
}

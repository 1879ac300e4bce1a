//! Appends records to a shard's WAL through a bounded buffer, with direct I/O.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::reader::Entry;
use super::{RecordHeader, COMMIT_MARKER};
use crate::direct_io::DirectWriter;
use crate::fault::{kill_point, KillPoint};

/// Writes are buffered up to this many bytes before reaching the file: enough to avoid a
/// syscall per record, small enough that the writer's memory stays bounded.
pub const BUFFER_BYTES: usize = 1 << 20;

/// An open WAL positioned at its end.
pub struct WalWriter {
    path: PathBuf,
    out: DirectWriter,
    /// Where each block record this writer appended lives, kept only for a WAL this
    /// writer created (24 bytes per block): compaction then needs no header scan. A WAL
    /// reopened after a restart holds records of an earlier process and gets `None`.
    index: Option<Vec<Entry>>,
}

impl WalWriter {
    /// Opens (creating if needed) the WAL at `path` for appending. Recovery must have
    /// run first: the file must end on a record boundary.
    pub fn open(path: &Path) -> io::Result<WalWriter> {
        let out = DirectWriter::append(path, BUFFER_BYTES)?;
        let index = out.is_empty().then(Vec::new);
        Ok(WalWriter { path: path.to_owned(), out, index })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the WAL, including buffered ones.
    pub fn len(&self) -> u64 {
        self.out.len()
    }

    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// True if the WAL bypasses the page cache (see [`crate::direct_io`]).
    pub fn is_direct(&self) -> bool {
        self.out.is_direct()
    }

    /// Appends one block record (buffered; not durable until [`WalWriter::commit`]).
    pub fn append(&mut self, number: u64, payload: &[u8]) -> io::Result<()> {
        debug_assert_ne!(number, COMMIT_MARKER);
        let header = RecordHeader::for_payload(number, payload);
        let offset = self.out.len();
        self.write_record(&header, payload)?;
        if let Some(index) = &mut self.index {
            index.push(Entry { number, offset, len: header.len, payload_crc: header.payload_crc });
        }
        Ok(())
    }

    fn write_record(&mut self, header: &RecordHeader, payload: &[u8]) -> io::Result<()> {
        debug_assert_eq!(header.len as usize, payload.len());
        self.out.write_all(&header.encode())?;
        self.out.write_all(payload)?;
        Ok(())
    }

    /// Writes out the buffer without syncing (the "append" half of a batch).
    pub fn flush_buffer(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Appends the batch's commit marker, writes everything out and fdatasyncs.
    /// Only after this returns may the batch's blocks be acknowledged.
    pub fn commit(&mut self, batch: u64) -> io::Result<()> {
        let payload = batch.to_le_bytes();
        self.write_record(&RecordHeader::for_payload(COMMIT_MARKER, &payload), &payload)?;
        self.out.flush()?;
        kill_point(KillPoint::WalAfterAppend);
        self.out.sync_data()?;
        kill_point(KillPoint::WalAfterFsync);
        Ok(())
    }

    /// Closes the WAL, returning the index of its block records if this writer created it.
    pub fn into_index(self) -> Option<Vec<Entry>> {
        self.index
    }
}

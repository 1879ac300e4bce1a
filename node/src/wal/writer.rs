//! Appends records to a shard's WAL through a bounded buffer.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{RecordHeader, COMMIT_MARKER};
use crate::fault::{kill_point, KillPoint};

/// Writes are buffered up to this many bytes before reaching the file: enough to avoid a
/// syscall per record, small enough that the writer's memory stays bounded.
pub const BUFFER_BYTES: usize = 1 << 20;

/// An open WAL positioned at its end.
pub struct WalWriter {
    path: PathBuf,
    out: BufWriter<File>,
    len: u64,
}

impl WalWriter {
    /// Opens (creating if needed) the WAL at `path` for appending. Recovery must have
    /// run first: the file must end on a record boundary.
    pub fn open(path: &Path) -> io::Result<WalWriter> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(WalWriter { path: path.to_owned(), out: BufWriter::with_capacity(BUFFER_BYTES, file), len })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the WAL, including buffered ones.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one block record (buffered; not durable until [`WalWriter::commit`]).
    pub fn append(&mut self, number: u64, payload: &[u8]) -> io::Result<()> {
        debug_assert_ne!(number, COMMIT_MARKER);
        self.write_record(&RecordHeader::for_payload(number, payload), payload)
    }

    fn write_record(&mut self, header: &RecordHeader, payload: &[u8]) -> io::Result<()> {
        self.out.write_all(&header.encode())?;
        self.out.write_all(payload)?;
        self.len += (super::HEADER_BYTES + payload.len()) as u64;
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
        self.out.get_ref().sync_data()?;
        kill_point(KillPoint::WalAfterFsync);
        Ok(())
    }
}

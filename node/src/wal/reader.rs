//! Sequential scanning of a WAL: record locations, optionally with checked payloads.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{RecordHeader, HEADER_BYTES};

/// Read buffer for sequential scans.
const SCAN_BUFFER_BYTES: usize = 1 << 20;

/// Where one record lives in a WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub number: u64,
    /// Offset of the record header.
    pub offset: u64,
    pub len: u32,
    pub payload_crc: u32,
}

impl Entry {
    pub fn payload_offset(&self) -> u64 {
        self.offset + HEADER_BYTES as u64
    }

    pub fn end(&self) -> u64 {
        self.payload_offset() + u64::from(self.len)
    }
}

/// How a scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanEnd {
    /// The file ended exactly after a record.
    Clean,
    /// The record at `offset` is incomplete or fails its checks.
    Invalid { offset: u64, reason: &'static str },
}

/// Scans the WAL at `path` from the start, calling `on_record` for every valid record
/// (commit markers included). With `check_payloads`, payloads are read and their CRC
/// checked, and passed to `on_record`; otherwise they are skipped with a seek.
pub fn scan(
    path: &Path,
    check_payloads: bool,
    mut on_record: impl FnMut(&RecordHeader, Entry, Option<&[u8]>),
) -> io::Result<(ScanEnd, u64)> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut r = BufReader::with_capacity(SCAN_BUFFER_BYTES, file);
    let mut offset = 0u64;
    let mut payload = Vec::new();
    let mut head = [0u8; HEADER_BYTES];
    loop {
        if offset == file_len {
            return Ok((ScanEnd::Clean, file_len));
        }
        if file_len - offset < HEADER_BYTES as u64 {
            return Ok((ScanEnd::Invalid { offset, reason: "truncated record header" }, file_len));
        }
        r.read_exact(&mut head)?;
        let Some(h) = RecordHeader::decode(&head) else {
            return Ok((ScanEnd::Invalid { offset, reason: "record header checksum mismatch" }, file_len));
        };
        let entry = Entry { number: h.number, offset, len: h.len, payload_crc: h.payload_crc };
        if entry.end() > file_len {
            return Ok((ScanEnd::Invalid { offset, reason: "truncated record payload" }, file_len));
        }
        if check_payloads {
            payload.resize(h.len as usize, 0);
            r.read_exact(&mut payload)?;
            if crc32c::crc32c(&payload) != h.payload_crc {
                return Ok((ScanEnd::Invalid { offset, reason: "record payload checksum mismatch" }, file_len));
            }
            on_record(&h, entry, Some(&payload));
        } else {
            r.seek_relative(i64::from(h.len))?;
            on_record(&h, entry, None);
        }
        offset = entry.end();
    }
}

/// Reads and checks the payload of `entry` into `buf`.
pub fn read_payload(file: &File, entry: &Entry, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.resize(entry.len as usize, 0);
    file.read_exact_at(buf, entry.payload_offset())?;
    Ok(crc32c::crc32c(buf) == entry.payload_crc)
}

/// True if a valid commit marker starts anywhere in `[from, file_len)`.
///
/// Used after a damaged record: a later commit marker proves the damage lies inside
/// acknowledged data. Scans byte by byte in 1 MiB windows; a marker candidate is cheap
/// to reject (its number field must be all ones) before any CRC is computed.
pub fn commit_marker_after(file: &File, from: u64, file_len: u64) -> io::Result<bool> {
    const WINDOW: usize = 1 << 20;
    let marker_len = (HEADER_BYTES + 8) as u64;
    let mut buf = vec![0u8; WINDOW + HEADER_BYTES + 8];
    let mut base = from;
    while base + marker_len <= file_len {
        let n = (file_len - base).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], base)?;
        let last_start = (n as u64).saturating_sub(marker_len) as usize;
        for i in 0..=last_start.min(WINDOW - 1) {
            if buf[i + 4..i + 12] != [0xFF; 8] {
                continue;
            }
            let is_marker = RecordHeader::decode(&buf[i..]).is_some_and(|h| {
                h.is_commit_marker() && crc32c::crc32c(&buf[i + HEADER_BYTES..i + HEADER_BYTES + 8]) == h.payload_crc
            });
            if is_marker {
                return Ok(true);
            }
        }
        base += WINDOW as u64;
    }
    Ok(false)
}

//! Opens a sealed segment, checks header, footer and index, and reads blocks by number.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::*;

/// Why a segment cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("{path}: i/o error: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: corrupt segment at offset {offset}: {reason}")]
    Corrupt { path: PathBuf, offset: u64, reason: &'static str },
}

/// An open, checked segment.
pub struct SegmentReader {
    path: PathBuf,
    file: File,
    shard: u64,
    /// (block number, record offset), strictly increasing numbers.
    index: Vec<(u64, u64)>,
    index_offset: u64,
}

impl SegmentReader {
    /// Opens `path` and checks its header, footer and index (not the payloads: those are
    /// checked on every read).
    pub fn open(path: &Path) -> Result<SegmentReader, SegmentError> {
        let io = |source| SegmentError::Io { path: path.to_owned(), source };
        let corrupt = |offset, reason| SegmentError::Corrupt { path: path.to_owned(), offset, reason };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len < HEADER_BYTES + FOOTER_BYTES {
            return Err(corrupt(0, "shorter than header and footer"));
        }
        let mut header = [0u8; HEADER_BYTES as usize];
        file.read_exact_at(&mut header, 0).map_err(io)?;
        if header[0..4] != MAGIC || header[4..8] != VERSION.to_le_bytes() {
            return Err(corrupt(0, "bad magic or version"));
        }
        let shard = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
        let footer_at = len - FOOTER_BYTES;
        let mut f = [0u8; FOOTER_BYTES as usize];
        file.read_exact_at(&mut f, footer_at).map_err(io)?;
        let word = |r: std::ops::Range<usize>| u64::from_le_bytes(f[r].try_into().unwrap_or_default());
        if f[28..32] != FOOTER_MAGIC || crc32c::crc32c(&f[0..24]).to_le_bytes() != f[24..28] {
            return Err(corrupt(footer_at, "footer checksum or magic mismatch"));
        }
        let (index_offset, count) = (word(0..8), word(8..16));
        // Checked before the index is allocated: a segment holds one shard, and a
        // crafted footer must not size a 100 GB buffer (hostile round 3).
        if count > crate::config::SHARD_SIZE_MAX {
            return Err(corrupt(footer_at, "index holds more entries than a shard has blocks"));
        }
        let index_len = count.checked_mul(INDEX_ENTRY_BYTES);
        if index_offset < HEADER_BYTES || index_len.and_then(|l| l.checked_add(index_offset)) != Some(footer_at) {
            return Err(corrupt(footer_at, "index bounds do not match file size"));
        }
        let mut raw = vec![0u8; (footer_at - index_offset) as usize];
        file.read_exact_at(&mut raw, index_offset).map_err(io)?;
        if crc32c::crc32c(&raw).to_le_bytes() != f[16..20] {
            return Err(corrupt(index_offset, "index checksum mismatch"));
        }
        let index = parse_index(&raw, index_offset).map_err(|(at, why)| corrupt(at, why))?;
        Ok(SegmentReader { path: path.to_owned(), file, shard, index, index_offset })
    }

    /// [`SegmentReader::open`], and the header must name `shard` (the header is not
    /// checksummed: this is what catches damage to its shard field).
    pub fn open_shard(path: &Path, shard: u64) -> Result<SegmentReader, SegmentError> {
        let r = SegmentReader::open(path)?;
        if r.shard != shard {
            return Err(SegmentError::Corrupt {
                path: path.to_owned(),
                offset: 8,
                reason: "header names another shard",
            });
        }
        Ok(r)
    }

    pub fn shard(&self) -> u64 {
        self.shard
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Block numbers in the segment, increasing.
    pub fn numbers(&self) -> impl Iterator<Item = u64> + '_ {
        self.index.iter().map(|e| e.0)
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Reads block `number` into `buf`; `Ok(false)` if the segment does not hold it.
    pub fn get(&self, number: u64, buf: &mut Vec<u8>) -> Result<bool, SegmentError> {
        let Ok(i) = self.index.binary_search_by_key(&number, |e| e.0) else {
            return Ok(false);
        };
        let at = self.index[i].1;
        let end = self.index.get(i + 1).map_or(self.index_offset, |e| e.1);
        let corrupt = |offset, reason| SegmentError::Corrupt { path: self.path.clone(), offset, reason };
        let mut head = [0u8; RECORD_HEADER_BYTES as usize];
        self.file
            .read_exact_at(&mut head, at)
            .map_err(|source| SegmentError::Io { path: self.path.clone(), source })?;
        let stored = u64::from_le_bytes(head[0..8].try_into().unwrap_or_default());
        let len = u64::from(u32::from_le_bytes(head[8..12].try_into().unwrap_or_default()));
        if stored != number || at + RECORD_HEADER_BYTES + len != end {
            return Err(corrupt(at, "record header disagrees with index"));
        }
        buf.resize(len as usize, 0);
        self.file
            .read_exact_at(buf, at + RECORD_HEADER_BYTES)
            .map_err(|source| SegmentError::Io { path: self.path.clone(), source })?;
        if crc32c::crc32c(buf).to_le_bytes() != head[12..16] {
            return Err(corrupt(at, "record payload checksum mismatch"));
        }
        Ok(true)
    }
}

fn parse_index(raw: &[u8], base: u64) -> Result<Vec<(u64, u64)>, (u64, &'static str)> {
    let mut index = Vec::with_capacity(raw.len() / INDEX_ENTRY_BYTES as usize);
    let mut next_min_offset = HEADER_BYTES;
    for (i, e) in raw.chunks_exact(INDEX_ENTRY_BYTES as usize).enumerate() {
        let number = u64::from_le_bytes(e[0..8].try_into().unwrap_or_default());
        let offset = u64::from_le_bytes(e[8..16].try_into().unwrap_or_default());
        let at = base + i as u64 * INDEX_ENTRY_BYTES;
        if index.last().is_some_and(|&(n, _)| n >= number) || offset < next_min_offset || offset >= base {
            return Err((at, "index entries out of order or out of range"));
        }
        next_min_offset = offset + RECORD_HEADER_BYTES;
        index.push((number, offset));
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (hostile round 3): a 100 GB sparse segment whose footer was valid made
    /// `verify` allocate 100 GB for its index and abort.
    #[test]
    fn a_crafted_footer_cannot_size_a_huge_index() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join(FILE_NAME);
        let file = File::create(&path).unwrap();
        let len: u64 = 100 << 30;
        file.set_len(len).unwrap();
        let mut header = [0u8; HEADER_BYTES as usize];
        header[0..4].copy_from_slice(&MAGIC);
        header[4..8].copy_from_slice(&VERSION.to_le_bytes());
        file.write_all_at(&header, 0).unwrap();
        let footer_at = len - FOOTER_BYTES;
        let count = (footer_at - HEADER_BYTES) / INDEX_ENTRY_BYTES;
        let mut f = [0u8; FOOTER_BYTES as usize];
        f[0..8].copy_from_slice(&HEADER_BYTES.to_le_bytes());
        f[8..16].copy_from_slice(&count.to_le_bytes());
        let crc = crc32c::crc32c(&f[0..24]).to_le_bytes();
        f[24..28].copy_from_slice(&crc);
        f[28..32].copy_from_slice(&FOOTER_MAGIC);
        file.write_all_at(&f, footer_at).unwrap();
        match SegmentReader::open(&path) {
            Err(SegmentError::Corrupt { reason, .. }) => assert!(reason.contains("more entries"), "{reason}"),
            other => panic!("expected a refusal, got {:?}", other.map(|r| r.len())),
        }
    }
}

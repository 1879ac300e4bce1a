//! Startup check of a shard's WAL: keep every intact record, truncate a torn tail, and
//! refuse to start when acknowledged data is damaged.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use super::reader::{commit_marker_after, scan, Entry, ScanEnd};

/// A tail that was cut off because it held no acknowledged data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// Offset the WAL was truncated to (start of the first damaged record).
    pub offset: u64,
    /// Bytes removed.
    pub bytes: u64,
    pub reason: &'static str,
}

/// The recovered contents of one WAL.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Block records (commit markers excluded), in file order.
    pub entries: Vec<Entry>,
    pub torn: Option<TornTail>,
}

/// Why a WAL cannot be recovered.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("{path}: i/o error during recovery: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: corrupt record at offset {offset} ({reason}) before the last commit marker: acknowledged data is damaged; refusing to start")]
    Corrupt { path: PathBuf, offset: u64, reason: &'static str },
}

/// Checks every record of the WAL at `path` (payload CRCs included).
pub fn recover(path: &Path) -> Result<Recovered, RecoveryError> {
    let io = |source| RecoveryError::Io { path: path.to_owned(), source };
    let mut entries = Vec::new();
    let (end, file_len) = scan(path, true, |h, e, _| {
        if !h.is_commit_marker() {
            entries.push(e);
        }
    })
    .map_err(io)?;
    let file = OpenOptions::new().write(true).read(true).open(path).map_err(io)?;
    let ScanEnd::Invalid { offset, reason } = end else {
        // Records after the last commit marker were never acknowledged but are intact;
        // they are kept, so make them durable now: the driver will resend those blocks
        // and the node acknowledges duplicates without writing them again.
        file.sync_data().map_err(io)?;
        return Ok(Recovered { entries, torn: None });
    };
    if commit_marker_after(&file, offset + 1, file_len).map_err(io)? {
        return Err(RecoveryError::Corrupt { path: path.to_owned(), offset, reason });
    }
    file.set_len(offset).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(Recovered { entries, torn: Some(TornTail { offset, bytes: file_len - offset, reason }) })
}

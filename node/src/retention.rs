//! `--retain-shards K`: history expiry. After each compaction, sealed shards older than
//! the newest `K` sealed shards are deleted, so a run of any length fits on a small disk.
//!
//! ## Format
//! ```text
//! <data>/expired-<id, 10 digits>     empty file: shard <id> was deleted on purpose
//! ```
//! The tombstone is created and its directory fsync'd *before* the shard directory is
//! removed, so after a crash a half-deleted shard is recognised (startup finishes the
//! deletion) and `verify` can tell an expired block from a lost one. Only sealed shards
//! (segments committed) expire: an open shard, still receiving blocks, never does.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::store::shard_dir;

/// File-name prefix of a tombstone.
pub const TOMBSTONE_PREFIX: &str = "expired-";

/// Path of shard `shard`'s tombstone under the data directory `root`.
pub fn tombstone(root: &Path, shard: u64) -> PathBuf {
    root.join(format!("{TOMBSTONE_PREFIX}{shard:010}"))
}

/// True if shard `shard` was expired by retention.
pub fn is_expired(root: &Path, shard: u64) -> bool {
    tombstone(root, shard).exists()
}

/// Which shards to expire: every sealed shard except the newest `keep`.
pub fn to_expire(sealed: &BTreeSet<u64>, keep: u64) -> Vec<u64> {
    let excess = sealed.len().saturating_sub(keep as usize);
    sealed.iter().take(excess).copied().collect()
}

/// Writes shard `shard`'s tombstone and fsyncs `root`: from here on the shard counts as
/// deleted on purpose, whatever a crash leaves of it.
pub fn write_tombstone(root: &Path, shard: u64) -> std::io::Result<()> {
    File::create(tombstone(root, shard))?;
    File::open(root)?.sync_all()
}

/// Expires shard `shard`: tombstone, fsync of `root`, then the shard directory.
/// Returns the bytes the shard's files held.
pub fn expire(root: &Path, shard: u64) -> std::io::Result<u64> {
    let dir = shard_dir(root, shard);
    let bytes = dir_bytes(&dir);
    write_tombstone(root, shard)?;
    match fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    File::open(root)?.sync_all()?;
    Ok(bytes)
}

/// Bytes of the regular files under `dir` (one level of subdirectories, as a shard has).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_sealed_shards() {
        let sealed: BTreeSet<u64> = [3, 4, 7, 9].into();
        assert_eq!(to_expire(&sealed, 2), vec![3, 4]);
        assert_eq!(to_expire(&sealed, 4), Vec::<u64>::new());
        assert_eq!(to_expire(&sealed, 10), Vec::<u64>::new());
    }

    #[test]
    fn expiring_leaves_a_tombstone_and_no_shard() {
        let root = tempfile::tempdir().unwrap();
        let dir = shard_dir(root.path(), 5).join("sorted");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("segment.sbs"), [0u8; 100]).unwrap();
        assert_eq!(expire(root.path(), 5).unwrap(), 100);
        assert!(is_expired(root.path(), 5));
        assert!(!shard_dir(root.path(), 5).exists());
        assert!(!is_expired(root.path(), 4));
    }
}

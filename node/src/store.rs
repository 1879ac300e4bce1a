//! The data directory: metadata, shard directories, startup recovery, and the read path.
//!
//! ## Format
//! ```text
//! <data>/meta.json                        {"format": 1, "shard_size": N[, "store": "rocksdb"]}
//! <data>/shard-<id, 10 digits>/staging.wal          open shard (see `wal`)
//! <data>/shard-<id, 10 digits>/sorted/segment.sbs   sealed shard (see `segment`)
//! <data>/expired-<id, 10 digits>                   shard deleted by retention (see `retention`)
//! ```
//! Shard `id` holds blocks `id * shard_size .. (id + 1) * shard_size`. A RocksDB store
//! (`--store rocksdb`, see `rocks`) has the same meta.json, with `"store": "rocksdb"`;
//! each store refuses the other's directory.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::mode::StoreKind;
use crate::segment::reader::{SegmentError, SegmentReader};
use crate::wal::reader::{commit_marker_after, read_payload, scan, Entry, ScanEnd};
use crate::wal::recovery::{recover, RecoveryError, TornTail};
use crate::{segment, wal};

pub const META_FILE: &str = "meta.json";
/// Largest meta.json read (it holds two small numbers).
const META_MAX_BYTES: usize = 4096;
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Meta {
    pub format: u32,
    pub shard_size: u64,
    /// Absent in stores written before there was a choice (and in native ones).
    #[serde(default, skip_serializing_if = "is_native")]
    pub store: StoreKind,
}

fn is_native(s: &StoreKind) -> bool {
    *s == StoreKind::Native
}

/// The kind of store in data directory `root`, `None` if it holds none yet.
pub fn kind_of(root: &Path) -> Result<Option<StoreKind>, StoreError> {
    Ok(read_meta(root)?.map(|m| m.store))
}

/// Why the store cannot be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: i/o error: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: invalid store metadata: {message}")]
    Meta { path: PathBuf, message: String },
    #[error("{path}: store was created with shard size {stored}, not {requested}")]
    ShardSize { path: PathBuf, stored: u64, requested: u64 },
    #[error(
        "{path}: this data directory holds a {stored} store, not {requested} (--store {stored}, or another directory)"
    )]
    WrongStore { path: PathBuf, stored: StoreKind, requested: StoreKind },
    #[error("{path}: {message}")]
    Engine { path: PathBuf, message: String },
    /// Acknowledged data that is not whole (a RocksDB store's header without its body).
    #[error("{path}: damaged: {message}")]
    Damaged { path: PathBuf, message: String },
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    #[error(transparent)]
    Segment(#[from] SegmentError),
}

impl StoreError {
    /// True when the store holds damaged acknowledged data (the node must not start).
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            StoreError::Recovery(RecoveryError::Corrupt { .. })
                | StoreError::Segment(SegmentError::Corrupt { .. })
                | StoreError::Damaged { .. }
        )
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_owned(), source }
}

/// What startup found in one shard directory.
#[derive(Debug)]
pub enum ShardOnDisk {
    Sealed { numbers: Vec<u64> },
    Open { entries: Vec<Entry>, wal_bytes: u64 },
}

/// Something recovery did that the operator should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryNote {
    TornTail { shard: u64, file: PathBuf, tail: TornTail },
    OrphanRemoved { shard: u64, file: PathBuf },
}

/// What [`Store::open`] returns: the store, each shard as found on disk (by id), and
/// what recovery repaired.
pub type Opened = (Store, BTreeMap<u64, ShardOnDisk>, Vec<RecoveryNote>);

/// The opened store and what recovery found.
#[derive(Debug)]
pub struct Store {
    pub root: PathBuf,
    pub shard_size: u64,
}

impl Store {
    /// Opens (creating if needed) the store at `root` and recovers every shard.
    pub fn open(root: &Path, shard_size: u64) -> Result<Opened, StoreError> {
        fs::create_dir_all(root).map_err(io(root))?;
        open_meta(root, shard_size, StoreKind::Native)?;
        let store = Store { root: root.to_owned(), shard_size };
        let (mut shards, mut notes) = (BTreeMap::new(), Vec::new());
        for (shard, dir) in shard_dirs(root)? {
            if crate::retention::is_expired(root, shard) {
                // A crash interrupted the deletion after its tombstone: finish it.
                fs::remove_dir_all(&dir).map_err(io(&dir))?;
                notes.push(RecoveryNote::OrphanRemoved { shard, file: dir });
                continue;
            }
            shards.insert(shard, recover_shard(shard, &dir, &mut notes)?);
        }
        Ok((store, shards, notes))
    }

    pub fn shard_of(&self, number: u64) -> u64 {
        number / self.shard_size
    }

    pub fn shard_dir(&self, shard: u64) -> PathBuf {
        shard_dir(&self.root, shard)
    }
}

pub fn shard_dir(root: &Path, shard: u64) -> PathBuf {
    root.join(format!("shard-{shard:010}"))
}

/// Checks (or, in a new directory, writes) meta.json: the same store kind and shard size.
pub(crate) fn open_meta(root: &Path, shard_size: u64, store: StoreKind) -> Result<(), StoreError> {
    let path = root.join(META_FILE);
    match read_meta(root)? {
        Some(m) if m.store != store => Err(StoreError::WrongStore { path, stored: m.store, requested: store }),
        Some(m) if m.shard_size != shard_size => {
            Err(StoreError::ShardSize { path, stored: m.shard_size, requested: shard_size })
        }
        Some(_) => Ok(()),
        None => write_meta(root, Meta { format: FORMAT, shard_size, store }),
    }
}

pub(crate) fn read_meta(root: &Path) -> Result<Option<Meta>, StoreError> {
    let path = root.join(META_FILE);
    let bounded = File::open(&path).and_then(|f| {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(f, META_MAX_BYTES as u64 + 1), &mut bytes).map(|_| bytes)
    });
    match bounded {
        Ok(bytes) if bytes.len() > META_MAX_BYTES => {
            Err(StoreError::Meta { path, message: format!("expected at most {META_MAX_BYTES} bytes, got more") })
        }
        Ok(bytes) => {
            let meta: Meta = serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Meta { path: path.clone(), message: e.to_string() })?;
            // Shard numbers divide by it: 0 (or beyond the node's bound) is a corrupt file.
            if !(1..=crate::config::SHARD_SIZE_MAX).contains(&meta.shard_size) {
                let message = format!(
                    "field `shard_size`: expected 1..={}, got {}",
                    crate::config::SHARD_SIZE_MAX,
                    meta.shard_size
                );
                return Err(StoreError::Meta { path, message });
            }
            Ok(Some(meta))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

fn write_meta(root: &Path, meta: Meta) -> Result<(), StoreError> {
    let tmp = root.join("meta.json.tmp");
    let text = serde_json::to_vec(&meta).map_err(|e| StoreError::Meta { path: tmp.clone(), message: e.to_string() })?;
    fs::write(&tmp, text).map_err(io(&tmp))?;
    File::open(&tmp).and_then(|f| f.sync_all()).map_err(io(&tmp))?;
    fs::rename(&tmp, root.join(META_FILE)).map_err(io(&tmp))?;
    File::open(root).and_then(|d| d.sync_all()).map_err(io(root))
}

/// Shard directories under `root`, by shard id. Other entries are ignored.
fn shard_dirs(root: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(root).map_err(io(root))? {
        let entry = entry.map_err(io(root))?;
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_prefix("shard-")).and_then(|n| n.parse().ok()) else {
            continue;
        };
        out.push((id, entry.path()));
    }
    out.sort();
    Ok(out)
}

fn recover_shard(shard: u64, dir: &Path, notes: &mut Vec<RecoveryNote>) -> Result<ShardOnDisk, StoreError> {
    let sorted = dir.join(segment::DIR_NAME);
    let tmp = sorted.join(segment::TMP_NAME);
    let wal_path = dir.join(wal::FILE_NAME);
    if tmp.exists() {
        fs::remove_file(&tmp).map_err(io(&tmp))?;
        notes.push(RecoveryNote::OrphanRemoved { shard, file: tmp });
    }
    let seg_path = sorted.join(segment::FILE_NAME);
    if seg_path.exists() {
        let seg = SegmentReader::open_shard(&seg_path, shard)?;
        if wal_path.exists() {
            // The rename committed the compaction; the WAL's removal was interrupted.
            fs::remove_file(&wal_path).map_err(io(&wal_path))?;
            notes.push(RecoveryNote::OrphanRemoved { shard, file: wal_path });
        }
        return Ok(ShardOnDisk::Sealed { numbers: seg.numbers().collect() });
    }
    if !wal_path.exists() {
        return Ok(ShardOnDisk::Open { entries: Vec::new(), wal_bytes: 0 });
    }
    let recovered = recover(&wal_path)?;
    if let Some(tail) = recovered.torn {
        notes.push(RecoveryNote::TornTail { shard, file: wal_path.clone(), tail });
    }
    let wal_bytes = fs::metadata(&wal_path).map_or(0, |m| m.len());
    Ok(ShardOnDisk::Open { entries: recovered.entries, wal_bytes })
}

/// Read-only access to every stored block, for `syncbench verify`.
///
/// Never modifies the store: a torn WAL tail is ignored (those blocks were never
/// acknowledged), damage before a commit marker is reported as corruption.
pub struct Reader {
    root: PathBuf,
    shard_size: u64,
    current: Option<(u64, ShardReader)>,
}

enum ShardReader {
    Missing,
    Segment(SegmentReader),
    Wal { path: PathBuf, file: File, index: HashMap<u64, Entry> },
}

impl Reader {
    pub fn open(root: &Path) -> Result<Reader, StoreError> {
        let meta = read_meta(root)?.ok_or_else(|| StoreError::Meta {
            path: root.join(META_FILE),
            message: "missing: not a syncbench data directory".into(),
        })?;
        if meta.store != StoreKind::Native {
            let path = root.join(META_FILE);
            return Err(StoreError::WrongStore { path, stored: meta.store, requested: StoreKind::Native });
        }
        Ok(Reader { root: root.to_owned(), shard_size: meta.shard_size, current: None })
    }

    pub fn shard_size(&self) -> u64 {
        self.shard_size
    }

    /// Every block number stored, in increasing order.
    pub fn stored_numbers(&mut self) -> Result<Vec<u64>, StoreError> {
        let mut all = Vec::new();
        for (shard, _) in shard_dirs(&self.root)? {
            match self.shard(shard)? {
                ShardReader::Missing => {}
                ShardReader::Segment(s) => all.extend(s.numbers()),
                ShardReader::Wal { index, .. } => all.extend(index.keys().copied()),
            }
        }
        all.sort_unstable();
        Ok(all)
    }

    /// True if block `number`'s shard was deleted by retention (`--retain-shards`).
    pub fn is_expired(&self, number: u64) -> bool {
        crate::retention::is_expired(&self.root, number / self.shard_size)
    }

    /// Reads block `number` into `buf`; `Ok(false)` if it is not stored.
    pub fn get(&mut self, number: u64, buf: &mut Vec<u8>) -> Result<bool, StoreError> {
        match self.shard(number / self.shard_size)? {
            ShardReader::Missing => Ok(false),
            ShardReader::Segment(s) => Ok(s.get(number, buf)?),
            ShardReader::Wal { path, file, index } => match index.get(&number) {
                None => Ok(false),
                Some(e) if read_payload(file, e, buf).map_err(io(path))? => Ok(true),
                Some(e) => Err(StoreError::Recovery(RecoveryError::Corrupt {
                    path: path.clone(),
                    offset: e.offset,
                    reason: "record payload checksum mismatch",
                })),
            },
        }
    }

    fn shard(&mut self, shard: u64) -> Result<&ShardReader, StoreError> {
        if !matches!(&self.current, Some((id, _)) if *id == shard) {
            let reader = open_shard(&shard_dir(&self.root, shard), shard)?;
            return Ok(&self.current.insert((shard, reader)).1);
        }
        match &self.current {
            Some((_, reader)) => Ok(reader),
            None => Err(StoreError::Meta { path: self.root.clone(), message: "shard reader cache lost".into() }),
        }
    }
}

fn open_shard(dir: &Path, shard: u64) -> Result<ShardReader, StoreError> {
    let seg_path = dir.join(segment::DIR_NAME).join(segment::FILE_NAME);
    if seg_path.exists() {
        return Ok(ShardReader::Segment(SegmentReader::open_shard(&seg_path, shard)?));
    }
    let path = dir.join(wal::FILE_NAME);
    if !path.exists() {
        return Ok(ShardReader::Missing);
    }
    let mut index = HashMap::new();
    let (end, file_len) = scan(&path, true, |h, e, _| {
        if !h.is_commit_marker() {
            index.entry(e.number).or_insert(e);
        }
    })
    .map_err(io(&path))?;
    let file = File::open(&path).map_err(io(&path))?;
    if let ScanEnd::Invalid { offset, reason } = end {
        if commit_marker_after(&file, offset + 1, file_len).map_err(io(&path))? {
            return Err(StoreError::Recovery(RecoveryError::Corrupt { path, offset, reason }));
        }
    }
    Ok(ShardReader::Wal { path, file, index })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_store_refuses_the_others_directory() {
        let dir = tempfile::tempdir().unwrap();
        open_meta(dir.path(), 100, StoreKind::Rocksdb).unwrap();
        let e = Store::open(dir.path(), 100).unwrap_err();
        assert!(e.to_string().contains("holds a rocksdb store, not native"), "{e}");
        let native = tempfile::tempdir().unwrap();
        Store::open(native.path(), 100).unwrap();
        let e = open_meta(native.path(), 100, StoreKind::Rocksdb).unwrap_err();
        assert!(e.to_string().contains("holds a native store, not rocksdb"), "{e}");
        assert_eq!(kind_of(native.path()).unwrap(), Some(StoreKind::Native));
        let text = std::fs::read_to_string(native.path().join(META_FILE)).unwrap();
        assert!(!text.contains("store"), "native stores keep the old meta.json: {text}");
    }
}

//! `--store rocksdb`: the same pipeline and durability promise over RocksDB.
//!
//! Blocks are keyed by number in three column families, as chain nodes lay out their
//! history: `headers` (the header), `bodies` (the block's encoding up to its receipts)
//! and `receipts` (the rest). A batch of blocks is one `WriteBatch` written with
//! `sync = true` (RocksDB's WAL is fsync'd) before its `Ack` is sent, so every
//! acknowledged block survives `kill -9`. RocksDB flushes memtables and compacts in
//! its own background threads (`--compaction-concurrency` + 1 jobs); the block cache is
//! `--cache-mib` (it replaces the native store's recent-block cache). With
//! `--retain-shards K`, a complete shard older than the newest K complete ones expires:
//! its tombstone (as in `retention`) first, then one synced batch deleting its key
//! range in every column family, then a range compaction on a background thread.
//!
//! ## Format
//! ```text
//! <data>/meta.json          {"format": 1, "shard_size": N, "store": "rocksdb"} (see `store`)
//! <data>/expired-<id>       tombstone of an expired shard (see `retention`)
//! <data>/rocksdb/           the RocksDB database
//!   column family headers   key: block number, 8 bytes big-endian → header
//!   column family bodies    key → the block's encoding up to its receipt count
//!   column family receipts  key → the rest of the encoding (receipt count, receipts)
//! ```
//! A block is stored when its header is; `bodies ‖ receipts` is its encoding, byte for
//! byte as received.
//!
//! This module is compiled only with the `rocksdb` feature: RocksDB is linked into the
//! `node-<alloc>-rocksdb` binaries alone, never into the harness or the plain nodes.

pub mod export;
pub mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{BlockBasedOptions, Cache, ColumnFamilyDescriptor, IteratorMode, Options, DB};

use crate::events::EngineMemory;
use crate::mode::StoreKind;
use crate::store::StoreError;

/// The database's directory under the data directory.
pub const DB_DIR: &str = "rocksdb";
pub const CF_HEADERS: &str = "headers";
pub const CF_BODIES: &str = "bodies";
pub const CF_RECEIPTS: &str = "receipts";
const FAMILIES: [&str; 3] = [CF_HEADERS, CF_BODIES, CF_RECEIPTS];
/// RocksDB's info LOG files kept, and the size at which one is rolled over: its
/// diagnostics stay bounded however long a run is.
const INFO_LOG_FILES: usize = 4;
const INFO_LOG_BYTES: usize = 16 << 20;

pub fn key(number: u64) -> [u8; 8] {
    number.to_be_bytes()
}

fn engine_err(path: &Path) -> impl Fn(rocksdb::Error) -> StoreError + '_ {
    move |e| StoreError::Engine { path: path.to_owned(), message: format!("rocksdb: {e}") }
}

/// An open RocksDB store, shared by the writer, the stats thread and retention.
pub struct Engine {
    pub db: DB,
    cache: Cache,
    pub root: PathBuf,
    pub shard_size: u64,
}

/// What [`Engine::open`] returns: the engine and the block numbers it holds, by shard.
pub type Opened = (Arc<Engine>, BTreeMap<u64, Vec<u64>>);

impl Engine {
    /// Opens (creating if needed) the RocksDB store in data directory `root`; RocksDB
    /// replays its own WAL. `background_jobs`: RocksDB's flush and compaction threads.
    pub fn open(root: &Path, shard_size: u64, cache_mib: u64, background_jobs: u64) -> Result<Opened, StoreError> {
        std::fs::create_dir_all(root).map_err(|source| StoreError::Io { path: root.to_owned(), source })?;
        crate::store::open_meta(root, shard_size, StoreKind::Rocksdb)?;
        let path = root.join(DB_DIR);
        let cache = Cache::new_lru_cache((cache_mib << 20) as usize).map_err(engine_err(&path))?;
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(background_jobs.clamp(2, 64) as i32);
        opts.set_keep_log_file_num(INFO_LOG_FILES);
        opts.set_max_log_file_size(INFO_LOG_BYTES);
        opts.set_max_total_wal_size(crate::config::ROCKSDB_MAX_TOTAL_WAL_BYTES);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        let families = FAMILIES.map(|name| {
            let mut cf = Options::default();
            cf.set_block_based_table_factory(&table);
            ColumnFamilyDescriptor::new(name, cf)
        });
        let db = DB::open_cf_descriptors(&opts, &path, families).map_err(engine_err(&path))?;
        let engine = Engine { db, cache, root: root.to_owned(), shard_size };
        let stored = engine.stored_by_shard()?;
        Ok((Arc::new(engine), stored))
    }

    pub fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db.cf_handle(name).ok_or_else(|| StoreError::Engine {
            path: self.root.join(DB_DIR),
            message: format!("column family `{name}` missing"),
        })
    }

    /// Every stored block number (those with a header), by shard.
    fn stored_by_shard(&self) -> Result<BTreeMap<u64, Vec<u64>>, StoreError> {
        let mut out: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for n in stored_numbers(&self.db, self.cf(CF_HEADERS)?, &self.root)? {
            out.entry(n / self.shard_size).or_default().push(n);
        }
        Ok(out)
    }

    /// RocksDB's own memory accounting and running jobs, summed over column families.
    pub fn memory(&self) -> EngineMemory {
        let sum = |property: &str| {
            FAMILIES
                .iter()
                .filter_map(|f| self.db.cf_handle(f))
                .filter_map(|cf| self.db.property_int_value_cf(cf, property).ok().flatten())
                .sum::<u64>()
        };
        let db = |property: &str| self.db.property_int_value(property).ok().flatten().unwrap_or(0);
        EngineMemory {
            memtables_bytes: sum("rocksdb.cur-size-all-mem-tables"),
            block_cache_bytes: self.cache.get_usage() as u64,
            table_readers_bytes: sum("rocksdb.estimate-table-readers-mem"),
            block_cache_pinned_bytes: self.cache.get_pinned_usage() as u64,
            flushes_running: db("rocksdb.num-running-flushes"),
            compactions_running: db("rocksdb.num-running-compactions"),
        }
    }
}

impl crate::engine::EngineProbe for Engine {
    fn memory(&self) -> EngineMemory {
        Engine::memory(self)
    }
}

fn stored_numbers(db: &DB, headers: &rocksdb::ColumnFamily, root: &Path) -> Result<Vec<u64>, StoreError> {
    let mut out = Vec::new();
    for item in db.iterator_cf(headers, IteratorMode::Start) {
        let (k, _) = item.map_err(engine_err(&root.join(DB_DIR)))?;
        let bytes: [u8; 8] = k.as_ref().try_into().map_err(|_| StoreError::Engine {
            path: root.join(DB_DIR),
            message: format!("column family headers: expected 8-byte keys, got {} bytes", k.len()),
        })?;
        out.push(u64::from_be_bytes(bytes));
    }
    Ok(out)
}

/// Where a block's encoding splits into body and receipts: after the header and the
/// transactions (see `syncbench_proto::block`'s format).
pub fn receipts_offset(block: &syncbench_proto::Block) -> usize {
    4 + 8 + 4 + block.header.len() + 4 + block.transactions.iter().map(|t| 4 + t.len()).sum::<usize>()
}

/// Read-only access to a RocksDB store's blocks, for `verify` and the `export`
/// subcommand. Never writes (RocksDB opened read-only).
pub struct Reader {
    db: DB,
    root: PathBuf,
    shard_size: u64,
}

impl Reader {
    pub fn open(root: &Path) -> Result<Reader, StoreError> {
        let meta = crate::store::read_meta(root)?.ok_or_else(|| StoreError::Meta {
            path: root.join(crate::store::META_FILE),
            message: "missing: not a syncbench data directory".into(),
        })?;
        if meta.store != StoreKind::Rocksdb {
            let path = root.join(crate::store::META_FILE);
            return Err(StoreError::WrongStore { path, stored: meta.store, requested: StoreKind::Rocksdb });
        }
        let path = root.join(DB_DIR);
        let db = DB::open_cf_for_read_only(&Options::default(), &path, FAMILIES, false).map_err(engine_err(&path))?;
        Ok(Reader { db, root: root.to_owned(), shard_size: meta.shard_size })
    }

    pub fn shard_size(&self) -> u64 {
        self.shard_size
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db.cf_handle(name).ok_or_else(|| StoreError::Engine {
            path: self.root.join(DB_DIR),
            message: format!("column family `{name}` missing"),
        })
    }

    /// Every block number stored, in increasing order.
    pub fn stored_numbers(&self) -> Result<Vec<u64>, StoreError> {
        stored_numbers(&self.db, self.cf(CF_HEADERS)?, &self.root)
    }

    /// Reads block `number` (`bodies ‖ receipts`) into `buf`; `Ok(false)` if it is not
    /// stored. A header without its body or receipts is damage, not absence.
    pub fn get(&self, number: u64, buf: &mut Vec<u8>) -> Result<bool, StoreError> {
        let path = self.root.join(DB_DIR);
        let k = key(number);
        if self.db.get_pinned_cf(self.cf(CF_HEADERS)?, k).map_err(engine_err(&path))?.is_none() {
            return Ok(false);
        }
        buf.clear();
        for family in [CF_BODIES, CF_RECEIPTS] {
            match self.db.get_pinned_cf(self.cf(family)?, k).map_err(engine_err(&path))? {
                Some(v) => buf.extend_from_slice(&v),
                None => {
                    return Err(StoreError::Damaged {
                        path,
                        message: format!("block {number}: header stored without its {family}"),
                    })
                }
            }
        }
        Ok(true)
    }

    /// True if block `number`'s shard was deleted by retention (`--retain-shards`).
    pub fn is_expired(&self, number: u64) -> bool {
        crate::retention::is_expired(&self.root, number / self.shard_size)
    }
}

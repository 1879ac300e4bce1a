//! The batch writer of a RocksDB store: the same role as [`crate::writer`] (single
//! consumer of the write queue, acknowledges only durable batches, frees the decoded
//! blocks on its thread) with one synced `WriteBatch` per batch in place of WAL appends.
//!
//! Duplicates (blocks resent after a restart) are acknowledged without a second write.
//! A shard is complete when every block of it in the announced range is durable; with
//! `--retain-shards` the oldest complete shards then expire (see the module above).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rocksdb::{WriteBatch, WriteOptions};

use super::{key, receipts_offset, Engine, CF_BODIES, CF_HEADERS, CF_RECEIPTS, FAMILIES};
use crate::events::{Events, FlushEnd, NodeEvent};
use crate::histograms::{record, Histograms};
use crate::pipeline::{Counters, Ingested, QueueReceiver};
use crate::unstored::AckStream;
use crate::NodeError;

/// Expired shards waiting for their range compaction. Beyond it an expired shard's
/// range is left to RocksDB's own compactions (its deletion is already durable).
const RANGE_COMPACTIONS_QUEUED: usize = 64;

/// Everything the writer needs.
pub struct RocksParts {
    pub engine: Arc<Engine>,
    /// Block numbers stored at startup, by shard.
    pub stored: BTreeMap<u64, Vec<u64>>,
    pub range: (u64, u64),
    pub writer_batch: usize,
    pub max_delay: Duration,
    pub retain_shards: Option<u64>,
    pub events: Arc<Events>,
    pub histograms: Arc<Histograms>,
    pub counters: Arc<Counters>,
    pub acks: Arc<Mutex<AckStream>>,
}

pub struct RocksWriter {
    p: RocksParts,
    /// Block numbers durable (or being written in the open batch), by shard.
    present: BTreeMap<u64, BTreeSet<u64>>,
    complete: BTreeSet<u64>,
    /// Shards expired in this session: their blocks, resent, are acknowledged unstored.
    expired: BTreeSet<u64>,
    batch: WriteBatch,
    pending: Vec<u64>,
    batch_bytes: u64,
    build_time: Duration,
    batch_seq: u64,
    compact_tx: Option<SyncSender<u64>>,
    compactor: Option<JoinHandle<()>>,
}

impl RocksWriter {
    pub fn new(mut p: RocksParts) -> Result<RocksWriter, NodeError> {
        let stored = std::mem::take(&mut p.stored);
        let present: BTreeMap<u64, BTreeSet<u64>> =
            stored.into_iter().map(|(s, n)| (s, n.into_iter().collect())).collect();
        let (tx, rx) = sync_channel::<u64>(RANGE_COMPACTIONS_QUEUED);
        let engine = Arc::clone(&p.engine);
        let compactor = std::thread::Builder::new()
            .name("range-compaction".into())
            .spawn(move || {
                for shard in rx {
                    let size = engine.shard_size;
                    let (from, to) = (key(shard * size), key((shard + 1) * size));
                    for family in FAMILIES {
                        if let Some(cf) = engine.db.cf_handle(family) {
                            engine.db.compact_range_cf(cf, Some(from), Some(to));
                        }
                    }
                }
            })
            .map_err(NodeError::Spawn)?;
        let mut w = RocksWriter {
            p,
            present,
            complete: BTreeSet::new(),
            expired: BTreeSet::new(),
            batch: WriteBatch::default(),
            pending: Vec::new(),
            batch_bytes: 0,
            build_time: Duration::ZERO,
            batch_seq: 0,
            compact_tx: Some(tx),
            compactor: Some(compactor),
        };
        let shards: Vec<u64> = w.present.keys().copied().collect();
        shards.into_iter().for_each(|s| w.note_if_complete(s));
        Ok(w)
    }

    /// Consumes the write queue until it closes; commits the last partial batch, then
    /// waits for queued range compactions.
    pub fn run(mut self, input: QueueReceiver<Ingested>) -> Result<(), NodeError> {
        let mut batch_started = Instant::now();
        loop {
            let wait = crate::writer::batch_wait(self.pending.is_empty(), self.p.max_delay, batch_started);
            match input.recv_timeout(wait) {
                Ok(item) => {
                    if self.pending.is_empty() {
                        batch_started = Instant::now();
                    }
                    self.accept(item)?;
                    if self.pending.len() >= self.p.writer_batch {
                        self.commit()?;
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.commit()?,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.commit()?;
        drop(self.compact_tx.take());
        if let Some(h) = self.compactor.take() {
            h.join().map_err(|_| NodeError::Compaction("range compaction thread panicked".into()))?;
        }
        Ok(())
    }

    fn accept(&mut self, item: Ingested) -> Result<(), NodeError> {
        let Ingested { number, payload, block, hashes } = item;
        let (first, end) = self.p.range;
        if number < first || number >= end {
            return Err(NodeError::Protocol(format!("block {number} outside the announced range {:?}", self.p.range)));
        }
        let shard = number / self.p.engine.shard_size;
        if !self.expired.contains(&shard) && self.present.entry(shard).or_default().insert(number) {
            let started = Instant::now();
            let split = receipts_offset(&block).min(payload.len());
            let (engine, k) = (&self.p.engine, key(number));
            let cf = |name| engine.cf(name).map_err(NodeError::Store);
            self.batch.put_cf(cf(CF_HEADERS)?, k, &block.header);
            self.batch.put_cf(cf(CF_BODIES)?, k, &payload[..split]);
            self.batch.put_cf(cf(CF_RECEIPTS)?, k, &payload[split..]);
            self.build_time += started.elapsed();
            self.batch_bytes += payload.len() as u64;
        }
        self.pending.push(number);
        // Freed here, on the writer thread, as in the native store (no recent-block
        // cache: RocksDB's block cache takes its place).
        drop((hashes, payload, block));
        Ok(())
    }

    /// Writes the batch with `sync = true`, acknowledges it, then expires old shards.
    fn commit(&mut self) -> Result<(), NodeError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.batch_seq += 1;
        let (seq, blocks) = (self.batch_seq, self.pending.len() as u64);
        let shards: BTreeSet<u64> = self.pending.iter().map(|n| n / self.p.engine.shard_size).collect();
        let events = Arc::clone(&self.p.events);
        events.emit(NodeEvent::FlushStart { batch: seq, blocks, shards: shards.len() as u64 });
        let started = Instant::now();
        let batch = std::mem::take(&mut self.batch);
        self.write_synced(batch)?;
        let sync = started.elapsed();
        record(&self.p.histograms.wal_append, self.build_time);
        record(&self.p.histograms.flush, sync);
        crate::writer::write_ack(&self.p.acks, std::mem::take(&mut self.pending))?;
        self.p.counters.blocks_durable.fetch_add(blocks, Ordering::Relaxed);
        self.p.counters.wal_bytes_written.fetch_add(self.batch_bytes, Ordering::Relaxed);
        events.emit(NodeEvent::FlushEnd(FlushEnd {
            batch: seq,
            blocks,
            bytes: self.batch_bytes,
            shards: shards.len() as u64,
            append_us: self.build_time.as_micros() as u64,
            fsync_us: sync.as_micros() as u64,
            duration_ms: (self.build_time + sync).as_secs_f64() * 1e3,
        }));
        (self.build_time, self.batch_bytes) = (Duration::ZERO, 0);
        shards.into_iter().for_each(|s| self.note_if_complete(s));
        self.expire_old()
    }

    fn write_synced(&self, batch: WriteBatch) -> Result<(), NodeError> {
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        let db_path = self.p.engine.root.join(super::DB_DIR);
        self.p.engine.db.write_opt(batch, &opts).map_err(|e| NodeError::Store(super::engine_err(&db_path)(e)))
    }

    fn note_if_complete(&mut self, shard: u64) {
        let count = self.present.get(&shard).map_or(0, |s| s.len() as u64);
        if count > 0 && count >= crate::writer::blocks_in_range(shard, self.p.engine.shard_size, self.p.range) {
            self.complete.insert(shard);
        }
    }

    /// `--retain-shards K`: every complete shard but the newest K expires (tombstone,
    /// synced range deletion, range compaction queued). A resent block of it is
    /// acknowledged, not stored again.
    fn expire_old(&mut self) -> Result<(), NodeError> {
        let Some(keep) = self.p.retain_shards else { return Ok(()) };
        for shard in crate::retention::to_expire(&self.complete, keep) {
            self.complete.remove(&shard);
            self.present.remove(&shard);
            self.expired.insert(shard);
            let root = &self.p.engine.root;
            crate::retention::write_tombstone(root, shard)
                .map_err(|e| NodeError::io(&crate::retention::tombstone(root, shard), e))?;
            let size = self.p.engine.shard_size;
            let (from, to) = (key(shard * size), key((shard + 1) * size));
            let mut batch = WriteBatch::default();
            for family in FAMILIES {
                batch.delete_range_cf(self.p.engine.cf(family).map_err(NodeError::Store)?, from, to);
            }
            self.write_synced(batch)?;
            self.p.events.emit(NodeEvent::ShardExpired { shard, bytes: 0 });
            if let Some(tx) = &self.compact_tx {
                match tx.try_send(shard) {
                    Ok(()) | Err(TrySendError::Full(_)) => {}
                    Err(TrySendError::Disconnected(_)) => {
                        return Err(NodeError::Compaction("range compaction thread stopped".into()))
                    }
                }
            }
        }
        Ok(())
    }
}

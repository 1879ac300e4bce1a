//! The batch writer: the single owner of every shard's WAL.
//!
//! It appends each arriving block to its shard's WAL, drops the decoded block (the
//! cross-thread free), and every `--writer-batch` blocks (or after
//! `--max-batch-delay-ms` without a full batch) commits: a commit marker and fdatasync
//! per touched WAL, then one `Ack` frame listing the batch's blocks. A shard whose
//! expected blocks are all durable is sealed and handed to the compactor.
//! Duplicate blocks (resent after a restart) are acknowledged without a second write.
//! It also owns the node's long-lived state ([`crate::cache`]): each durable block's
//! location goes into the index and its header and receipts into the recent-block
//! cache.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use syncbench_proto::frame::{write_frame, Frame};

use crate::cache::{BlockCache, Index, Location};
use crate::compaction::{Compactor, Job};
use crate::events::{Events, FlushEnd, NodeEvent};
use crate::histograms::{record, Histograms};
use crate::pipeline::{Counters, Ingested, QueueReceiver};
use crate::store::{ShardOnDisk, Store};
use crate::unstored::AckStream;
use crate::wal::writer::WalWriter;
use crate::{wal, NodeError};

/// Per-shard state owned by the writer.
struct Shard {
    wal: Option<WalWriter>,
    present: Vec<u64>,
    count: u64,
    sealed: bool,
}

impl Shard {
    fn new(shard_size: u64) -> Shard {
        Shard { wal: None, present: vec![0; shard_size.div_ceil(64) as usize], count: 0, sealed: false }
    }

    fn has(&self, slot: u64) -> bool {
        self.present[(slot / 64) as usize] & (1 << (slot % 64)) != 0
    }

    fn insert(&mut self, slot: u64) {
        self.present[(slot / 64) as usize] |= 1 << (slot % 64);
        self.count += 1;
    }
}

/// Position of block `number` inside shard `id`; an error if it belongs elsewhere.
fn slot(number: u64, id: u64, size: u64) -> Result<u64, NodeError> {
    if number / size != id {
        return Err(NodeError::Protocol(format!("store holds block {number} in shard {id}, which cannot contain it")));
    }
    Ok(number - id * size)
}

pub struct BatchWriter {
    store: Store,
    shards: BTreeMap<u64, Shard>,
    /// Announced block range `[first, end)`.
    range: (u64, u64),
    writer_batch: usize,
    max_delay: Duration,
    pending: Vec<u64>,
    touched: BTreeSet<u64>,
    append_time: Duration,
    batch_bytes: u64,
    batch_seq: u64,
    compactor: Compactor,
    events: Arc<Events>,
    histograms: Arc<Histograms>,
    counters: Arc<Counters>,
    acks: Arc<Mutex<AckStream>>,
    index: Index,
    cache: BlockCache,
}

/// Everything the writer needs besides the recovered shards.
pub struct WriterParts {
    pub store: Store,
    pub range: (u64, u64),
    pub writer_batch: usize,
    pub max_delay: Duration,
    pub compactor: Compactor,
    pub events: Arc<Events>,
    pub histograms: Arc<Histograms>,
    pub counters: Arc<Counters>,
    pub acks: Arc<Mutex<AckStream>>,
    /// `--cache-mib`, in bytes.
    pub cache_budget_bytes: u64,
}

impl BatchWriter {
    /// Builds the writer from recovered shards and queues compaction of any shard that
    /// is already complete (a crash interrupted its compaction).
    pub fn new(p: WriterParts, recovered: BTreeMap<u64, ShardOnDisk>) -> Result<BatchWriter, NodeError> {
        let size = p.store.shard_size;
        let mut shards = BTreeMap::new();
        for (id, on_disk) in recovered {
            let mut s = Shard::new(size);
            match on_disk {
                ShardOnDisk::Sealed { numbers } => {
                    for n in numbers {
                        s.insert(slot(n, id, size)?);
                    }
                    s.sealed = true;
                    p.compactor.note_compacted(id);
                }
                ShardOnDisk::Open { entries, .. } => {
                    for e in &entries {
                        let at = slot(e.number, id, size)?;
                        if !s.has(at) {
                            s.insert(at);
                        }
                    }
                }
            }
            shards.insert(id, s);
        }
        let mut w = BatchWriter {
            store: p.store,
            shards,
            range: p.range,
            writer_batch: p.writer_batch,
            max_delay: p.max_delay,
            pending: Vec::new(),
            touched: BTreeSet::new(),
            append_time: Duration::ZERO,
            batch_bytes: 0,
            batch_seq: 0,
            compactor: p.compactor,
            events: p.events,
            histograms: p.histograms,
            counters: p.counters,
            acks: p.acks,
            index: Index::default(),
            cache: BlockCache::new(p.cache_budget_bytes),
        };
        let complete: Vec<u64> = w.shards.keys().copied().filter(|&id| w.is_complete(id)).collect();
        complete.into_iter().for_each(|id| w.seal(id));
        Ok(w)
    }

    /// Blocks of shard `id` inside the announced range.
    fn expected(&self, id: u64) -> u64 {
        blocks_in_range(id, self.store.shard_size, self.range)
    }

    fn is_complete(&self, id: u64) -> bool {
        self.shards.get(&id).is_some_and(|s| !s.sealed && s.count > 0 && s.count >= self.expected(id))
    }

    /// Consumes the write queue until it closes; commits the last partial batch.
    pub fn run(mut self, input: QueueReceiver<Ingested>) -> Result<BatchWriter, NodeError> {
        let mut batch_started = Instant::now();
        loop {
            match input.recv_timeout(batch_wait(self.pending.is_empty(), self.max_delay, batch_started)) {
                Ok(item) => {
                    if self.pending.is_empty() {
                        batch_started = Instant::now();
                    }
                    self.accept(item)?;
                    if self.pending.len() >= self.writer_batch {
                        self.commit()?;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => self.commit()?,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if let Some(e) = self.compactor.status().error() {
                return Err(NodeError::Compaction(e));
            }
        }
        self.commit()?;
        Ok(self)
    }

    fn accept(&mut self, item: Ingested) -> Result<(), NodeError> {
        let Ingested { number, payload, block, hashes } = item;
        if number < self.range.0 || number >= self.range.1 {
            return Err(NodeError::Protocol(format!("block {number} outside the announced range {:?}", self.range)));
        }
        let size = self.store.shard_size;
        let id = number / size;
        let shard = self.shards.entry(id).or_insert_with(|| Shard::new(size));
        if !shard.has(number - id * size) {
            if shard.sealed {
                return Err(NodeError::Protocol(format!(
                    "block {number} belongs to shard {id}, sealed without it; use a fresh data directory"
                )));
            }
            let wal = match &mut shard.wal {
                Some(wal) => wal,
                None => {
                    let dir = self.store.shard_dir(id);
                    std::fs::create_dir_all(&dir).map_err(|e| NodeError::io(&dir, e))?;
                    let path = dir.join(wal::FILE_NAME);
                    let wal = WalWriter::open(&path).map_err(|e| NodeError::io(&path, e))?;
                    note_io_mode(&self.counters, &self.events, &wal);
                    shard.wal.insert(wal)
                }
            };
            let started = Instant::now();
            self.index.insert(number, Location { shard: id, wal_offset: wal.len() });
            wal.append(number, &payload).map_err(|e| NodeError::io(wal.path(), e))?;
            self.append_time += started.elapsed();
            shard.insert(number - id * size);
            self.batch_bytes += payload.len() as u64;
            self.touched.insert(id);
        }
        self.pending.push(number);
        // The payload, the hashes and the block's transactions are freed here, on the
        // writer thread; its header and receipts move into the cache, to be freed here
        // too when evicted.
        drop((hashes, payload));
        self.cache.insert(block);
        Ok(())
    }

    /// Makes the batch durable, acknowledges it, and seals complete shards.
    fn commit(&mut self) -> Result<(), NodeError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.batch_seq += 1;
        let (seq, blocks, shards) = (self.batch_seq, self.pending.len(), self.touched.len());
        self.events.emit(NodeEvent::FlushStart { batch: seq, blocks: blocks as u64, shards: shards as u64 });
        let started = Instant::now();
        let mut append = self.append_time;
        for id in &self.touched {
            if let Some(wal) = self.shards.get_mut(id).and_then(|s| s.wal.as_mut()) {
                let t = Instant::now();
                wal.flush_buffer().map_err(|e| NodeError::io(wal.path(), e))?;
                append += t.elapsed();
            }
        }
        let sync_started = Instant::now();
        for id in &self.touched {
            if let Some(wal) = self.shards.get_mut(id).and_then(|s| s.wal.as_mut()) {
                wal.commit(seq).map_err(|e| NodeError::io(wal.path(), e))?;
            }
        }
        let fsync = sync_started.elapsed();
        record(&self.histograms.wal_append, append);
        record(&self.histograms.flush, fsync);
        self.send_ack()?;
        self.counters.blocks_durable.fetch_add(blocks as u64, Ordering::Relaxed);
        self.counters.wal_bytes_written.fetch_add(self.batch_bytes, Ordering::Relaxed);
        self.events.emit(NodeEvent::FlushEnd(FlushEnd {
            batch: seq,
            blocks: blocks as u64,
            bytes: self.batch_bytes,
            shards: shards as u64,
            append_us: append.as_micros() as u64,
            fsync_us: fsync.as_micros() as u64,
            duration_ms: started.elapsed().as_secs_f64() * 1e3,
        }));
        for shard in self.compactor.status().take_expired() {
            self.index.expire_shard(shard, self.store.shard_size);
        }
        let touched = std::mem::take(&mut self.touched);
        for id in touched {
            if self.is_complete(id) {
                self.seal(id);
            }
        }
        self.append_time = Duration::ZERO;
        self.batch_bytes = 0;
        self.wait_for_compaction();
        Ok(())
    }

    /// With the batch durable and acknowledged, waits while the compaction backlog is
    /// above `--max-compaction-backlog`: the write queue fills behind this thread and
    /// the peers' tasks stop reading, so ingest runs at compaction's pace and the
    /// sealed WALs on disk stay bounded.
    fn wait_for_compaction(&self) {
        if let Some((backlog, waited)) = self.compactor.wait_backlog() {
            self.events.emit(NodeEvent::IngestStall {
                backlog: backlog as u64,
                limit: self.compactor.backlog_limit() as u64,
                waited_ms: waited.as_secs_f64() * 1e3,
            });
        }
    }

    fn send_ack(&mut self) -> Result<(), NodeError> {
        write_ack(&self.acks, std::mem::take(&mut self.pending))
    }

    /// Closes shard `id`'s WAL and queues its compaction.
    fn seal(&mut self, id: u64) {
        if let Some(s) = self.shards.get_mut(&id) {
            s.sealed = true;
            let index = s.wal.take().and_then(WalWriter::into_index);
            self.compactor.submit(Job { shard: id, dir: self.store.shard_dir(id), index });
        }
    }

    /// After `Finish`: compacts every shard still open (partial shards at the range's
    /// ends) and waits for all compactions. Returns the compactor's first error.
    pub fn shutdown(mut self) -> Result<(), NodeError> {
        let open: Vec<u64> = self.shards.iter().filter(|(_, s)| !s.sealed && s.count > 0).map(|(&id, _)| id).collect();
        open.into_iter().for_each(|id| self.seal(id));
        self.compactor.finish().map_err(NodeError::Compaction)
    }
}

/// Blocks of shard `id` (of `size` blocks) inside the announced range `[first, end)`.
pub(crate) fn blocks_in_range(id: u64, size: u64, (first, end): (u64, u64)) -> u64 {
    let lo = (id * size).max(first);
    let hi = ((id + 1) * size).min(end);
    hi.saturating_sub(lo)
}

/// How long the writer may wait for the next block: until the open batch's
/// `--max-batch-delay-ms` runs out, or (no open batch) practically forever.
pub(crate) fn batch_wait(batch_empty: bool, max_delay: Duration, batch_started: Instant) -> Duration {
    if batch_empty {
        Duration::from_secs(3600)
    } else {
        max_delay.saturating_sub(batch_started.elapsed())
    }
}

/// Sends one `Ack` frame listing `blocks` on the shared ack stream.
pub(crate) fn write_ack(acks: &Mutex<AckStream>, blocks: Vec<u64>) -> Result<(), NodeError> {
    let mut out = acks.lock().map_err(|_| NodeError::Protocol("ack stream lock poisoned".into()))?;
    write_frame(&mut *out, &Frame::Ack { blocks }).and_then(|_| out.flush()).map_err(NodeError::Disconnected)
}

/// Counts WALs by I/O path; the first that could not bypass the page cache is reported.
fn note_io_mode(counters: &Counters, events: &Events, wal: &WalWriter) {
    counters.wal_files_opened.fetch_add(1, Ordering::Relaxed);
    if !wal.is_direct() && counters.wal_files_buffered.fetch_add(1, Ordering::Relaxed) == 0 {
        events.emit(NodeEvent::DirectIoRefused {
            path: wal.path().display().to_string(),
            message: "the filesystem refused O_DIRECT: WALs and segments go through the page cache".into(),
        });
    }
}

/// `--null-writer`: takes blocks off the write queue exactly as [`BatchWriter::run`]
/// does (dropping each on this thread: the same cross-thread free) and acknowledges
/// them in batches of `writer_batch`, but writes nothing. Measures the pipeline's CPU
/// ceiling without the disk.
pub fn run_null(
    input: QueueReceiver<Ingested>,
    acks: &Mutex<AckStream>,
    writer_batch: usize,
    max_delay: Duration,
    counters: &Counters,
) -> Result<(), NodeError> {
    let mut pending = Vec::with_capacity(writer_batch);
    let mut batch_started = Instant::now();
    let ack = |blocks: Vec<u64>| -> Result<(), NodeError> {
        counters.blocks_durable.fetch_add(blocks.len() as u64, Ordering::Relaxed);
        write_ack(acks, blocks)
    };
    loop {
        match input.recv_timeout(batch_wait(pending.is_empty(), max_delay, batch_started)) {
            Ok(item) => {
                if pending.is_empty() {
                    batch_started = Instant::now();
                }
                pending.push(item.number);
                drop(item);
                if pending.len() >= writer_batch {
                    ack(std::mem::take(&mut pending))?;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => ack(std::mem::take(&mut pending))?,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if pending.is_empty() {
        return Ok(());
    }
    ack(pending)
}

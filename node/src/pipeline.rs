//! The ingest pipeline between the socket and the writer:
//!
//! ```text
//! peer tasks ×P (runtime workers) ──verify queue──▶ verify threads ×N ──write queue──▶ writer
//!   decode into owned Block            keccak header, txs, receipts    WAL append, fdatasync, ack,
//!   (allocates)                        (allocates hash vectors)        cache or drop (frees)
//! ```
//! Every queue is bounded (`--queue-blocks`) and its depth is observable, so
//! back-pressure reaches the driver through the socket instead of through memory.
//! Allocation on one thread and free on another is deliberate: it is what real nodes do
//! and what distinguishes allocators.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use syncbench_proto::Block;
use tiny_keccak::{Hasher, Keccak};

/// One block on its way through the pipeline.
pub struct Ingested {
    pub number: u64,
    /// The block as received, written verbatim to the WAL.
    pub payload: Vec<u8>,
    /// The decoded block, kept alive until the writer drops it.
    pub block: Block,
    pub hashes: Option<Hashes>,
}

/// What the hash stage computes (real nodes keep these for indexes and verification).
pub struct Hashes {
    pub block: [u8; 32],
    pub transactions: Vec<[u8; 32]>,
    pub receipts: Vec<[u8; 32]>,
}

/// Sending half of a bounded queue with an observable depth.
pub struct QueueSender<T> {
    tx: SyncSender<T>,
    depth: Arc<AtomicUsize>,
}

impl<T> Clone for QueueSender<T> {
    fn clone(&self) -> Self {
        QueueSender { tx: self.tx.clone(), depth: Arc::clone(&self.depth) }
    }
}

/// Receiving half of a bounded queue.
pub struct QueueReceiver<T> {
    rx: Receiver<T>,
    depth: Arc<AtomicUsize>,
}

/// A bounded queue of `capacity` items; the third value reads its current depth.
pub fn queue<T>(capacity: usize) -> (QueueSender<T>, QueueReceiver<T>, Arc<AtomicUsize>) {
    let (tx, rx) = mpsc::sync_channel(capacity);
    let depth = Arc::new(AtomicUsize::new(0));
    (QueueSender { tx, depth: Arc::clone(&depth) }, QueueReceiver { rx, depth: Arc::clone(&depth) }, depth)
}

impl<T> QueueSender<T> {
    /// Blocks while the queue is full; `Err` if the receiver is gone.
    pub fn send(&self, item: T) -> Result<(), T> {
        self.depth.fetch_add(1, Ordering::Relaxed);
        self.tx.send(item).map_err(|e| {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            e.0
        })
    }
}

impl<T> QueueReceiver<T> {
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let item = self.rx.recv_timeout(timeout)?;
        self.depth.fetch_sub(1, Ordering::Relaxed);
        Ok(item)
    }
}

/// Sending half of a bounded queue whose senders are runtime tasks (they wait without
/// holding a worker thread) and whose receivers are plain threads.
pub struct AsyncQueueSender<T> {
    tx: tokio::sync::mpsc::Sender<T>,
    depth: Arc<AtomicUsize>,
}

impl<T> Clone for AsyncQueueSender<T> {
    fn clone(&self) -> Self {
        AsyncQueueSender { tx: self.tx.clone(), depth: Arc::clone(&self.depth) }
    }
}

/// Receiving half of an [`async_queue`], read from plain threads.
pub struct AsyncQueueReceiver<T> {
    rx: tokio::sync::mpsc::Receiver<T>,
    depth: Arc<AtomicUsize>,
}

/// A bounded queue of `capacity` items from tasks to threads; the third value reads its
/// current depth.
pub fn async_queue<T>(capacity: usize) -> (AsyncQueueSender<T>, AsyncQueueReceiver<T>, Arc<AtomicUsize>) {
    let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
    let depth = Arc::new(AtomicUsize::new(0));
    (AsyncQueueSender { tx, depth: Arc::clone(&depth) }, AsyncQueueReceiver { rx, depth: Arc::clone(&depth) }, depth)
}

impl<T> AsyncQueueSender<T> {
    /// Waits while the queue is full; `Err` if every receiver is gone.
    pub async fn send(&self, item: T) -> Result<(), T> {
        self.depth.fetch_add(1, Ordering::Relaxed);
        self.tx.send(item).await.map_err(|e| {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            e.0
        })
    }
}

impl<T> AsyncQueueReceiver<T> {
    /// Blocks the calling thread (never a runtime worker) until an item or the close.
    pub fn blocking_recv(&mut self) -> Option<T> {
        let item = self.rx.blocking_recv()?;
        self.depth.fetch_sub(1, Ordering::Relaxed);
        Some(item)
    }
}

/// Counters shared by the stages, reported in `stats` events.
#[derive(Default)]
pub struct Counters {
    pub blocks_received: AtomicU64,
    pub bytes_received: AtomicU64,
    pub blocks_durable: AtomicU64,
    pub wal_bytes_written: AtomicU64,
    /// WALs opened, and how many of them the filesystem refused O_DIRECT for.
    pub wal_files_opened: AtomicU64,
    pub wal_files_buffered: AtomicU64,
}

fn keccak(parts: &[&[u8]]) -> [u8; 32] {
    let mut k = Keccak::v256();
    parts.iter().for_each(|p| k.update(p));
    let mut out = [0u8; 32];
    k.finalize(&mut out);
    out
}

/// Hashes a block the way a history node does: header, each transaction, each receipt
/// (over its logs' addresses, topics and data).
pub fn hash_block(block: &Block) -> Hashes {
    let transactions = block.transactions.iter().map(|tx| keccak(&[tx])).collect();
    let receipts = block
        .receipts
        .iter()
        .map(|r| {
            let mut k = Keccak::v256();
            k.update(&r.cumulative_gas.to_le_bytes());
            for log in &r.logs {
                k.update(&log.address);
                log.topics.iter().for_each(|t| k.update(t));
                k.update(&log.data);
            }
            let mut out = [0u8; 32];
            k.finalize(&mut out);
            out
        })
        .collect();
    Hashes { block: keccak(&[&block.header]), transactions, receipts }
}

/// Runs one verify (hash) worker until the verify queue closes.
pub fn hash_worker(input: Arc<Mutex<AsyncQueueReceiver<Ingested>>>, output: QueueSender<Ingested>, burn_us: u64) {
    loop {
        let item = match input.lock() {
            Ok(mut rx) => rx.blocking_recv(),
            Err(_) => None,
        };
        let Some(mut item) = item else { return };
        item.hashes = Some(hash_block(&item.block));
        if burn_us > 0 {
            burn_cpu(Duration::from_micros(burn_us));
        }
        if output.send(item).is_err() {
            return;
        }
    }
}

/// Spins for `d` (the `--burn-cpu-us-per-block` knob: a deliberately slower node).
fn burn_cpu(d: Duration) {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < d {
        for i in 0..64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
    }
}

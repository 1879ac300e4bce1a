//! The block feed: generates the workload's blocks in arrival order on several threads.
//!
//! Generation (copying content out of the generator's pool, sampling sizes) costs more
//! CPU per block than writing the block to the socket, so one thread doing both caps
//! the driver well below what the machine can push. Here `threads` generators each own
//! every `threads`-th chunk of [`CHUNK_BLOCKS`] consecutive arrivals; the consumer
//! takes chunks round-robin, which restores the exact arrival order. Each generator
//! may run at most [`QUEUED_CHUNKS`] chunks ahead, so memory stays bounded
//! (threads × (QUEUED_CHUNKS + 1) × CHUNK_BLOCKS blocks).

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread;

use syncbench_workloads::{ArrivalOrder, Generator, WorkloadSpec};

/// Blocks per chunk handed from a generator thread to the consumer.
pub const CHUNK_BLOCKS: usize = 16;
/// Chunks each generator may have waiting.
pub const QUEUED_CHUNKS: usize = 2;

/// One generated block and where it sits in the arrival order.
pub struct FedBlock {
    pub number: u64,
    pub bytes: Vec<u8>,
    /// First block of an arrival window (where fetch latency is applied).
    pub window_start: bool,
    /// Last block of an arrival window (where the socket buffer is flushed).
    pub window_end: bool,
}

/// Blocks of a workload in arrival order, generated ahead on worker threads.
pub struct Feed {
    queues: Vec<Receiver<Vec<FedBlock>>>,
    next_queue: usize,
    current: std::vec::IntoIter<FedBlock>,
}

impl Feed {
    pub fn start(spec: &WorkloadSpec, threads: usize) -> Feed {
        let threads = threads.max(1);
        let queues = (0..threads)
            .map(|i| {
                let (tx, rx) = mpsc::sync_channel(QUEUED_CHUNKS);
                let spec = spec.clone();
                let spawned =
                    thread::Builder::new().name(format!("feed-{i}")).spawn(move || generate(&spec, i, threads, &tx));
                if spawned.is_err() {
                    // Without this thread its chunks never come: the feed ends early and
                    // the run is reported incomplete rather than hanging.
                    crate::note!("syncbench: warning: could not start block generator thread {i}");
                }
                rx
            })
            .collect();
        Feed { queues, next_queue: 0, current: Vec::new().into_iter() }
    }
}

impl Iterator for Feed {
    type Item = FedBlock;

    fn next(&mut self) -> Option<FedBlock> {
        loop {
            if let Some(b) = self.current.next() {
                return Some(b);
            }
            let chunk = self.queues.get(self.next_queue)?.recv().ok()?;
            self.next_queue = (self.next_queue + 1) % self.queues.len();
            self.current = chunk.into_iter();
        }
    }
}

/// Generates chunks `index`, `index + threads`, … of the arrival order.
fn generate(spec: &WorkloadSpec, index: usize, threads: usize, tx: &SyncSender<Vec<FedBlock>>) {
    let mut gen = Generator::new(spec);
    let mut order = ArrivalOrder::new(spec.start_height, spec.blocks, spec.arrival.window, spec.seed);
    let (mut window, mut position) = (Vec::new(), 0usize);
    let mut chunk = Vec::with_capacity(CHUNK_BLOCKS);
    while order.next_window(&mut window) {
        let last = window.len() - 1;
        for (i, &number) in window.iter().enumerate() {
            let mine = (position / CHUNK_BLOCKS) % threads == index;
            position += 1;
            if !mine {
                continue;
            }
            let mut bytes = Vec::new();
            gen.block(number, &mut bytes);
            chunk.push(FedBlock { number, bytes, window_start: i == 0, window_end: i == last });
            if chunk.len() == CHUNK_BLOCKS
                && tx.send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_BLOCKS))).is_err()
            {
                return;
            }
        }
    }
    if !chunk.is_empty() {
        let _ = tx.send(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_feed_is_the_arrival_order_with_identical_blocks() {
        let spec = syncbench_workloads::load("smoke").unwrap();
        let mut order = ArrivalOrder::new(spec.start_height, 700, spec.arrival.window, spec.seed);
        let mut spec = spec;
        spec.blocks = 700;
        let mut expected = Vec::new();
        let mut w = Vec::new();
        while order.next_window(&mut w) {
            expected.extend_from_slice(&w);
        }
        let mut gen = Generator::new(&spec);
        let mut buf = Vec::new();
        for threads in [1, 3] {
            let fed: Vec<FedBlock> = Feed::start(&spec, threads).collect();
            assert_eq!(fed.iter().map(|b| b.number).collect::<Vec<_>>(), expected, "{threads} threads");
            for b in fed.iter().step_by(37) {
                gen.block(b.number, &mut buf);
                assert_eq!(b.bytes, buf);
            }
            assert_eq!(fed.iter().filter(|b| b.window_start).count(), 700usize.div_ceil(spec.arrival.window as usize));
        }
    }
}

//! The deterministic block generator: block N is a pure function of (spec, seed, N).
//!
//! Speed matters (the driver must never be the bottleneck), so content bytes are copied
//! out of a 4 MiB pool of pseudo-random bytes made once from the seed; only sizes,
//! counts and pool offsets are drawn per block. The content is incompressible noise at
//! any window under 4 MiB, which is what keeps page cache and disk honest.
//! Addresses and the first topic (the event signature) repeat, skewed toward a few
//! popular contracts, as on a real chain.

use proto::block::{BlockEncoder, MAX_BLOCK_BYTES, MAX_TOPICS};
use syncbench_proto as proto;

use crate::rng::SplitMix64;
use crate::spec::{BlockModel, Content, WorkloadSpec};
use crate::trace::TraceRow;

const POOL_BYTES: usize = 4 << 20;
const ADDRESSES: u64 = 1024;
const SIGNATURES: u64 = 256;
/// Stream id mixed into the seed for the pool (block numbers use their own streams).
const POOL_STREAM: u64 = u64::MAX;
/// Blocks are kept below this fraction of the maximum encodable block.
pub const BLOCK_BUDGET: f64 = 0.9 * MAX_BLOCK_BYTES as f64;

/// The shape of one generated block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockShape {
    pub bytes: usize,
    pub transactions: usize,
    pub logs: usize,
}

/// Generates encoded blocks for one workload.
pub struct Generator {
    seed: u64,
    start: u64,
    content: Content,
    pool: Vec<u8>,
    tx_sizes: Vec<u32>,
    log_shapes: Vec<(u8, u32)>,
    receipt_logs: Vec<u32>,
}

impl Generator {
    pub fn new(spec: &WorkloadSpec) -> Self {
        let mut rng = SplitMix64::for_stream(spec.seed, POOL_STREAM);
        let pool = (0..POOL_BYTES / 8).flat_map(|_| rng.next_u64().to_le_bytes()).collect();
        Generator {
            seed: spec.seed,
            start: spec.start_height,
            content: spec.content.clone(),
            pool,
            tx_sizes: Vec::new(),
            log_shapes: Vec::new(),
            receipt_logs: Vec::new(),
        }
    }

    /// Writes the encoding of block `number` into `out` (cleared first).
    pub fn block(&mut self, number: u64, out: &mut Vec<u8>) -> BlockShape {
        let mut rng = SplitMix64::for_stream(self.seed, number);
        let header_bytes = self.sample_shape(number, &mut rng);
        fit_budget(header_bytes, &mut self.tx_sizes, &mut self.log_shapes);
        self.assign_logs(&mut rng);
        self.encode(number, header_bytes, &mut rng, out);
        BlockShape { bytes: out.len(), transactions: self.tx_sizes.len(), logs: self.log_shapes.len() }
    }

    /// Fills `tx_sizes` and `log_shapes` for this block; returns the header size.
    fn sample_shape(&mut self, number: u64, rng: &mut SplitMix64) -> usize {
        self.tx_sizes.clear();
        self.log_shapes.clear();
        match &self.content {
            Content::Model(m) => sample_model(m, rng, &mut self.tx_sizes, &mut self.log_shapes),
            Content::Trace(t) => {
                let i = number.checked_sub(self.start).unwrap_or(u64::MAX) as usize;
                let row = t.rows.get(i).or(t.rows.last()).copied().unwrap_or_default();
                shape_from_trace(&row, rng, &mut self.tx_sizes, &mut self.log_shapes)
            }
        }
    }

    /// Distributes logs over receipts (one receipt per transaction).
    fn assign_logs(&mut self, rng: &mut SplitMix64) {
        if self.tx_sizes.is_empty() && !self.log_shapes.is_empty() {
            self.tx_sizes.push(0);
        }
        self.receipt_logs.clear();
        self.receipt_logs.resize(self.tx_sizes.len(), 0);
        let n = self.receipt_logs.len() as u64;
        for _ in 0..self.log_shapes.len() {
            // Skewed: a few transactions (DEX swaps, bridges) emit most of the logs.
            let r = (rng.below(n) * rng.below(n)) / n.max(1);
            self.receipt_logs[r as usize] += 1;
        }
    }

    fn encode(&self, number: u64, header_bytes: usize, rng: &mut SplitMix64, out: &mut Vec<u8>) {
        let header = self.slice(rng, header_bytes);
        let mut e = BlockEncoder::begin(out, number, header, self.tx_sizes.len());
        for &size in &self.tx_sizes {
            e.transaction(self.slice(rng, size as usize));
        }
        e.receipts(self.tx_sizes.len());
        let mut logs = self.log_shapes.iter();
        let mut gas = 0u64;
        for (i, &count) in self.receipt_logs.iter().enumerate() {
            gas += 21_000 + 16 * u64::from(self.tx_sizes[i]);
            e.receipt(u8::from(rng.below(50) != 0), gas, count as usize);
            for &(topics, data) in logs.by_ref().take(count as usize) {
                let address = self.address(rng);
                let topics = self.topics(rng, topics);
                e.log(&address, &topics[..], self.slice(rng, data as usize));
            }
        }
    }

    fn slice(&self, rng: &mut SplitMix64, len: usize) -> &[u8] {
        let at = rng.below((POOL_BYTES - len) as u64) as usize;
        &self.pool[at..at + len]
    }

    fn address(&self, rng: &mut SplitMix64) -> [u8; 20] {
        let i = (rng.below(ADDRESSES) * rng.below(ADDRESSES)) / ADDRESSES;
        let at = i as usize * 20;
        self.pool[at..at + 20].try_into().unwrap_or([0; 20])
    }

    fn topics(&self, rng: &mut SplitMix64, count: u8) -> TopicList {
        let mut t = TopicList { topics: [[0; 32]; MAX_TOPICS as usize], len: 0 };
        for k in 0..usize::from(count.min(MAX_TOPICS)) {
            let at = if k == 0 {
                (ADDRESSES * 20 + rng.below(SIGNATURES) * 32) as usize
            } else {
                rng.below((POOL_BYTES - 32) as u64) as usize
            };
            t.topics[k].copy_from_slice(&self.pool[at..at + 32]);
            t.len = k + 1;
        }
        t
    }
}

/// Up to four topics without a heap allocation.
struct TopicList {
    topics: [[u8; 32]; MAX_TOPICS as usize],
    len: usize,
}

impl std::ops::Index<std::ops::RangeFull> for TopicList {
    type Output = [[u8; 32]];
    fn index(&self, _: std::ops::RangeFull) -> &[[u8; 32]] {
        &self.topics[..self.len]
    }
}

fn sample_model(m: &BlockModel, rng: &mut SplitMix64, txs: &mut Vec<u32>, logs: &mut Vec<(u8, u32)>) -> usize {
    let header = m.header_bytes.sample(rng) as usize;
    let tx_count = m.txs_per_block.sample(rng);
    txs.extend((0..tx_count).map(|_| m.tx_bytes.sample(rng) as u32));
    let log_count = m.logs_per_block.sample(rng);
    logs.extend((0..log_count).map(|_| {
        let topics = m.topics_per_log.sample(rng).min(u64::from(MAX_TOPICS)) as u8;
        (topics, m.log_data_bytes.sample(rng) as u32)
    }));
    header
}

/// Per-log fixed overhead in the encoding: address, topic count, data length.
const LOG_OVERHEAD: u64 = 20 + 1 + 4;
const RECEIPT_OVERHEAD: u64 = 1 + 8 + 4;

fn shape_from_trace(row: &TraceRow, rng: &mut SplitMix64, txs: &mut Vec<u32>, logs: &mut Vec<(u8, u32)>) -> usize {
    let n = u64::from(row.tx_count);
    if let Some((each, extra)) = row.body_bytes.checked_div(n).zip(row.body_bytes.checked_rem(n)) {
        txs.extend((0..n).map(|i| (each + u64::from(i < extra)) as u32));
    }
    let log_count = u64::from(row.log_count);
    let topics: Vec<u8> = (0..log_count).map(|_| 1 + rng.below(u64::from(MAX_TOPICS)) as u8).collect();
    let fixed: u64 =
        n.max(1) * RECEIPT_OVERHEAD + topics.iter().map(|&t| LOG_OVERHEAD + 32 * u64::from(t)).sum::<u64>();
    let data_total = row.receipts_bytes.saturating_sub(fixed);
    let (each, extra) = data_total.checked_div(log_count).zip(data_total.checked_rem(log_count)).unwrap_or((0, 0));
    logs.extend(topics.iter().enumerate().map(|(i, &t)| (t, (each + u64::from((i as u64) < extra)) as u32)));
    row.header_bytes as usize
}

/// Bytes of a block that [`fit_budget`] cannot trim: framing, header, per-transaction
/// and per-receipt overheads, and per-log address and topics.
pub fn least_block_bytes(header: f64, txs: f64, logs: f64, topics: f64) -> f64 {
    64.0 + header + 4.0 * txs + RECEIPT_OVERHEAD as f64 * txs.max(1.0) + logs * (LOG_OVERHEAD as f64 + 32.0 * topics)
}

/// Scales transaction and log data sizes down so the block stays encodable.
fn fit_budget(header: usize, txs: &mut [u32], logs: &mut [(u8, u32)]) {
    let fixed = 64.0 + header as f64 + 4.0 * txs.len() as f64 + RECEIPT_OVERHEAD as f64 * txs.len().max(1) as f64;
    let topic_bytes: f64 = logs.iter().map(|&(t, _)| (LOG_OVERHEAD + 32 * u64::from(t)) as f64).sum();
    let variable: f64 =
        txs.iter().map(|&s| f64::from(s)).sum::<f64>() + logs.iter().map(|&(_, d)| f64::from(d)).sum::<f64>();
    let room = BLOCK_BUDGET - fixed - topic_bytes;
    if variable > room {
        let scale = (room / variable).max(0.0);
        txs.iter_mut().for_each(|s| *s = (f64::from(*s) * scale) as u32);
        logs.iter_mut().for_each(|l| l.1 = (f64::from(l.1) * scale) as u32);
    }
}

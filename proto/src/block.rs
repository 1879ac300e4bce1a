//! The byte encoding of one synthetic chain block and its owned, decoded form.
//!
//! Decoding deliberately produces many small heap objects (one `Vec` per transaction,
//! per log, per topic list, per log data): that allocation pattern, made on one thread
//! and freed on another, is what separates allocators in real history nodes, and it is
//! what the benchmark exists to measure. Do not "optimise" it into borrowed slices.
//!
//! ## Format
//! All integers little-endian.
//! ```text
//! block   = magic "SBK1" | number u64 | header_len u32 | header
//!           | tx_count u32 | (tx_len u32 | tx bytes){tx_count}
//!           | receipt_count u32 | receipt{receipt_count}
//! receipt = status u8 | cumulative_gas u64 | log_count u32 | log{log_count}
//! log     = address [20] | topic_count u8 (0..=4) | topic [32]{topic_count}
//!           | data_len u32 | data
//! ```
//! A block is at most [`MAX_BLOCK_BYTES`].

use crate::bytes::Cursor;

/// First four bytes of every encoded block.
pub const MAGIC: [u8; 4] = *b"SBK1";
/// Largest encoded block accepted anywhere (the real chain's largest blocks are a few MiB).
pub const MAX_BLOCK_BYTES: usize = 16 << 20;
/// Most topics an event log may carry (as on Ethereum: LOG0..LOG4).
pub const MAX_TOPICS: u8 = 4;
/// Smallest encoding of a transaction (its length prefix).
const MIN_TX_BYTES: usize = 4;
/// Smallest encoding of a receipt with no logs.
const MIN_RECEIPT_BYTES: usize = 1 + 8 + 4;
/// Smallest encoding of a log with no topics and no data.
const MIN_LOG_BYTES: usize = 20 + 1 + 4;

/// A decoded block: owned header, transactions and receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub number: u64,
    pub header: Vec<u8>,
    pub transactions: Vec<Vec<u8>>,
    pub receipts: Vec<Receipt>,
}

/// The outcome of one transaction and the event logs it emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub status: u8,
    pub cumulative_gas: u64,
    pub logs: Vec<Log>,
}

/// One event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    pub address: [u8; 20],
    pub topics: Vec<[u8; 32]>,
    pub data: Vec<u8>,
}

/// Why a byte string is not a valid block, and where decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid block encoding at byte {offset}: {what}")]
pub struct DecodeError {
    pub offset: usize,
    pub what: &'static str,
}

impl Block {
    /// Number of event logs over all receipts.
    pub fn log_count(&self) -> usize {
        self.receipts.iter().map(|r| r.logs.len()).sum()
    }

    /// Decodes `bytes`, checking every count and length against the remaining input
    /// before allocating for it.
    pub fn decode(bytes: &[u8]) -> Result<Block, DecodeError> {
        if bytes.len() > MAX_BLOCK_BYTES {
            return Err(DecodeError { offset: 0, what: "block larger than MAX_BLOCK_BYTES" });
        }
        let mut c = Cursor::new(bytes);
        let fail = |c: &Cursor, what| DecodeError { offset: c.pos(), what };
        if c.array::<4>() != Some(MAGIC) {
            return Err(DecodeError { offset: 0, what: "bad magic" });
        }
        let number = c.u64().ok_or_else(|| fail(&c, "truncated number"))?;
        let header = read_vec(&mut c).ok_or_else(|| fail(&c, "truncated header"))?;
        let tx_count = counted(&mut c, MIN_TX_BYTES).ok_or_else(|| fail(&c, "bad tx count"))?;
        let mut transactions = Vec::with_capacity(tx_count);
        for _ in 0..tx_count {
            transactions.push(read_vec(&mut c).ok_or_else(|| fail(&c, "truncated transaction"))?);
        }
        let receipt_count = counted(&mut c, MIN_RECEIPT_BYTES).ok_or_else(|| fail(&c, "bad receipt count"))?;
        let mut receipts = Vec::with_capacity(receipt_count);
        for _ in 0..receipt_count {
            receipts.push(decode_receipt(&mut c)?);
        }
        if c.remaining() != 0 {
            return Err(fail(&c, "trailing bytes after last receipt"));
        }
        Ok(Block { number, header, transactions, receipts })
    }

    /// Encodes this block (the inverse of [`Block::decode`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut e = BlockEncoder::begin(out, self.number, &self.header, self.transactions.len());
        for tx in &self.transactions {
            e.transaction(tx);
        }
        e.receipts(self.receipts.len());
        for r in &self.receipts {
            e.receipt(r.status, r.cumulative_gas, r.logs.len());
            for log in &r.logs {
                e.log(&log.address, &log.topics, &log.data);
            }
        }
    }
}

/// Reads a u32 count and checks that `count * min_item_bytes` fits in the remaining input.
fn counted(c: &mut Cursor, min_item_bytes: usize) -> Option<usize> {
    let n = c.u32()? as usize;
    (n.checked_mul(min_item_bytes)? <= c.remaining()).then_some(n)
}

/// Reads a u32 length and that many bytes into a new `Vec`.
fn read_vec(c: &mut Cursor) -> Option<Vec<u8>> {
    let n = c.u32()? as usize;
    c.take(n).map(<[u8]>::to_vec)
}

fn decode_receipt(c: &mut Cursor) -> Result<Receipt, DecodeError> {
    let fail = |c: &Cursor, what| DecodeError { offset: c.pos(), what };
    let status = c.u8().ok_or_else(|| fail(c, "truncated receipt status"))?;
    let cumulative_gas = c.u64().ok_or_else(|| fail(c, "truncated receipt gas"))?;
    let log_count = counted(c, MIN_LOG_BYTES).ok_or_else(|| fail(c, "bad log count"))?;
    let mut logs = Vec::with_capacity(log_count);
    for _ in 0..log_count {
        let address = c.array::<20>().ok_or_else(|| fail(c, "truncated log address"))?;
        let topic_count = c.u8().ok_or_else(|| fail(c, "truncated topic count"))?;
        if topic_count > MAX_TOPICS {
            return Err(fail(c, "more than 4 topics"));
        }
        let mut topics = Vec::with_capacity(usize::from(topic_count));
        for _ in 0..topic_count {
            topics.push(c.array::<32>().ok_or_else(|| fail(c, "truncated topic"))?);
        }
        let data = read_vec(c).ok_or_else(|| fail(c, "truncated log data"))?;
        logs.push(Log { address, topics, data });
    }
    Ok(Receipt { status, cumulative_gas, logs })
}

/// Streaming writer of the block encoding. Callers announce counts before items; the
/// encoder does not check that the announced counts match (the decoder does).
pub struct BlockEncoder<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> BlockEncoder<'a> {
    /// Clears `out` and writes the block prologue up to and including the tx count.
    pub fn begin(out: &'a mut Vec<u8>, number: u64, header: &[u8], tx_count: usize) -> Self {
        out.clear();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&number.to_le_bytes());
        put_bytes(out, header);
        put_len(out, tx_count);
        BlockEncoder { out }
    }

    pub fn transaction(&mut self, tx: &[u8]) {
        put_bytes(self.out, tx);
    }

    pub fn receipts(&mut self, count: usize) {
        put_len(self.out, count);
    }

    pub fn receipt(&mut self, status: u8, cumulative_gas: u64, log_count: usize) {
        self.out.push(status);
        self.out.extend_from_slice(&cumulative_gas.to_le_bytes());
        put_len(self.out, log_count);
    }

    pub fn log(&mut self, address: &[u8; 20], topics: &[[u8; 32]], data: &[u8]) {
        debug_assert!(topics.len() <= usize::from(MAX_TOPICS));
        self.out.extend_from_slice(address);
        self.out.push(topics.len() as u8);
        for t in topics {
            self.out.extend_from_slice(t);
        }
        put_bytes(self.out, data);
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).expect("block item count exceeds u32");
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Block {
        Block {
            number: 7,
            header: vec![1; 10],
            transactions: vec![vec![2; 5], vec![]],
            receipts: vec![
                Receipt {
                    status: 1,
                    cumulative_gas: 21_000,
                    logs: vec![Log { address: [3; 20], topics: vec![[4; 32]; 3], data: vec![5; 9] }],
                },
                Receipt { status: 0, cumulative_gas: 42_000, logs: vec![] },
            ],
        }
    }

    #[test]
    fn round_trip() {
        let b = sample();
        let mut buf = Vec::new();
        b.encode(&mut buf);
        assert_eq!(Block::decode(&buf).unwrap(), b);
        assert_eq!(b.log_count(), 1);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let mut buf = Vec::new();
        sample().encode(&mut buf);
        for len in 0..buf.len() {
            assert!(Block::decode(&buf[..len]).is_err(), "prefix of {len} bytes decoded");
        }
    }

    #[test]
    fn huge_counts_are_rejected_before_allocation() {
        let mut buf = Vec::new();
        BlockEncoder::begin(&mut buf, 1, b"h", 0);
        // Replace the tx count with u32::MAX: would reserve 4 G * 24 bytes if trusted.
        let at = buf.len() - 4;
        buf[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = Block::decode(&buf).unwrap_err();
        assert_eq!(err.what, "bad tx count");
    }

    #[test]
    fn too_many_topics_is_rejected() {
        let mut buf = Vec::new();
        sample().encode(&mut buf);
        let pos = buf.iter().position(|&b| b == 3).unwrap() + 20; // topic_count byte
        buf[pos] = 5;
        assert_eq!(Block::decode(&buf).unwrap_err().what, "more than 4 topics");
    }
}

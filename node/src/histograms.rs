//! Latency histograms the node records and hands to the driver in its `Done` frame.
//! All values are microseconds.
//!
//! - `wal_append`: writing one batch's records to the shard WALs (no sync).
//! - `flush`: the batch's fdatasync(s).
//! - `compaction`: one shard's compaction, start to rename.

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::serialization::{Serializer, V2Serializer};
use hdrhistogram::Histogram;

/// Highest trackable value: one hour in microseconds.
pub const MAX_US: u64 = 3_600_000_000;

pub struct Histograms {
    pub wal_append: Mutex<Histogram<u64>>,
    pub flush: Mutex<Histogram<u64>>,
    pub compaction: Mutex<Histogram<u64>>,
}

/// A new histogram with the project's bounds (1 µs to 1 h, 3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("static histogram bounds are valid")
}

impl Default for Histograms {
    fn default() -> Self {
        Histograms {
            wal_append: Mutex::new(new_histogram()),
            flush: Mutex::new(new_histogram()),
            compaction: Mutex::new(new_histogram()),
        }
    }
}

/// Records `d` (saturated to the trackable range).
pub fn record(h: &Mutex<Histogram<u64>>, d: Duration) {
    let us = (d.as_micros() as u64).clamp(1, MAX_US);
    if let Ok(mut h) = h.lock() {
        h.saturating_record(us);
    }
}

impl Histograms {
    /// Each histogram in HdrHistogram's V2 encoding, by name.
    pub fn serialize(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for (name, h) in [("wal_append", &self.wal_append), ("flush", &self.flush), ("compaction", &self.compaction)] {
            let mut buf = Vec::new();
            if let Ok(h) = h.lock() {
                if V2Serializer::new().serialize(&h, &mut buf).is_ok() {
                    out.push((name.to_owned(), buf));
                }
            }
        }
        out
    }
}

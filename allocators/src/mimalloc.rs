//! mimalloc statistics (`mi_process_info`, which needs the crate's `extended` feature).
//!
//! Configured with mimalloc's defaults; `syncbench ingest --alloc-conf k=v,…` sets
//! `MIMALLOC_<K>=v` variables, read by mimalloc at start.

use serde_json::json;
use syncbench_node::{AllocatorStats, HeapCounters};

pub struct Mimalloc;

impl AllocatorStats for Mimalloc {
    fn name(&self) -> &'static str {
        "mimalloc"
    }

    fn version(&self) -> String {
        // SAFETY: mi_version has no preconditions.
        let v = unsafe { libmimalloc_sys::mi_version() };
        format!("{}.{}.{}", v / 100, (v / 10) % 10, v % 10)
    }

    fn heap(&self) -> HeapCounters {
        crate::counting::counters()
    }

    fn internal(&self) -> serde_json::Value {
        let mut v = [0usize; 8];
        let [elapsed, user, system, rss, peak_rss, commit, peak_commit, faults] = &mut v;
        // SAFETY: every pointer is a valid, distinct, writable usize.
        unsafe { libmimalloc_sys::mi_process_info(elapsed, user, system, rss, peak_rss, commit, peak_commit, faults) };
        json!({
            "rss_bytes": v[3], "rss_peak_bytes": v[4],
            "commit_bytes": v[5], "commit_peak_bytes": v[6], "page_faults": v[7],
        })
    }
}

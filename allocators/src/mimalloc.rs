//! mimalloc statistics (`mi_process_info`, which needs the crate's `extended` feature).
//!
//! Configured with mimalloc's defaults; `syncbench ingest --alloc-conf k=v,…` sets
//! `MIMALLOC_<K>=v` variables, read by mimalloc at start.

use syncbench_node::alloc_stats::{AllocatorInternal, MimallocStats};
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

    fn internal(&self) -> AllocatorInternal {
        let mut v = [0usize; 8];
        let [elapsed, user, system, rss, peak_rss, commit, peak_commit, faults] = &mut v;
        // SAFETY: every pointer is a valid, distinct, writable usize.
        unsafe { libmimalloc_sys::mi_process_info(elapsed, user, system, rss, peak_rss, commit, peak_commit, faults) };
        AllocatorInternal::Mimalloc(MimallocStats {
            rss_bytes: v[3] as u64,
            rss_peak_bytes: v[4] as u64,
            commit_bytes: v[5] as u64,
            commit_peak_bytes: v[6] as u64,
            page_faults: v[7] as u64,
        })
    }
}

//! mimalloc statistics (`mi_process_info`, which needs the crate's `extended` feature).
//!
//! Configured with mimalloc's defaults; `syncbench ingest --alloc-conf k=v,…` sets
//! `MIMALLOC_<K>=v` variables, read by mimalloc at start; the stats count its purges.

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
        // MI_MALLOC_VERSION is major · 10⁴ + minor · 10² + patch (30302 is 3.3.2).
        format!("{}.{}.{}", v / 10_000, (v / 100) % 100, v % 100)
    }

    fn heap(&self) -> HeapCounters {
        crate::counting::counters()
    }

    fn internal(&self) -> AllocatorInternal {
        let mut v = [0usize; 8];
        let [elapsed, user, system, rss, peak_rss, commit, peak_commit, faults] = &mut v;
        // SAFETY: every pointer is a valid, distinct, writable usize.
        unsafe { libmimalloc_sys::mi_process_info(elapsed, user, system, rss, peak_rss, commit, peak_commit, faults) };
        let (purges, purged_bytes) = purges().unzip();
        AllocatorInternal::Mimalloc(MimallocStats {
            rss_bytes: v[3] as u64,
            rss_peak_bytes: v[4] as u64,
            commit_bytes: v[5] as u64,
            commit_peak_bytes: v[6] as u64,
            page_faults: v[7] as u64,
            purges,
            purged_bytes,
        })
    }
}

/// mimalloc's purge calls and purged bytes since start, from `mi_stats_get_json`. The
/// JSON (about 20 KiB, in a buffer mimalloc allocates for itself) is scanned in place:
/// parsing it into Rust values would count as the node's own allocations.
fn purges() -> Option<(u64, u64)> {
    // SAFETY: a null buffer asks mimalloc to allocate one; it is freed below, once.
    let ptr = unsafe { libmimalloc_sys::mi_stats_get_json(0, std::ptr::null_mut()) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: mimalloc returns a NUL-terminated string that lives until mi_free.
    let text = unsafe { std::ffi::CStr::from_ptr(ptr) }.to_str().ok();
    let found = text.and_then(|t| Some((json_counter(t, "\"purge_calls\": ")?, json_counter(t, "\"purged\": ")?)));
    // SAFETY: allocated by mimalloc for this call and not used after this.
    unsafe { libmimalloc_sys::mi_free(ptr.cast()) };
    found
}

/// The number after `field` (`"name": `) in mimalloc's stats JSON (its counters are
/// plain numbers).
fn json_counter(json: &str, field: &str) -> Option<u64> {
    let start = json.find(field)? + field.len();
    let digits = json.get(start..)?.split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read_from_mimallocs_stats_json() {
        let json = "{\n  \"purged\": 4096,\n  \"purge_calls\": 3,\n  \"reset\": 0,\n}";
        assert_eq!(json_counter(json, "\"purge_calls\": "), Some(3));
        assert_eq!(json_counter(json, "\"purged\": "), Some(4096));
        assert_eq!(json_counter(json, "\"arena_purges\": "), None);
    }

    #[test]
    fn this_mimalloc_reports_its_purges() {
        // Counted in release builds too (mimalloc's OS-level counters are always kept).
        assert!(purges().is_some());
    }
}

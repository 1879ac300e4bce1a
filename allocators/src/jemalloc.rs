//! jemalloc (through tikv-jemallocator) statistics.
//!
//! Configured with jemalloc's defaults, as a node would ship it; tune it per run with
//! `syncbench ingest --alloc-conf` (passed as `_RJEM_MALLOC_CONF`, the variable the
//! prefixed tikv build reads — plain `MALLOC_CONF` is ignored). The stats include what
//! such settings act on: background threads, dirty and muzzy pages, purges.

use syncbench_node::alloc_stats::{AllocatorInternal, JemallocStats};
use syncbench_node::{AllocatorStats, HeapCounters};
use tikv_jemalloc_ctl::{epoch, stats};

pub struct Jemalloc;

impl AllocatorStats for Jemalloc {
    fn name(&self) -> &'static str {
        "jemalloc"
    }

    fn version(&self) -> String {
        tikv_jemalloc_ctl::version::read().unwrap_or("unknown").trim_end_matches('\0').to_owned()
    }

    fn heap(&self) -> HeapCounters {
        crate::counting::counters()
    }

    fn internal(&self) -> AllocatorInternal {
        // Statistics are cached per epoch: advance it or every read returns stale values.
        if epoch::advance().is_err() {
            return AllocatorInternal::Jemalloc(JemallocStats::default());
        }
        let read = |r: tikv_jemalloc_ctl::Result<usize>| r.ok().map(|v| v as u64);
        let page = size(b"arenas.page\0");
        let pages = |name: &[u8]| Some(count(name)? * page?);
        AllocatorInternal::Jemalloc(JemallocStats {
            allocated_bytes: read(stats::allocated::read()),
            active_bytes: read(stats::active::read()),
            resident_bytes: read(stats::resident::read()),
            retained_bytes: read(stats::retained::read()),
            mapped_bytes: read(stats::mapped::read()),
            metadata_bytes: read(stats::metadata::read()),
            // SAFETY: `background_thread` is a bool mallctl.
            background_thread: unsafe { tikv_jemalloc_ctl::raw::read::<bool>(b"background_thread\0") }.ok(),
            background_threads: size(b"stats.background_thread.num_threads\0"),
            background_thread_runs: count(b"stats.background_thread.num_runs\0"),
            dirty_bytes: size(b"stats.arenas.4096.pdirty\0").zip(page).map(|(n, p)| n * p),
            muzzy_bytes: size(b"stats.arenas.4096.pmuzzy\0").zip(page).map(|(n, p)| n * p),
            dirty_purges: count(b"stats.arenas.4096.dirty_npurge\0"),
            dirty_madvises: count(b"stats.arenas.4096.dirty_nmadvise\0"),
            dirty_purged_bytes: pages(b"stats.arenas.4096.dirty_purged\0"),
            muzzy_purges: count(b"stats.arenas.4096.muzzy_npurge\0"),
            muzzy_madvises: count(b"stats.arenas.4096.muzzy_nmadvise\0"),
            muzzy_purged_bytes: pages(b"stats.arenas.4096.muzzy_purged\0"),
        })
    }
}

// `stats.arenas.4096.*` is `MALLCTL_ARENAS_ALL`: every arena merged. jemalloc checks
// each read's size against the mallctl's type and fails on a mismatch (`None`).

/// A `size_t` mallctl (`name` NUL-terminated).
fn size(name: &[u8]) -> Option<u64> {
    // SAFETY: `name` is NUL-terminated and names a size_t mallctl (a wrong size is an error).
    unsafe { tikv_jemalloc_ctl::raw::read::<usize>(name) }.ok().map(|v| v as u64)
}

/// A `uint64_t` mallctl (`name` NUL-terminated).
fn count(name: &[u8]) -> Option<u64> {
    // SAFETY: `name` is NUL-terminated and names a uint64_t mallctl (a wrong size is an error).
    unsafe { tikv_jemalloc_ctl::raw::read::<u64>(name) }.ok()
}

/// jemalloc with its heap profiler (`node-jemalloc-prof`): the same statistics, plus
/// the profiler when jemalloc started with it on.
#[cfg(feature = "profiling")]
pub struct JemallocProf;

#[cfg(feature = "profiling")]
impl AllocatorStats for JemallocProf {
    fn name(&self) -> &'static str {
        Jemalloc.name()
    }

    fn version(&self) -> String {
        Jemalloc.version()
    }

    fn heap(&self) -> HeapCounters {
        Jemalloc.heap()
    }

    fn internal(&self) -> AllocatorInternal {
        Jemalloc.internal()
    }

    fn heap_profiler(&self) -> Option<&'static dyn syncbench_node::heap_profile::HeapProfiler> {
        crate::jemalloc_prof::JemallocProfiler::enabled()
    }
}

//! jemalloc (through tikv-jemallocator) statistics.
//!
//! Configured with jemalloc's defaults, as a node would ship it; tune it per run with
//! `syncbench ingest --alloc-conf` (passed as `_RJEM_MALLOC_CONF`, the variable the
//! prefixed tikv build reads — plain `MALLOC_CONF` is ignored).

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
        AllocatorInternal::Jemalloc(JemallocStats {
            allocated_bytes: read(stats::allocated::read()),
            active_bytes: read(stats::active::read()),
            resident_bytes: read(stats::resident::read()),
            retained_bytes: read(stats::retained::read()),
            mapped_bytes: read(stats::mapped::read()),
            metadata_bytes: read(stats::metadata::read()),
        })
    }
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

//! jemalloc (through tikv-jemallocator) statistics.
//!
//! Configured with jemalloc's defaults, as a node would ship it; tune it per run with
//! `syncbench ingest --alloc-conf` (passed as `_RJEM_MALLOC_CONF`, the variable the
//! prefixed tikv build reads — plain `MALLOC_CONF` is ignored).

use serde_json::json;
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

    fn internal(&self) -> serde_json::Value {
        // Statistics are cached per epoch: advance it or every read returns stale values.
        if epoch::advance().is_err() {
            return json!({});
        }
        json!({
            "allocated_bytes": stats::allocated::read().ok(),
            "active_bytes": stats::active::read().ok(),
            "resident_bytes": stats::resident::read().ok(),
            "retained_bytes": stats::retained::read().ok(),
            "mapped_bytes": stats::mapped::read().ok(),
            "metadata_bytes": stats::metadata::read().ok(),
        })
    }
}

//! The interface through which each allocator binary reports heap and allocator stats.
//! The node defines it; `syncbench-allocators` implements it once per allocator.
//!
//! Each allocator's own figures are a typed struct ([`GlibcStats`], [`JemallocStats`],
//! [`MimallocStats`]); readers ask [`AllocatorInternal`] for what they mean
//! (`resident_bytes()`, `arenas()`), never for an allocator's private key.

use serde::{Deserialize, Serialize};

/// Counters kept by the counting wrapper around the global allocator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeapCounters {
    /// Bytes currently allocated through the global allocator (requested sizes).
    pub live_bytes: i64,
    /// Allocations since start (`alloc`, `alloc_zeroed`, and `realloc` count one each).
    pub alloc_count: u64,
    /// Bytes requested since start.
    pub alloc_bytes_total: u64,
}

/// What an allocator binary knows about its allocator.
pub trait AllocatorStats: Sync {
    /// `glibc`, `jemalloc` or `mimalloc`.
    fn name(&self) -> &'static str;
    /// Version of the allocator library, as far as it is known.
    fn version(&self) -> String;
    fn heap(&self) -> HeapCounters;
    /// The allocator's own statistics.
    fn internal(&self) -> AllocatorInternal;
    /// The binary's heap profiler: only profiling builds have one.
    fn heap_profiler(&self) -> Option<&'static dyn crate::heap_profile::HeapProfiler> {
        None
    }
}

/// An allocator's own statistics, as sent in `stats` events under `allocator`.
///
/// ## Format
/// One JSON object whose fields depend on the allocator (no tag: the shapes differ);
/// read in the order glibc, mimalloc, jemalloc (whose fields are all optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AllocatorInternal {
    Glibc(GlibcStats),
    Mimalloc(MimallocStats),
    Jemalloc(JemallocStats),
}

impl AllocatorInternal {
    /// Memory the allocator holds as it sees it: jemalloc `resident`, mimalloc's
    /// process RSS, glibc's arena plus mmapped bytes.
    pub fn resident_bytes(&self) -> Option<u64> {
        match self {
            AllocatorInternal::Glibc(g) => Some(g.arena_bytes + g.mmap_bytes),
            AllocatorInternal::Mimalloc(m) => Some(m.rss_bytes),
            AllocatorInternal::Jemalloc(j) => j.resident_bytes,
        }
    }

    /// glibc's arena count (other allocators do not report one).
    pub fn arenas(&self) -> Option<u64> {
        match self {
            AllocatorInternal::Glibc(g) => g.arenas,
            _ => None,
        }
    }
}

/// glibc `mallinfo2`, and each arena from `malloc_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlibcStats {
    pub arena_bytes: u64,
    pub mmap_bytes: u64,
    pub in_use_bytes: u64,
    pub free_bytes: u64,
    pub top_releasable_bytes: u64,
    pub arenas: Option<u64>,
    /// Chunks glibc serves with their own `mmap` (`mallinfo2.hblks`): what a fixed
    /// `glibc.malloc.mmap_threshold` changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mmap_chunks: Option<u64>,
    /// Times the arenas' memory from the system (`mallinfo2.arena`) was lower than at
    /// the previous `stats` event, and by how many bytes in all: the trims seen
    /// (`glibc.malloc.trim_threshold`, `malloc_trim`). glibc counts none itself, so
    /// this is a lower bound: two trims between events, or a trim and a growth, count
    /// as at most one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trims_seen: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trimmed_bytes_seen: Option<u64>,
    /// Each arena (`<heap nr=…>` of `malloc_info`), at most [`GLIBC_ARENAS_LISTED`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arena_list: Vec<GlibcArena>,
}

/// Arenas listed per `stats` event: glibc makes at most 8 per core (64-bit), so this
/// covers 32 cores; `arenas` still counts them all.
pub const GLIBC_ARENAS_LISTED: usize = 256;

/// One glibc arena as `malloc_info` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlibcArena {
    /// The arena's number (0 is the main arena, on the program break).
    pub nr: u32,
    /// Bytes the arena holds from the system (`<system type="current">`).
    pub system_bytes: u64,
    /// Free bytes inside it (`<total type="fast">` + `<total type="rest">`): memory the
    /// arena holds that nothing uses, the fragmentation a chart of arenas shows.
    pub free_bytes: u64,
}

/// jemalloc `stats.*` (each absent if its read failed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JemallocStats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retained_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapped_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_bytes: Option<u64>,
    /// What jemalloc's tuning changes (`background_thread`, `dirty_decay_ms`,
    /// `muzzy_decay_ms`): whether background threads are on and how many run (their
    /// wake-ups in `background_thread_runs`); unused dirty and muzzy pages held, in
    /// bytes (`stats.arenas.<all>.pdirty`/`pmuzzy` × page size); purge sweeps, the
    /// `madvise` calls they made and the bytes they purged, per kind (dirty pages are
    /// purged to muzzy or to the system, muzzy pages to the system).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_thread: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_threads: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_thread_runs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muzzy_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty_purges: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty_madvises: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty_purged_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muzzy_purges: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muzzy_madvises: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muzzy_purged_bytes: Option<u64>,
}

/// mimalloc `mi_process_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MimallocStats {
    pub rss_bytes: u64,
    pub rss_peak_bytes: u64,
    pub commit_bytes: u64,
    pub commit_peak_bytes: u64,
    pub page_faults: u64,
    /// What mimalloc's tuning changes (`purge_delay`, `purge_decommits`,
    /// `arena_eager_commit`): purge calls and bytes purged since start (`purge_calls`,
    /// `purged` of `mi_stats_get_json`; counted by mimalloc in release builds too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purges: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged_bytes: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_allocators_shape_reads_back_as_itself() {
        let all = [
            AllocatorInternal::Glibc(GlibcStats {
                arena_bytes: 1,
                mmap_bytes: 2,
                arenas: Some(3),
                ..Default::default()
            }),
            AllocatorInternal::Mimalloc(MimallocStats { rss_bytes: 4, ..Default::default() }),
            AllocatorInternal::Jemalloc(JemallocStats { resident_bytes: Some(5), ..Default::default() }),
        ];
        for a in all {
            let back: AllocatorInternal = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
            assert_eq!(back, a);
        }
        let resident = |text: &str| serde_json::from_str::<AllocatorInternal>(text).unwrap().resident_bytes();
        assert_eq!(resident(r#"{"resident_bytes": 9}"#), Some(9));
        assert_eq!(
            resident(
                r#"{"rss_bytes": 7, "rss_peak_bytes": 0, "commit_bytes": 0, "commit_peak_bytes": 0, "page_faults": 0}"#
            ),
            Some(7)
        );
        assert_eq!(resident("{}"), None, "jemalloc whose statistics could not be read");
    }
}

//! The interface through which each allocator binary reports heap and allocator stats.
//! The node defines it; `syncbench-allocators` implements it once per allocator.

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
    /// Allocator-internal statistics as a JSON object (e.g. jemalloc `resident`).
    fn internal(&self) -> serde_json::Value;
}

//! The node compiled once per allocator, plus what every allocator binary shares.
//!
//! # Layout
//! - [`counting`]: [`counting::Counting`], a `GlobalAlloc` wrapper counting live bytes,
//!   allocations and bytes allocated, with per-thread sharded counters.
//! - [`glibc`], [`jemalloc`], [`mimalloc`]: each allocator's own statistics.
//! - [`maps`]: process memory maps, for moving profile addresses between processes.
//! - `jemalloc_prof` (feature `profiling` only): jemalloc's heap profiler, and the
//!   conversion of its raw profiles into pprof and flame graphs.
//! - `src/bin/node-*.rs`: one binary per allocator, each a few lines that install
//!   `Counting<TheAllocator>` as `#[global_allocator]` and call `syncbench_node::main`;
//!   `node-jemalloc-prof` (feature `profiling`) is the jemalloc one with profiling on,
//!   a separate binary so that the plain ones are never built with a profiler.
//!
//! The allocator must be chosen at compile time (and glibc reads `MALLOC_ARENA_MAX`
//! at process start), which is why each allocator is its own binary and process.

pub mod counting;
pub mod glibc;
pub mod jemalloc;
#[cfg(feature = "profiling")]
pub mod jemalloc_prof;
pub mod maps;
pub mod mimalloc;

/// The body of a node binary: installs `Counting<$alloc>` as the global allocator and
/// runs the node with `$stats` (a [`syncbench_node::AllocatorStats`]).
#[macro_export]
macro_rules! node_binary {
    ($alloc:ty = $value:expr, $stats:expr) => {
        #[global_allocator]
        static GLOBAL: $crate::counting::Counting<$alloc> = $crate::counting::Counting::new($value);

        fn main() -> std::process::ExitCode {
            syncbench_node::main(&$stats)
        }
    };
}

//! The node on jemalloc (tikv-jemallocator), counted.
syncbench_allocators::node_binary!(
    tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc,
    syncbench_allocators::jemalloc::Jemalloc
);

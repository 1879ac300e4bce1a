//! The control of `node-jemalloc-rocksdb` (`--engine-malloc system`): the node's Rust
//! allocations on jemalloc (`#[global_allocator]`), RocksDB's on glibc malloc.
syncbench_allocators::node_binary!(
    tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc,
    syncbench_allocators::jemalloc::Jemalloc
);

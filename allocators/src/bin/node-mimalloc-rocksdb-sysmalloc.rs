//! The control of `node-mimalloc-rocksdb` (`--engine-malloc system`): the node's Rust
//! allocations on mimalloc (`#[global_allocator]`), RocksDB's on glibc malloc.
syncbench_allocators::node_binary!(mimalloc::MiMalloc = mimalloc::MiMalloc, syncbench_allocators::mimalloc::Mimalloc);

//! The node on glibc malloc with `--store rocksdb`: RocksDB's allocations and the
//! node's own are served by the same glibc malloc.
syncbench_allocators::node_binary!(std::alloc::System = std::alloc::System, syncbench_allocators::glibc::Glibc);

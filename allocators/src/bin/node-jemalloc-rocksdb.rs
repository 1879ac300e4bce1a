//! The node on jemalloc with `--store rocksdb`, built with jemalloc replacing `malloc`
//! (feature `jemalloc-replaces-malloc`): RocksDB's allocations go to jemalloc too.
syncbench_allocators::node_binary!(
    tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc,
    syncbench_allocators::jemalloc::Jemalloc
);

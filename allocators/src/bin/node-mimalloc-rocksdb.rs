//! The node on mimalloc with `--store rocksdb`, built with mimalloc replacing `malloc`
//! (feature `mimalloc-replaces-malloc`): RocksDB's allocations go to mimalloc too.
syncbench_allocators::node_binary!(mimalloc::MiMalloc = mimalloc::MiMalloc, syncbench_allocators::mimalloc::Mimalloc);

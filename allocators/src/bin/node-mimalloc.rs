//! The node on mimalloc, counted.
syncbench_allocators::node_binary!(mimalloc::MiMalloc = mimalloc::MiMalloc, syncbench_allocators::mimalloc::Mimalloc);

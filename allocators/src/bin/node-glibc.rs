//! The node on glibc malloc (the system allocator), counted.
syncbench_allocators::node_binary!(std::alloc::System = std::alloc::System, syncbench_allocators::glibc::Glibc);

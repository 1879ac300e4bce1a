//! The node on jemalloc (tikv-jemallocator), counted.
use syncbench_allocators::counting::Counting;

#[global_allocator]
static GLOBAL: Counting<tikv_jemallocator::Jemalloc> = Counting::new(tikv_jemallocator::Jemalloc);

fn main() -> std::process::ExitCode {
    syncbench_node::main(&syncbench_allocators::jemalloc::Jemalloc)
}

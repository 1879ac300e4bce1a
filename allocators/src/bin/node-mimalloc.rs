//! The node on mimalloc, counted.
use syncbench_allocators::counting::Counting;

#[global_allocator]
static GLOBAL: Counting<mimalloc::MiMalloc> = Counting::new(mimalloc::MiMalloc);

fn main() -> std::process::ExitCode {
    syncbench_node::main(&syncbench_allocators::mimalloc::Mimalloc)
}

//! The node on glibc malloc (the system allocator), counted.
use syncbench_allocators::counting::Counting;

#[global_allocator]
static GLOBAL: Counting<std::alloc::System> = Counting::new(std::alloc::System);

fn main() -> std::process::ExitCode {
    syncbench_node::main(&syncbench_allocators::glibc::Glibc)
}

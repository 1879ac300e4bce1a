//! Node hot paths on glibc, through the counting wrapper (as in `node-glibc`).
#[path = "shared.rs"]
mod shared;

use syncbench_allocators::counting::Counting;

#[global_allocator]
static GLOBAL: Counting<std::alloc::System> = Counting::new(std::alloc::System);

fn main() {
    if shared::decode_iterations_from_env() {
        return;
    }
    let mut c = criterion::Criterion::default().configure_from_args();
    shared::benches(&mut c, "glibc");
    c.final_summary();
}

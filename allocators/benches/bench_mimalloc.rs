//! Node hot paths on mimalloc, through the counting wrapper (as in `node-mimalloc`).
#[path = "shared.rs"]
mod shared;

use syncbench_allocators::counting::Counting;

#[global_allocator]
static GLOBAL: Counting<mimalloc::MiMalloc> = Counting::new(mimalloc::MiMalloc);

fn main() {
    if shared::decode_iterations_from_env() {
        return;
    }
    let mut c = criterion::Criterion::default().configure_from_args();
    shared::benches(&mut c, "mimalloc");
    c.final_summary();
}

//! Node hot paths on jemalloc, through the counting wrapper (as in `node-jemalloc`).
#[path = "shared.rs"]
mod shared;

use syncbench_allocators::counting::Counting;

#[global_allocator]
static GLOBAL: Counting<tikv_jemallocator::Jemalloc> = Counting::new(tikv_jemallocator::Jemalloc);

fn main() {
    if shared::decode_iterations_from_env() {
        return;
    }
    let mut c = criterion::Criterion::default().configure_from_args();
    shared::benches(&mut c, "jemalloc");
    c.final_summary();
}

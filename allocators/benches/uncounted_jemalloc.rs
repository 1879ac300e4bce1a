//! The decode bench on jemalloc without the counting wrapper: the difference to
//! `bench_jemalloc`'s decode is the wrapper's cost.
#[path = "shared.rs"]
mod shared;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    if shared::decode_iterations_from_env() {
        return;
    }
    let mut c = criterion::Criterion::default().configure_from_args();
    shared::decode_only(&mut c, "jemalloc-uncounted");
    c.final_summary();
}

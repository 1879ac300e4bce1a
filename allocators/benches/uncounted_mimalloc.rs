//! The decode bench on mimalloc without the counting wrapper: the difference to
//! `bench_mimalloc`'s decode is the wrapper's cost.
#[path = "shared.rs"]
mod shared;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if shared::decode_iterations_from_env() {
        return;
    }
    let mut c = criterion::Criterion::default().configure_from_args();
    shared::decode_only(&mut c, "mimalloc-uncounted");
    c.final_summary();
}

//! The decode bench on glibc without the counting wrapper: the difference to
//! `bench_glibc`'s decode is the wrapper's cost.
#[path = "shared.rs"]
mod shared;

#[global_allocator]
static GLOBAL: std::alloc::System = std::alloc::System;

fn main() {
    if shared::decode_iterations_from_env() {
        return;
    }
    let mut c = criterion::Criterion::default().configure_from_args();
    shared::decode_only(&mut c, "glibc-uncounted");
    c.final_summary();
}

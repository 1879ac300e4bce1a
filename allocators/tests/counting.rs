//! The counting wrapper's sums are exact, including memory freed by another thread.

use std::alloc::System;
use std::sync::mpsc;

use syncbench_allocators::counting::{counters, Counting};

#[global_allocator]
static GLOBAL: Counting<System> = Counting::new(System);

const MIB: usize = 1 << 20;

#[test]
fn allocations_reallocations_and_cross_thread_frees_add_up() {
    let before = counters();
    let mut v: Vec<u8> = Vec::with_capacity(8 * MIB);
    v.resize(8 * MIB, 1);
    let grown = counters();
    assert!(grown.live_bytes - before.live_bytes >= 8 * MIB as i64);
    assert!(grown.alloc_count > before.alloc_count);
    v.reserve_exact(16 * MIB); // realloc: live grows to the new size
    let reallocated = counters();
    assert!(reallocated.live_bytes - before.live_bytes >= 24 * MIB as i64);
    assert!(reallocated.alloc_bytes_total - grown.alloc_bytes_total >= 24 * MIB as u64);

    // Allocated here, freed on another thread (as the node's writer frees decoded blocks).
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let freer = std::thread::spawn(move || rx.into_iter().for_each(drop));
    tx.send(v).unwrap();
    for _ in 0..100 {
        tx.send(vec![7u8; 64 * 1024]).unwrap();
    }
    drop(tx);
    freer.join().unwrap();
    let after = counters();
    // Everything above was freed; what remains is the test harness's own noise.
    assert!(
        (after.live_bytes - before.live_bytes).abs() < MIB as i64,
        "live bytes drifted by {}",
        after.live_bytes - before.live_bytes
    );
    assert!(after.alloc_bytes_total - before.alloc_bytes_total >= (24 * MIB + 100 * 64 * 1024) as u64);
}

//! `--churn-threads N`: a positive control for allocator fragmentation.
//!
//! A published glibc pattern: many threads, each cycling a buffer of about 11 MiB,
//! leave memory retained in glibc's per-thread arenas (reported: 191.5 MB with glibc's
//! defaults, 70.4 MB with `MALLOC_ARENA_MAX=2`, 4.6 MB with a fixed mmap threshold).
//! The mechanism: glibc serves the first buffer with mmap, and freeing it raises the
//! mmap threshold (and the trim threshold, to twice that), so the following, slightly
//! smaller buffers come from the thread's arena, and freeing them leaves the memory in
//! the arena below the trim threshold, one arena per thread up to 8 × cores.
//!
//! With this knob the node starts `N` threads when the session starts; each allocates,
//! zeroes (so it is resident) and frees a buffer `--churn-rounds` times, sizes stepping
//! down from `--churn-buffer-bytes` by 64 KiB, then exits (threads that start and
//! retire, as a runtime's blocking pool does). The threads take turns, one buffer alive
//! at a time: what stays resident then depends on how many arenas the buffers passed
//! through, not on how many happened to be alive together. Nothing is kept: whatever
//! RSS stays above the live heap afterwards is the allocator's. A harness that reports
//! "no allocator difference" must show it sees this one.

use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use crate::events::{Events, NodeEvent};
use crate::NodeError;

/// Size step between rounds: keeps every buffer after the first below the raised mmap
/// threshold (a buffer of exactly the threshold would be mmapped again).
pub const STEP_BYTES: u64 = 64 << 10;
/// Page size assumed for touching (a smaller real page only touches fewer bytes).
const PAGE: usize = 4096;

/// What `--churn-*` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Churn {
    pub threads: u64,
    pub buffer_bytes: u64,
    pub rounds: u64,
}

/// Starts the churn; the handle joins every churn thread and reports them.
pub fn start(c: Churn, events: Arc<Events>) -> Result<JoinHandle<()>, NodeError> {
    let turn = Arc::new(Mutex::new(()));
    let workers: Vec<JoinHandle<()>> = (0..c.threads)
        .map(|i| {
            let turn = Arc::clone(&turn);
            thread::Builder::new().name(format!("churn-{i}")).spawn(move || cycle(c, &turn))
        })
        .collect::<Result<_, _>>()
        .map_err(NodeError::Spawn)?;
    thread::Builder::new()
        .name("churn".into())
        .spawn(move || {
            let done = workers.into_iter().map(JoinHandle::join).filter(Result::is_ok).count() as u64;
            events.emit(NodeEvent::ChurnDone { threads: done, buffers: done * c.rounds, buffer_bytes: c.buffer_bytes });
        })
        .map_err(NodeError::Spawn)
}

/// One thread's rounds, each in its turn: allocate, touch every page, free.
fn cycle(c: Churn, turn: &Mutex<()>) {
    for round in 0..c.rounds {
        let _turn = turn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let size = c.buffer_bytes.saturating_sub(round * STEP_BYTES).max(PAGE as u64) as usize;
        // Zeroed (calloc): a buffer from an arena is cleared page by page, so it is resident.
        let mut buf = vec![0u8; size];
        for page in buf.chunks_mut(PAGE) {
            page[0] = 1;
        }
        std::hint::black_box(&buf);
    }
}

//! Fault injection for testing the harness and the node's durability.
//!
//! - [`Fault`]: make the node die in a chosen way at the K-th received block (crash
//!   classification tests).
//! - [`KillPoint`]: `SYNCBENCH_KILL_POINT=<name>[:<n>]` sends SIGKILL to the node itself
//!   the n-th time (default 1st) execution reaches the named point (whitebox durability
//!   tests). Names: `wal_after_append`, `wal_after_fsync`, `segment_mid_write`,
//!   `segment_after_rename`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// `--inject-retained-mib`: `mib` MiB allocated through the global allocator (so the
/// live heap, the allocation counters and RSS all see them), every page written, held
/// by the caller until the node exits — a memory regression of known size, the gate's
/// positive control.
pub fn retain_mib(mib: u64) -> Vec<u8> {
    if mib == 0 {
        return Vec::new();
    }
    let bytes = usize::try_from(mib << 20).unwrap_or(usize::MAX);
    let mut v = vec![0u8; bytes];
    // vec![0; n] may come from calloc'd, never-touched pages: write one byte a page.
    for page in v.chunks_mut(4096) {
        page[0] = 0xA5;
    }
    std::hint::black_box(&mut v);
    v
}

/// A way to die on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    Panic,
    Abort,
    Segfault,
    StackOverflow,
    Hang,
}

/// Dies (or hangs forever) as `fault` says.
pub fn trigger(fault: Fault) -> ! {
    eprintln!("node: injecting fault {fault:?}");
    match fault {
        Fault::Panic => panic!("injected panic (--fault panic)"),
        Fault::Abort => std::process::abort(),
        Fault::Segfault => {
            // A real invalid write: std's SIGSEGV handler (stack-guard detection) swallows
            // a raise()d SIGSEGV, but resets to the default action for a real fault,
            // which then re-executes and kills the process, as a wild pointer would.
            // SAFETY: maps a fresh inaccessible page and writes to it on purpose; no
            // Rust object lives there.
            unsafe {
                let page = libc::mmap(
                    std::ptr::null_mut(),
                    4096,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                std::ptr::write_volatile(page.cast::<u8>(), 1);
            }
            std::process::abort()
        }
        Fault::StackOverflow => {
            let depth = recurse(std::hint::black_box(0));
            panic!("recursion returned at depth {depth}")
        }
        Fault::Hang => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
}

#[allow(unconditional_recursion)]
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth as u8; 4096]);
    recurse(depth + 1) + u64::from(frame[0])
}

/// Named points where a whitebox test may SIGKILL the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillPoint {
    /// Batch records and commit marker written, before fdatasync.
    WalAfterAppend,
    /// fdatasync done, before the batch is acknowledged.
    WalAfterFsync,
    /// Half of a segment written to `segment.tmp`.
    SegmentMidWrite,
    /// Segment renamed into place, before the WAL is removed.
    SegmentAfterRename,
}

impl KillPoint {
    pub const ALL: [KillPoint; 4] = [
        KillPoint::WalAfterAppend,
        KillPoint::WalAfterFsync,
        KillPoint::SegmentMidWrite,
        KillPoint::SegmentAfterRename,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KillPoint::WalAfterAppend => "wal_after_append",
            KillPoint::WalAfterFsync => "wal_after_fsync",
            KillPoint::SegmentMidWrite => "segment_mid_write",
            KillPoint::SegmentAfterRename => "segment_after_rename",
        }
    }
}

/// Environment variable naming the kill point.
pub const KILL_POINT_ENV: &str = "SYNCBENCH_KILL_POINT";

static ARMED: OnceLock<Option<(KillPoint, u64)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

fn armed() -> Option<(KillPoint, u64)> {
    *ARMED.get_or_init(|| {
        let v = std::env::var(KILL_POINT_ENV).ok()?;
        let (name, nth) = v.split_once(':').unwrap_or((&v, "1"));
        let point = KillPoint::ALL.into_iter().find(|p| p.name() == name)?;
        Some((point, nth.parse().ok().filter(|&n| n > 0)?))
    })
}

/// SIGKILLs this process if `point` is the armed kill point and this is its n-th hit.
pub fn kill_point(point: KillPoint) {
    if let Some((armed, nth)) = armed() {
        if armed == point && HITS.fetch_add(1, Ordering::SeqCst) + 1 == nth {
            eprintln!("node: kill point {} reached", point.name());
            // SAFETY: sending a signal to our own pid has no memory-safety preconditions.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
    }
}

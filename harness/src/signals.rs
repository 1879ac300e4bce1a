//! SIGINT and SIGTERM: stop cleanly instead of dying with the node running.
//!
//! The handler only records which signal arrived (an atomic store: async-signal-safe).
//! Everything that waits — the node build, the ceiling probes, the driver, the wait
//! for the node to be ready — polls [`received`] and stops; the run then kills the
//! node, removes its data and socket directories and its memory cgroup, and writes
//! `summary.json` with outcome `interrupted` if the node had started (a run stopped
//! before the node started leaves no run directory). The process exits 128 + signal
//! (130 for SIGINT, 143 for SIGTERM). The node also gets `PR_SET_PDEATHSIG`, so it
//! dies with a harness that was killed outright.

use std::sync::atomic::{AtomicI32, Ordering};

static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    RECEIVED.store(sig, Ordering::SeqCst);
}

/// Installs the handler for SIGINT and SIGTERM (once, at start).
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler that only does an atomic store;
        // SA_RESTART keeps blocking reads and waits from failing with EINTR.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// Asks every wait to stop as if `sig` had arrived (unless a signal already did): how
/// a closed stdout (`SIGPIPE`, see `util::out`) stops a run the way SIGINT does.
pub fn request_stop(sig: i32) {
    let _ = RECEIVED.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
}

/// The signal that asked the harness to stop, if one did.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// The run was stopped by a signal (exit code 128 + signal).
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {} (exit {})", signal_name(*.0), 128 + .0)]
pub struct Interrupted(pub i32);

/// `Err(Interrupted)` once a signal arrived.
pub fn check() -> anyhow::Result<()> {
    match received() {
        Some(sig) => Err(Interrupted(sig).into()),
        None => Ok(()),
    }
}

/// `SIGKILL`, `SIGSEGV`, … (or `signal N`).
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGPIPE => "SIGPIPE",
        _ => return format!("signal {sig}"),
    };
    name.to_owned()
}

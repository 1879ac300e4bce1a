//! Standard output and standard error, written so that neither a closed pipe nor a
//! full device can panic the harness or cut a run short.
//!
//! `println!` panics when stdout is a pipe whose reader has gone (`syncbench ingest |
//! head -1`), and `eprintln!` when stderr is `/dev/full`: a panic then skips the
//! cleanup of the node's data and socket directories. Every line the harness prints
//! goes through [`say`] (stdout) or [`note`] (stderr) instead:
//! - stderr is diagnostics: a failed write is dropped, the run goes on.
//! - stdout is the answer: when its reader has gone (`EPIPE`) the harness stops as it
//!   would for a signal — the run in progress is recorded as interrupted and cleaned
//!   up (`signals::request_stop`), and the process exits 141 (128 + SIGPIPE), as a
//!   program killed by SIGPIPE would, without an error message. Any other failure to
//!   write stdout (a full device) is dropped like stderr's: the results directory is
//!   the product, the printed summary a copy of it.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `line` and a newline to stdout (see the module documentation).
pub fn say(line: &str) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let written = out.write_all(line.as_bytes()).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush());
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            crate::signals::request_stop(libc::SIGPIPE);
        }
    }
}

/// Writes `line` and a newline to stderr; a failure is dropped.
pub fn note(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes()).and_then(|()| err.write_all(b"\n")).and_then(|()| err.flush());
}

/// Whether stdout's reader has gone (the harness then exits 141, quietly).
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// `say!("…", args)`: [`say`] with `format!` arguments, in place of `println!`.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => { $crate::util::out::say(&format!($($arg)*)) };
}

/// `note!("…", args)`: [`note`] with `format!` arguments, in place of `eprintln!`.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => { $crate::util::out::note(&format!($($arg)*)) };
}

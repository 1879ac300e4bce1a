//! Progress while a run is going: an indicatif bar on a terminal, otherwise a status
//! line every 10 s (indicatif hides itself when stderr is not a terminal).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::driver::Progress;
use super::sampler::Sample;
use crate::units::{fmt_bytes, MIB};

const STATUS_EVERY: Duration = Duration::from_secs(10);

pub struct Display {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Display {
    pub fn start(total: u64, progress: Arc<Progress>, samples: Arc<Mutex<Vec<Sample>>>) -> Display {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || show(total, &progress, &samples, &stop))
        };
        Display { stop, handle: Some(handle) }
    }

    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn show(total: u64, progress: &Progress, samples: &Mutex<Vec<Sample>>, stop: &AtomicBool) {
    let started = Instant::now();
    let tty = interactive();
    let bar = tty.then(|| {
        let b = ProgressBar::new(total);
        let style = ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} blocks {msg} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        b.set_style(style);
        b
    });
    let mut last_status = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        thread::sleep(Duration::from_millis(200));
        let acked = progress.acked.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        let mib_s = progress.acked_bytes.load(Ordering::Relaxed) as f64 / MIB / secs;
        let rss = samples.lock().ok().and_then(|s| s.last().map(|x| x.mem.rss)).unwrap_or(0);
        let msg = format!("{mib_s:.0} MiB/s, RSS {}", fmt_bytes(rss as f64));
        match &bar {
            Some(b) => {
                b.set_position(acked);
                b.set_message(msg);
            }
            None if last_status.elapsed() >= STATUS_EVERY => {
                last_status = Instant::now();
                let pct = acked as f64 * 100.0 / total.max(1) as f64;
                crate::note!("syncbench: [{:>5.0}s] {acked}/{total} blocks ({pct:.0}%), {msg}", secs);
            }
            None => {}
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

/// Whether stderr takes a progress bar: a terminal that understands cursor movement
/// (`TERM=dumb`, or no `TERM`, gets plain status lines instead of escape codes).
fn interactive() -> bool {
    let dumb = std::env::var("TERM").map_or(true, |t| t.is_empty() || t == "dumb");
    std::io::stderr().is_terminal() && !dumb
}

/// One step of a run other than ingesting (the build, the ceiling probes, the
/// read-back, writing files and charts): a spinner with the elapsed time on a terminal,
/// one line when it starts and one when it ends otherwise, so no phase looks frozen.
pub struct Phase {
    what: String,
    started: Instant,
    spinner: Option<ProgressBar>,
}

impl Phase {
    pub fn start(what: impl Into<String>) -> Phase {
        let what = what.into();
        let spinner = interactive().then(|| {
            let s = ProgressBar::new_spinner();
            let style = ProgressStyle::with_template("syncbench: {spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            s.set_style(style);
            s.set_message(what.clone());
            s.enable_steady_tick(Duration::from_millis(120));
            s
        });
        if spinner.is_none() {
            crate::note!("syncbench: {what} …");
        }
        Phase { what, started: Instant::now(), spinner }
    }

    /// Ends the phase with a one-line result (`what: result (took N s)`).
    pub fn done(self, result: &str) {
        let line = format!("syncbench: {}: {result} ({:.1} s)", self.what, self.started.elapsed().as_secs_f64());
        match self.spinner {
            Some(s) => {
                s.finish_and_clear();
                crate::note!("{line}");
            }
            None => crate::note!("{line}"),
        }
    }
}

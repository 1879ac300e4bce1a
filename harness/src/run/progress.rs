//! Progress while a run is going: an indicatif bar on a terminal, otherwise a status
//! line every 10 s (indicatif hides itself when stderr is not a terminal).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::driver::Progress;
use super::sampler::Sample;
use crate::units::{fmt_bytes, MIB};
use crate::util::phase::interactive;
pub use crate::util::phase::Phase;

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

//! Heap profiles at the peak: when the node takes one, and the interface through which
//! a profiling allocator binary takes it.
//!
//! Only a binary built with a sampling heap profiler (`node-jemalloc-prof`) implements
//! [`HeapProfiler`]; every other binary refuses `--heap-profile-dir` at startup, so a
//! plain node's figures are never those of a profiled one.
//!
//! The stats thread calls [`Capture::tick`] with the live heap every couple of
//! milliseconds. A **peak** profile is taken whenever the live heap exceeds the live
//! heap of the last peak profile by `--heap-profile-margin-pct` (and at least
//! [`PEAK_GAP`] after it); each replaces the previous one, so the file kept is the one
//! nearest the run's maximum, and its event says how near (`heap_live_bytes` against the
//! run's `heap_live_peak_bytes`). Each replacement is announced at once, so a node that
//! dies (out of memory, killed) still leaves its latest peak profile announced and
//! readable. Optionally a **periodic** profile every
//! `--heap-profile-every-ms` (at most [`PERIODIC_MAX`]), and one at the **end**, after
//! the writer and the compactions have finished.
//!
//! Profiles are written raw (the allocator's own dump, a few milliseconds): turning them
//! into pprof and flame graphs means symbolizing, which costs memory and CPU the
//! measured process must not spend. The harness does that after the node has exited.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::events::{Events, NodeEvent};

/// Shortest time between two peak profiles: bounds their cost (one dump is a few
/// milliseconds) while a heap grows fast.
pub const PEAK_GAP: Duration = Duration::from_millis(100);
/// Most periodic profiles one run writes.
pub const PERIODIC_MAX: u32 = 1_000;

/// A heap profiler built into an allocator binary.
pub trait HeapProfiler: Sync {
    /// Writes the allocator's heap profile of live memory to `path` (its raw format).
    fn dump(&self, path: &Path) -> std::io::Result<()>;
    /// Mean bytes allocated between two samples.
    fn sample_interval_bytes(&self) -> u64;
    /// Turns sampling on or off (a profiling binary run without a profile directory
    /// samples nothing, so its figures are not a profiled run's).
    fn set_active(&self, on: bool) -> std::io::Result<()>;
}

/// Which moment a profile shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileKind {
    /// Nearest the run's largest live heap.
    Peak,
    /// Every `--heap-profile-every-ms`.
    Periodic,
    /// After the session's work (writer and compactions) finished.
    End,
}

/// One profile file, as announced in a `heap_profile` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeapProfileTaken {
    pub kind: ProfileKind,
    /// File name inside the profile directory (raw allocator format).
    pub file: String,
    /// Live heap (counting allocator) when the profile was taken.
    pub heap_live_bytes: i64,
    /// Wall clock when it was taken, milliseconds since the Unix epoch.
    pub taken_unix_ms: u64,
    /// Mean bytes between two samples of the profiler.
    pub sample_interval_bytes: u64,
}

/// What to capture, from the command line.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    pub dir: PathBuf,
    pub margin_pct: u64,
    pub every: Option<Duration>,
}

/// The capture policy's state, owned by the stats thread.
pub struct Capture {
    cfg: CaptureConfig,
    profiler: &'static dyn HeapProfiler,
    /// The kept peak profile, if any.
    peak: Option<HeapProfileTaken>,
    last_peak_at: Option<Instant>,
    next_periodic: Option<Instant>,
    periodic_taken: u32,
}

impl Capture {
    pub fn new(cfg: CaptureConfig, profiler: &'static dyn HeapProfiler, now: Instant) -> std::io::Result<Capture> {
        std::fs::create_dir_all(&cfg.dir)?;
        let next_periodic = cfg.every.map(|e| now + e);
        Ok(Capture { cfg, profiler, peak: None, last_peak_at: None, next_periodic, periodic_taken: 0 })
    }

    /// Takes the profiles due at `now` with the live heap at `live`.
    pub fn tick(&mut self, live: i64, now: Instant, events: &Events) {
        if self.peak_due(live, now) {
            self.last_peak_at = Some(now);
            // Dumped beside, then renamed over the kept one: a reader never sees half a file.
            if let Some(taken) = self.take(ProfileKind::Peak, "peak.heap.tmp", live, events) {
                let kept = self.cfg.dir.join("peak.heap");
                match std::fs::rename(self.cfg.dir.join("peak.heap.tmp"), &kept) {
                    Ok(()) => {
                        let kept = HeapProfileTaken { file: "peak.heap".into(), ..taken };
                        events.emit(NodeEvent::HeapProfile(kept.clone()));
                        self.peak = Some(kept);
                    }
                    Err(e) => report(events, &kept, &e),
                }
            }
        }
        if self.next_periodic.is_some_and(|t| now >= t) && self.periodic_taken < PERIODIC_MAX {
            self.periodic_taken += 1;
            self.next_periodic = self.cfg.every.map(|e| now + e);
            let name = format!("periodic-{:04}.heap", self.periodic_taken);
            if let Some(taken) = self.take(ProfileKind::Periodic, &name, live, events) {
                events.emit(NodeEvent::HeapProfile(taken));
            }
        }
    }

    /// Above the last peak profile by the margin, and not within [`PEAK_GAP`] of it.
    fn peak_due(&self, live: i64, now: Instant) -> bool {
        let base = self.peak.as_ref().map_or(0, |p| p.heap_live_bytes.max(0)) as i128;
        let above = live as i128 * 100 > base * (100 + self.cfg.margin_pct as i128);
        above && self.last_peak_at.is_none_or(|t| now.duration_since(t) >= PEAK_GAP)
    }

    /// The end profile (the peak's was announced when it was taken).
    pub fn finish(self, live: i64, events: &Events) {
        if let Some(end) = self.take(ProfileKind::End, "end.heap", live, events) {
            events.emit(NodeEvent::HeapProfile(end));
        }
    }

    fn take(&self, kind: ProfileKind, name: &str, live: i64, events: &Events) -> Option<HeapProfileTaken> {
        let path = self.cfg.dir.join(name);
        match self.profiler.dump(&path) {
            Ok(()) => Some(HeapProfileTaken {
                kind,
                file: name.into(),
                heap_live_bytes: live,
                taken_unix_ms: crate::events::unix_ms(),
                sample_interval_bytes: self.profiler.sample_interval_bytes(),
            }),
            Err(e) => {
                report(events, &path, &e);
                None
            }
        }
    }
}

fn report(events: &Events, path: &Path, e: &std::io::Error) {
    let file = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    events.emit(NodeEvent::Error { stage: "heap_profile".into(), shard: None, message: format!("{file}: {e}") });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records the live heap of every dump instead of dumping.
    struct Fake(Mutex<Vec<PathBuf>>);
    impl HeapProfiler for Fake {
        fn dump(&self, path: &Path) -> std::io::Result<()> {
            self.0.lock().unwrap().push(path.to_owned());
            std::fs::write(path, b"x")
        }
        fn sample_interval_bytes(&self) -> u64 {
            1 << 19
        }
        fn set_active(&self, _: bool) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn keeps_the_profile_nearest_the_peak_and_rate_limits_dumps() {
        let dir = tempfile::tempdir().unwrap();
        let fake: &'static Fake = Box::leak(Box::new(Fake(Mutex::new(Vec::new()))));
        let t0 = Instant::now();
        let cfg = CaptureConfig { dir: dir.path().to_owned(), margin_pct: 10, every: None };
        let mut c = Capture::new(cfg, fake, t0).unwrap();
        let events = Events::to_writer(std::io::sink());
        let ms = |n| t0 + Duration::from_millis(n);
        c.tick(100, ms(0), &events); // first: taken
        c.tick(105, ms(200), &events); // within the margin: not taken
        c.tick(200, ms(250), &events); // above: taken
        c.tick(400, ms(260), &events); // above but within PEAK_GAP of the last: not yet
        c.tick(400, ms(360), &events); // now
        c.tick(300, ms(900), &events); // falling: not taken
        assert_eq!(fake.0.lock().unwrap().len(), 3);
        assert_eq!(c.peak.as_ref().map(|p| p.heap_live_bytes), Some(400));
        assert!(dir.path().join("peak.heap").is_file() && !dir.path().join("peak.heap.tmp").exists());
        c.finish(10, &events);
        assert!(dir.path().join("end.heap").is_file());
    }

    #[test]
    fn periodic_profiles_are_numbered() {
        let dir = tempfile::tempdir().unwrap();
        let fake: &'static Fake = Box::leak(Box::new(Fake(Mutex::new(Vec::new()))));
        let t0 = Instant::now();
        let every = Some(Duration::from_millis(100));
        let mut c =
            Capture::new(CaptureConfig { dir: dir.path().to_owned(), margin_pct: 1000, every }, fake, t0).unwrap();
        let events = Events::to_writer(std::io::sink());
        for n in 0..=3 {
            c.tick(1, t0 + Duration::from_millis(n * 100 + 1), &events);
        }
        assert!(dir.path().join("periodic-0003.heap").is_file());
        assert!(!dir.path().join("periodic-0004.heap").exists());
    }
}

//! The /proc sampler: a dedicated thread reading the node's memory, CPU and I/O, the
//! system's CPU and available memory, and the driver's progress, every interval.
//! It also enforces the RSS watchdog when no cgroup limit is available.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::driver::Progress;
use crate::procfs::{self, SystemCpu};
use crate::record::outcome::{Stall, StallKind};
pub use crate::record::sample::{Sample, MAX_SAMPLES};

pub struct Sampler {
    pub samples: Arc<Mutex<Vec<Sample>>>,
    /// Set when the watchdog killed the node.
    pub watchdog_fired: Arc<AtomicBool>,
    /// The first stall seen (the node was killed for it unless it is a sampling gap).
    pub stall: Arc<Mutex<Option<Stall>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

pub struct SamplerConfig {
    pub pid: u32,
    pub interval: Duration,
    pub run_start: Instant,
    /// Kill the node if its RSS exceeds this (watchdog mode).
    pub watchdog_limit: Option<u64>,
    /// Most samples kept (the run's timeout divided by the interval, plus slack).
    pub max_samples: usize,
    /// `--stall-timeout`: how long the node may be stopped or silent, and how far
    /// beyond the interval a sample may be late, before the run counts as stalled.
    pub stall_after: Duration,
    /// The run time (ms) of the node's latest `stats` event, its heartbeat (`None`
    /// before the first): read each sample.
    pub heartbeat: Arc<dyn Fn() -> Option<u64> + Send + Sync>,
}

/// Decides, sample by sample, whether the run stalled (see [`Stall`]): pure, so the
/// rule is tested without stopping processes.
#[derive(Debug)]
pub struct StallWatch {
    after_ms: u64,
    interval_ms: u64,
    stopped_since: Option<u64>,
    prev_t_ms: Option<u64>,
    /// When sampling resumed after the last gap: the harness's own threads (the event
    /// reader among them) were held too, so silence before this is not the node's.
    resumed_ms: u64,
}

impl StallWatch {
    pub fn new(after: Duration, interval: Duration) -> StallWatch {
        StallWatch {
            after_ms: after.as_millis() as u64,
            interval_ms: interval.as_millis() as u64,
            stopped_since: None,
            prev_t_ms: None,
            resumed_ms: 0,
        }
    }

    /// A sample at `t_ms`: the node stopped or not, and its latest heartbeat.
    pub fn observe(&mut self, t_ms: u64, stopped: bool, heartbeat_ms: Option<u64>) -> Option<Stall> {
        let prev = self.prev_t_ms.replace(t_ms);
        if let Some(p) = prev {
            let gap = t_ms.saturating_sub(p);
            if gap > self.interval_ms + self.after_ms {
                self.resumed_ms = t_ms;
                self.stopped_since = None;
                return Some(Stall { kind: StallKind::SamplingGap, at_ms: p, duration_ms: gap });
            }
        }
        let since = if stopped { *self.stopped_since.get_or_insert(t_ms) } else { t_ms };
        if !stopped {
            self.stopped_since = None;
        }
        if t_ms - since >= self.after_ms {
            return Some(Stall { kind: StallKind::NodeStopped, at_ms: since, duration_ms: t_ms - since });
        }
        let silent = heartbeat_ms.map(|h| t_ms.saturating_sub(h.max(self.resumed_ms)));
        match silent {
            Some(s) if s >= self.after_ms && !stopped => {
                Some(Stall { kind: StallKind::NoHeartbeat, at_ms: t_ms - s, duration_ms: s })
            }
            _ => None,
        }
    }
}

impl Sampler {
    pub fn start(cfg: SamplerConfig, progress: Arc<Progress>) -> Sampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (stop, fired) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let stall = Arc::new(Mutex::new(None));
        let handle = {
            let out = Outputs {
                samples: Arc::clone(&samples),
                stop: Arc::clone(&stop),
                fired: Arc::clone(&fired),
                stall: Arc::clone(&stall),
            };
            thread::Builder::new()
                .name("sampler".into())
                .spawn(move || sample_loop(&cfg, &progress, &out))
                .expect("spawning the sampler")
        };
        Sampler { samples, watchdog_fired: fired, stall, stop, handle: Some(handle) }
    }

    /// Stops sampling and returns the samples (at once: a sampler asleep between
    /// samples is woken, whatever the interval).
    pub fn finish(mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            let _ = h.join();
        }
        self.samples.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default()
    }
}

/// Where the sampling thread puts what it finds.
struct Outputs {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    fired: Arc<AtomicBool>,
    stall: Arc<Mutex<Option<Stall>>>,
}

fn sample_loop(cfg: &SamplerConfig, progress: &Progress, out: &Outputs) {
    let (samples, stop, fired) = (&out.samples, &*out.stop, &*out.fired);
    let mut watch = StallWatch::new(cfg.stall_after, cfg.interval);
    let mut prev_cpu: Option<SystemCpu> = None;
    let mut next = Instant::now();
    let mut last_t_ms = None;
    let harness_exe = std::fs::read_link("/proc/self/exe").ok();
    let mut exec_seen = false;
    while !stop.load(Ordering::Relaxed) {
        // Between fork and exec the child is still a copy of the harness (a few KiB
        // resident): not the node yet, so not a sample of it.
        if !exec_seen {
            let exe = std::fs::read_link(format!("/proc/{}/exe", cfg.pid)).ok();
            exec_seen = exe.is_none() || exe != harness_exe;
            if !exec_seen {
                next = pace(next, Duration::from_millis(1).min(cfg.interval), stop);
                continue;
            }
        }
        let cpu_before = thread_cpu_ns();
        // The node exiting (zombie) or gone ends sampling: no row of zeros.
        let Some(mem) = procfs::read_memory(cfg.pid) else {
            return;
        };
        let t_ms = cfg.run_start.elapsed().as_millis() as u64;
        if last_t_ms == Some(t_ms) {
            // Never two rows for one instant (the sampler fell behind and caught up).
            next = pace(next, cfg.interval, stop);
            continue;
        }
        last_t_ms = Some(t_ms);
        // The node may be reaped between reads: a row is whole or not written at all.
        let (Some(((user, sys), stopped)), Some((rd, wr))) =
            (procfs::read_cpu_ms_and_stopped(cfg.pid), procfs::read_io(cfg.pid))
        else {
            return;
        };
        if let Some(stall) = watch.observe(t_ms, stopped, (cfg.heartbeat)()) {
            record_stall(cfg.pid, stall, &out.stall);
        }
        let (busy, iowait) = system_cpu_pct(&mut prev_cpu);
        let sample = Sample {
            t_ms,
            mem,
            cpu_user_ms: user,
            cpu_sys_ms: sys,
            io_read_bytes: rd,
            io_write_bytes: wr,
            blocks_acked: progress.acked.load(Ordering::Relaxed),
            bytes_acked: progress.acked_bytes.load(Ordering::Relaxed),
            sys_cpu_busy_pct: crate::units::round1(busy),
            sys_iowait_pct: crate::units::round1(iowait),
            mem_available_bytes: procfs::read_meminfo().map_or(0, |m| m.0),
            sample_cost_us: thread_cpu_ns().saturating_sub(cpu_before) / 1000,
        };
        if let Ok(mut s) = samples.lock() {
            if s.len() < cfg.max_samples {
                s.push(sample);
            }
        }
        if cfg.watchdog_limit.is_some_and(|l| mem.rss > l) && !fired.swap(true, Ordering::SeqCst) {
            // SAFETY: kill(2) on the node's pid, which the harness has not reaped yet.
            unsafe { libc::kill(cfg.pid as i32, libc::SIGKILL) };
        }
        next = pace(next, cfg.interval, stop);
    }
}

/// Keeps the run's first stall; a stalled node (not a sampling gap) is killed: its
/// measurements stopped meaning anything, and a hung node would otherwise hold the run
/// until `--timeout`.
fn record_stall(pid: u32, stall: Stall, slot: &Mutex<Option<Stall>>) {
    let Ok(mut s) = slot.lock() else { return };
    // The first stall is kept, unless a gap is followed by one that kills the node:
    // that one explains how the run ended.
    if s.is_none_or(|first| first.kind == StallKind::SamplingGap && stall.kind != StallKind::SamplingGap) {
        *s = Some(stall);
    }
    if stall.kind != StallKind::SamplingGap {
        // SAFETY: kill(2) on the node's pid, which the harness has not reaped yet.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
}

/// The machine's busy and iowait CPU percentages since the previous call.
fn system_cpu_pct(prev: &mut Option<SystemCpu>) -> (f64, f64) {
    let cpu = procfs::read_system_cpu();
    let pct = match (*prev, cpu) {
        (Some(p), Some(c)) if c.total > p.total => {
            let dt = (c.total - p.total) as f64;
            ((c.busy - p.busy) as f64 * 100.0 / dt, (c.iowait - p.iowait) as f64 * 100.0 / dt)
        }
        _ => (0.0, 0.0),
    };
    *prev = cpu;
    pct
}

/// Sleeps until the next sample is due (woken early by [`Sampler::finish`]); a sampler
/// that fell behind starts a new schedule from now instead of sampling in a burst.
fn pace(next: Instant, interval: Duration, stop: &AtomicBool) -> Instant {
    let next = next + interval;
    if next <= Instant::now() {
        return Instant::now();
    }
    crate::time::park_until(Some(next), stop);
    next
}

/// CPU time consumed by the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-parameter for clock_gettime.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> StallWatch {
        StallWatch::new(Duration::from_secs(10), Duration::from_millis(100))
    }

    #[test]
    fn a_node_stopped_past_the_bound_stalls_the_run() {
        let mut w = watch();
        assert_eq!(w.observe(1_000, false, Some(900)), None);
        for t in (1_100..11_100).step_by(100) {
            assert_eq!(w.observe(t, true, Some(1_000)), None, "t {t}");
        }
        let s = w.observe(11_100, true, Some(1_000)).unwrap();
        assert_eq!((s.kind, s.at_ms, s.duration_ms), (StallKind::NodeStopped, 1_100, 10_000));
    }

    #[test]
    fn a_silent_node_stalls_a_stopped_one_that_resumes_does_not() {
        let mut w = watch();
        assert_eq!(w.observe(1_000, true, Some(1_000)), None);
        assert_eq!(w.observe(1_100, false, Some(1_100)), None, "resumed: the clock restarts");
        assert_eq!(w.observe(11_000, false, Some(1_100)), None);
        let s = w.observe(11_100, false, Some(1_100)).unwrap();
        assert_eq!(s.kind, StallKind::NoHeartbeat);
        assert_eq!(watch().observe(50_000, false, None), None, "no heartbeat before the first stats event");
    }

    #[test]
    fn a_hole_in_the_samples_is_a_sampling_gap() {
        let mut w = watch();
        assert_eq!(w.observe(1_000, false, None), None);
        assert_eq!(w.observe(11_100, false, None), None, "exactly interval + bound");
        let s = w.observe(21_201, false, None).unwrap();
        assert_eq!((s.kind, s.at_ms, s.duration_ms), (StallKind::SamplingGap, 11_100, 10_101));
        // The harness was held, its event reader too: the node's stale heartbeat right
        // after the gap is not the node's silence.
        assert_eq!(w.observe(21_301, false, Some(11_000)), None);
        assert_eq!(w.observe(31_301, false, Some(11_000)).map(|s| s.kind), Some(StallKind::NoHeartbeat));
    }
}

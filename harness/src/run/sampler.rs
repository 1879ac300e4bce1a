//! The /proc sampler: a dedicated thread reading the node's memory, CPU and I/O, the
//! system's CPU and available memory, and the driver's progress, every interval.
//! It also enforces the RSS watchdog when no cgroup limit is available.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::driver::Progress;
use crate::procfs::{self, ProcMemory, SystemCpu};

/// One row of `samples.csv` before node stats are merged in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub t_ms: u64,
    pub mem: ProcMemory,
    pub cpu_user_ms: u64,
    pub cpu_sys_ms: u64,
    pub io_read_bytes: u64,
    pub io_write_bytes: u64,
    pub blocks_acked: u64,
    pub bytes_acked: u64,
    pub sys_cpu_busy_pct: f64,
    pub sys_iowait_pct: f64,
    pub mem_available_bytes: u64,
    /// CPU time the sampler thread spent on this row (its own overhead; thread CPU
    /// clock, so time spent preempted by a busy node does not count).
    pub sample_cost_us: u64,
}

pub struct Sampler {
    pub samples: Arc<Mutex<Vec<Sample>>>,
    /// Set when the watchdog killed the node.
    pub watchdog_fired: Arc<AtomicBool>,
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
}

impl Sampler {
    pub fn start(cfg: SamplerConfig, progress: Arc<Progress>) -> Sampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (stop, fired) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let handle = {
            let (samples, stop, fired) = (Arc::clone(&samples), Arc::clone(&stop), Arc::clone(&fired));
            thread::Builder::new()
                .name("sampler".into())
                .spawn(move || sample_loop(&cfg, &progress, &samples, &stop, &fired))
                .expect("spawning the sampler")
        };
        Sampler { samples, watchdog_fired: fired, stop, handle: Some(handle) }
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

fn sample_loop(
    cfg: &SamplerConfig,
    progress: &Progress,
    samples: &Mutex<Vec<Sample>>,
    stop: &AtomicBool,
    fired: &AtomicBool,
) {
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
        let (Some((user, sys)), Some((rd, wr))) = (procfs::read_cpu_ms(cfg.pid), procfs::read_io(cfg.pid)) else {
            return;
        };
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

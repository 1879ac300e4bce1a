//! One ingest session with a spawned node, from `ready` to reaping: wait until the node
//! listens, drive the workload, then let the node exit (killing it on a timeout, an
//! interruption or when it will not exit). The measured run and the CPU-ceiling probe
//! both go through it; only what they do around it differs (sampling, limits, files).

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use syncbench_workloads::WorkloadSpec;

use super::driver::{Driver, DriverEnd, DriverResult, Progress};
use super::events::NodeObservations;
use super::node::{ExitInfo, NodeProcess};
use crate::signals;

/// How a session is driven.
pub struct Session<'a> {
    pub spec: &'a WorkloadSpec,
    pub socket: &'a Path,
    pub max_in_flight: u64,
    /// The session's time zero (latencies and the driver's clock count from it).
    pub zero: Instant,
    /// When the whole session (ready included) must have finished.
    pub deadline: Instant,
    /// How long the node may take to exit after the session before it is killed.
    pub exit_grace: Duration,
    /// Connections the driver opens (the node's `--peers`).
    pub peers: u64,
    /// Stop sending after this long (`--duration`).
    pub duration: Option<Duration>,
    /// How long the node may take to announce it listens (`--stall-timeout`): opening a
    /// fresh store takes milliseconds, and a node that never listens is not waited on
    /// for the whole `--timeout`.
    pub ready_timeout: Duration,
}

/// How a session ended.
pub struct Ended {
    /// The driver's result; `None` if the node never became ready.
    pub driven: Option<Result<DriverResult>>,
    pub exit: Option<ExitInfo>,
    /// The deadline passed before the driver finished.
    pub timed_out: bool,
    /// The node was alive but not listening after `ready_timeout` (it was killed).
    pub not_ready: Option<Duration>,
}

impl Session<'_> {
    /// Drives `node` through the session and reaps it.
    pub fn run(&self, node: &NodeProcess, obs: &NodeObservations, progress: &Arc<Progress>) -> Ended {
        let gone = || node.exit_info().is_some() || signals::received().is_some();
        let ready_within = self.deadline.saturating_duration_since(Instant::now()).min(self.ready_timeout);
        let waited = Instant::now();
        let ready = obs.wait_ready(ready_within, gone);
        let not_ready = (!ready && !gone() && Instant::now() < self.deadline).then(|| waited.elapsed());
        if not_ready.is_some() {
            node.kill();
        }
        let driven = ready.then(|| {
            Driver {
                spec: self.spec,
                socket: self.socket,
                max_in_flight: self.max_in_flight,
                deadline: self.deadline,
                run_start: self.zero,
                progress: Arc::clone(progress),
                stop: Arc::new(AtomicBool::new(false)),
                peers: self.peers,
                duration: self.duration,
            }
            .run()
        });
        let done = matches!(&driven, Some(Ok(r)) if r.end == DriverEnd::Done);
        let timed_out = Instant::now() >= self.deadline && !done;
        if timed_out || signals::received().is_some() {
            node.kill();
        }
        let exit = node.wait_or_interrupt(self.exit_grace).or_else(|| {
            node.kill();
            node.wait_timeout(Duration::from_secs(5))
        });
        Ended { driven, exit, timed_out, not_ready }
    }
}

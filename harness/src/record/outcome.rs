//! How a run ended: its outcome, the crash class when the node crashed, the stall when
//! it stopped making progress (`summary.json` `outcome`, `crash_class`, `stall`).

use serde::{Deserialize, Serialize};

/// The `outcome` field of summary.json (and of each run in suite.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Crashed,
    OomKilled,
    WatchdogKilled,
    Timeout,
    /// The node completed the session but broke the protocol: acknowledged a block
    /// twice or one never sent, left sent blocks unacknowledged, reported counts that
    /// disagree with its acknowledgements, or acknowledged blocks its store lacks.
    ProtocolViolation,
    /// SIGINT or SIGTERM stopped the harness mid-run; the node was killed.
    Interrupted,
    /// The harness itself failed in a suite's run (suite.json only: no summary exists).
    HarnessError,
    /// The node or the harness stopped making progress for longer than
    /// `--stall-timeout` (see [`Stall`]): the run's figures have a hole.
    Stalled,
}

/// What stalled (`summary.json` `stall`, with outcome `stalled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StallKind {
    /// The node process was stopped (state `T`: SIGSTOP, or `t`: a tracer); it was
    /// killed when the bound passed.
    NodeStopped,
    /// The node sent no `stats` event (its heartbeat) for longer than the bound; it was
    /// killed.
    NoHeartbeat,
    /// The node never announced it was listening within the readiness bound.
    NotReady,
    /// The harness took no sample for longer than the bound (it was stopped or starved):
    /// `samples.csv` has a hole. The node ran on.
    SamplingGap,
}

impl StallKind {
    /// The name written in summary.json.
    pub fn as_str(self) -> &'static str {
        match self {
            StallKind::NodeStopped => "node_stopped",
            StallKind::NoHeartbeat => "no_heartbeat",
            StallKind::NotReady => "not_ready",
            StallKind::SamplingGap => "sampling_gap",
        }
    }
}

/// A stall: what, when (run time, ms) and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stall {
    pub kind: StallKind,
    pub at_ms: u64,
    pub duration_ms: u64,
}

impl Outcome {
    /// The name written in summary.json and suite.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Crashed => "crashed",
            Outcome::OomKilled => "oom_killed",
            Outcome::WatchdogKilled => "watchdog_killed",
            Outcome::Timeout => "timeout",
            Outcome::ProtocolViolation => "protocol_violation",
            Outcome::Interrupted => "interrupted",
            Outcome::HarnessError => "harness_error",
            Outcome::Stalled => "stalled",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of crash, when `outcome` is `crashed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashClass {
    Panic,
    StackOverflow,
    Segfault,
    Abort,
    /// SIGKILL from outside (not our watchdog or timeout, no cgroup OOM recorded).
    Killed,
    /// Another fatal signal.
    Signal,
    /// The node exited with a non-zero code after reporting an error (I/O, protocol,
    /// corruption).
    Error,
    /// The node exited 0 but the session did not complete.
    Incomplete,
    /// The node failed because its disk was full (ENOSPC in what it reported).
    DiskFull,
}

impl CrashClass {
    /// The name written in summary.json.
    pub fn as_str(self) -> &'static str {
        match self {
            CrashClass::Panic => "panic",
            CrashClass::StackOverflow => "stack_overflow",
            CrashClass::Segfault => "segfault",
            CrashClass::Abort => "abort",
            CrashClass::Killed => "killed",
            CrashClass::Signal => "signal",
            CrashClass::Error => "error",
            CrashClass::Incomplete => "incomplete",
            CrashClass::DiskFull => "disk_full",
        }
    }
}

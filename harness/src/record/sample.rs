//! One row of what the sampler reads from `/proc` for the node, and how many a run
//! may keep.

use crate::procfs::ProcMemory;

/// Most samples one run keeps (~28 h at 100 ms; ~140 MiB of rows): `--timeout` ÷
/// `--sample-interval` beyond it is refused before the run.
pub const MAX_SAMPLES: usize = 1_000_000;
/// Largest `samples.csv` (and `ratchet.csv`) read back: a day at 100 ms is ~170 MiB.
pub const MAX_SAMPLES_BYTES: u64 = 256 << 20;

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

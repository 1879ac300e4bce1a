//! Ceilings measured in the same run: what this machine can do for the node, so that a
//! report can say how close the node came (`efficiency` in `summary.json`).
//!
//! - **disk**: durable sequential write bandwidth on the data directory's filesystem at
//!   the node's granularity and concurrency, through the node's own writer
//!   ([`syncbench_node::direct_io::DirectWriter`]: 1 MiB direct writes, page cache
//!   bypassed), one `fdatasync` per writer batch, one stream for the WAL plus one per
//!   allowed compaction — for [`DISK_PROBE_SECS`] or [`DISK_PROBE_MAX_BYTES`],
//!   whichever comes first, measured before and again after the node runs (this
//!   machine's disk is noisy: both are recorded). Then the probe reads its files back
//!   the way compaction reads a WAL (1 MiB O_DIRECT reads, one reader per stream, for
//!   at most as long again): the read bandwidth. Last, **the mix**: the same write
//!   streams again, into new files, while one reader per stream reads the first files
//!   back, held to [`MIXED_READ_PER_WRITTEN`] of the bytes written — the node's own
//!   proportions (each ingested byte written twice, WAL and segment, and read back
//!   once by compaction), all at once, as during ingest. The probe files are removed.
//!
//! The disk's limit for the node is the mix, when it was measured and the node's
//! reads-to-writes ratio is close to the mix's (within [`MIXED_RATIO_TOLERANCE`]):
//! `(mixed write + mixed read) ÷ (wa + ra)` — the rate at which the disk did the
//! node's I/O per ingested byte, measured. Otherwise it is modelled from the separate
//! figures, as if reads and writes took turns on the device so that their times add
//! up: `1 ÷ (wa ÷ write + ra ÷ read)`, or the writes alone without a read figure. The
//! model is kept beside the measured mix because they can differ: where reads alone
//! are fast (a cache) but cost the disk far more beside synced writes, the model
//! overstates the disk. The mix re-reads files the read-back phase read seconds
//! before — as cache-friendly as reads get, like compaction reading a WAL written
//! seconds before; a cache that flatters it raises the limit, so it can only make the
//! node's efficiency look lower.
//! - **cpu**: the node's own pipeline (receive, decode, hash, cross-thread drop) started
//!   with `--null-writer`, fed by the same driver with the run's first blocks: what the
//!   node does per block minus the disk. Run [`CPU_PROBE_ATTEMPTS`] times and the fastest
//!   kept: a neighbour on a shared machine can only slow a probe down, and one slowed
//!   probe would understate the ceiling (efficiencies above 100 % in short runs).
//!
//! Probes run while the measured node is not running, in a scratch directory inside
//! the data directory that is removed before the node starts.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use syncbench_node::direct_io::{DirectReader, DirectWriter};
use syncbench_workloads::rng::SplitMix64;
use syncbench_workloads::WorkloadSpec;

use super::driver::{DriverEnd, Progress};
use super::events::{EventLog, NodeObservations};
use super::memlimit::MemLimit;
use super::node::NodeProcess;
use super::session::Session;
use crate::units::{round1, round3, MIB};

/// How long each disk probe writes (at least two batches are always written).
pub const DISK_PROBE_SECS: f64 = 3.0;
/// Upper bound on the bytes one phase of a disk probe writes, whatever the disk's
/// speed; the mix writes as many again while the first phase's files still exist.
pub const DISK_PROBE_MAX_BYTES: u64 = 2 << 30;
/// Bytes the mix reads per byte it writes: the node writes each ingested byte twice
/// (WAL, segment) and reads it once (compaction's read-back).
pub const MIXED_READ_PER_WRITTEN: f64 = 0.5;
/// The mix stands for the node's disk limit only if the node's reads-to-writes byte
/// ratio is within this fraction of [`MIXED_READ_PER_WRITTEN`]: a node that reads much
/// less (or more) than the mix loads the disk differently.
pub const MIXED_RATIO_TOLERANCE: f64 = 0.2;
/// How often a mix reader that is ahead of its share checks again.
const MIXED_READER_WAIT: Duration = Duration::from_millis(1);
/// Upper bound on one probe batch (between two fdatasyncs).
const DISK_BATCH_MAX_BYTES: u64 = 256 << 20;
const WRITE_CALL_BYTES: usize = 1 << 20;
const MAX_PROBE_STREAMS: usize = 65;
/// The CPU probe ingests this share of the run's blocks, at least [`CPU_PROBE_MIN_BLOCKS`].
const CPU_PROBE_DIVISOR: u64 = 8;
const CPU_PROBE_MIN_BLOCKS: u64 = 2_000;
/// CPU probes per run; the fastest is the ceiling.
pub const CPU_PROBE_ATTEMPTS: usize = 2;
/// Bound on the CPU probe's whole node session.
const CPU_PROBE_TIMEOUT: Duration = Duration::from_secs(300);

/// One disk bandwidth measurement.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct DiskProbe {
    pub mib_per_s: f64,
    pub bytes: u64,
    pub secs: f64,
    pub batch_bytes: u64,
    /// Files written at once.
    pub streams: usize,
    pub fdatasyncs: u64,
    /// The files read back (O_DIRECT, 1 MiB reads, all streams at once): bandwidth,
    /// bytes and seconds. Absent in runs recorded before the probe read, and if the
    /// read-back failed (`read_error` says why; the write figure still counts).
    #[serde(default)]
    pub read_mib_per_s: Option<f64>,
    #[serde(default)]
    pub read_bytes: u64,
    #[serde(default)]
    pub read_secs: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
    /// The mix (writes and reads at once, reads held to [`MIXED_READ_PER_WRITTEN`] of
    /// the bytes written): absent in runs recorded before it, and if it failed
    /// (`mixed_error` says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixed: Option<MixedProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixed_error: Option<String>,
}

/// Writes and reads at once, in the node's proportions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct MixedProbe {
    pub write_mib_per_s: f64,
    pub read_mib_per_s: f64,
    pub write_bytes: u64,
    pub read_bytes: u64,
    /// From starting the threads to the last writer's end (its last fdatasync).
    pub secs: f64,
}

/// The node's pipeline throughput with the disk writer replaced by a null sink.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CpuProbe {
    pub blocks: u64,
    pub bytes: u64,
    pub secs: f64,
    pub blocks_per_s: f64,
    pub mib_per_s: f64,
}

/// Writes `streams` files `dir/disk-probe-<i>` at once (the node writes its WAL and
/// `--compaction-concurrency` segments concurrently) for `min_secs` (run:
/// [`DISK_PROBE_SECS`]) and at least two batches per stream, fdatasync'ing each stream
/// every `batch_bytes` (capped at [`DISK_BATCH_MAX_BYTES`]); removes the files.
pub fn disk(dir: &Path, batch_bytes: u64, streams: usize, min_secs: f64, phase_bytes: u64) -> io::Result<DiskProbe> {
    let batch_bytes = batch_bytes.clamp(WRITE_CALL_BYTES as u64, DISK_BATCH_MAX_BYTES);
    let streams = streams.clamp(1, MAX_PROBE_STREAMS);
    let phase_bytes = phase_bytes.min(DISK_PROBE_MAX_BYTES);
    let least = 2 * batch_bytes * streams as u64;
    if phase_bytes < least {
        return Err(io::Error::other(format!(
            "skipped: the data directory's filesystem has room for {} of probe writes, the probe needs at least {}",
            crate::units::fmt_bytes(phase_bytes as f64),
            crate::units::fmt_bytes(least as f64)
        )));
    }
    let paths: Vec<PathBuf> = (0..streams).map(|i| dir.join(format!("disk-probe-{i}"))).collect();
    let started = Instant::now();
    let results: Vec<io::Result<(u64, u64)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .iter()
            .map(|p| {
                scope.spawn(move || {
                    write_stream(p, batch_bytes, (phase_bytes / streams as u64).max(2 * batch_bytes), min_secs)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(io::Error::other("disk probe thread panicked"))))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    let written = results.into_iter().collect::<io::Result<Vec<(u64, u64)>>>();
    let read = written.as_ref().ok().map(|_| read_back(&paths, min_secs));
    let mixed = written.as_ref().ok().map(|_| mix(dir, &paths, batch_bytes, min_secs, phase_bytes));
    paths.iter().for_each(|p| drop(fs::remove_file(p)));
    let (bytes, syncs) = written?.into_iter().fold((0, 0), |(b, s), (b1, s1)| (b + b1, s + s1));
    let (read, read_error) = match read {
        Some(Err(e)) => (None, Some(format!("reading the probe files back: {e}"))),
        Some(Ok(r)) => (Some(r), None),
        None => (None, None),
    };
    let (read_bytes, read_secs) = read.unwrap_or((0, 0.0));
    let (mixed, mixed_error) = match mixed {
        Some(Err(e)) => (None, Some(format!("writing and reading at once: {e}"))),
        Some(Ok(m)) => (Some(m), None),
        None => (None, None),
    };
    Ok(DiskProbe {
        mib_per_s: round1(bytes as f64 / MIB / elapsed),
        bytes,
        secs: round3(elapsed),
        batch_bytes,
        streams,
        fdatasyncs: syncs,
        read_mib_per_s: (read_bytes > 0).then(|| round1(read_bytes as f64 / MIB / read_secs.max(1e-9))),
        read_bytes,
        read_secs: round3(read_secs),
        read_error,
        mixed,
        mixed_error,
    })
}

/// The mix: one writer per file of `written` writes a new file as [`write_stream`]
/// does, while one reader per file reads it back from the start (again from the start
/// at its end), never more in all than [`MIXED_READ_PER_WRITTEN`] of the bytes written
/// so far. It ends when the writers do; the new files are removed.
fn mix(dir: &Path, written: &[PathBuf], batch_bytes: u64, min_secs: f64, phase_bytes: u64) -> io::Result<MixedProbe> {
    let streams = written.len();
    let new: Vec<PathBuf> = (0..streams).map(|i| dir.join(format!("disk-probe-mixed-{i}"))).collect();
    let progress = MixProgress::default();
    let max_bytes = (phase_bytes / streams as u64).max(2 * batch_bytes);
    let started = Instant::now();
    let result = std::thread::scope(|scope| -> io::Result<(u64, u64, f64)> {
        let progress = &progress;
        // The readers loop until `done`: set on every way out of this closure, before
        // the scope joins them.
        let _stop = StopOnDrop(&progress.done);
        let readers = written
            .iter()
            .map(|p| spawn_named(scope, "probe-mix-read", move || mix_reader(p, progress)))
            .collect::<io::Result<Vec<_>>>()?;
        let writers = new
            .iter()
            .map(|p| {
                let write = move || write_stream_counted(p, batch_bytes, max_bytes, min_secs, &progress.written_bytes);
                spawn_named(scope, "probe-mix-write", write)
            })
            .collect::<io::Result<Vec<_>>>()?;
        let writes: Vec<io::Result<u64>> =
            writers.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(panicked("writer"))).map(|(b, _)| b)).collect();
        let secs = started.elapsed().as_secs_f64();
        progress.done.store(true, Ordering::Relaxed);
        let reads: Vec<io::Result<u64>> =
            readers.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(panicked("reader")))).collect();
        Ok((writes.into_iter().sum::<io::Result<u64>>()?, reads.into_iter().sum::<io::Result<u64>>()?, secs))
    });
    new.iter().for_each(|p| drop(fs::remove_file(p)));
    let (write_bytes, read_bytes, secs) = result?;
    let secs = secs.max(1e-9);
    Ok(MixedProbe {
        write_mib_per_s: round1(write_bytes as f64 / MIB / secs),
        read_mib_per_s: round1(read_bytes as f64 / MIB / secs),
        write_bytes,
        read_bytes,
        secs: round3(secs),
    })
}

/// A named scoped thread; a refused spawn is an error, not a panic.
fn spawn_named<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: &str,
    f: impl FnOnce() -> T + Send + 'scope,
) -> io::Result<std::thread::ScopedJoinHandle<'scope, T>> {
    std::thread::Builder::new().name(name.to_owned()).spawn_scoped(scope, f)
}

fn panicked(what: &str) -> io::Error {
    io::Error::other(format!("disk probe {what} panicked"))
}

/// What the mix's writers and readers share.
#[derive(Default)]
struct MixProgress {
    written_bytes: AtomicU64,
    read_bytes: AtomicU64,
    /// The writers are done: the readers stop.
    done: AtomicBool,
}

/// Sets the flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// One mix reader: 1 MiB direct reads of `path`, each only once the bytes read in all
/// stay within [`MIXED_READ_PER_WRITTEN`] of those written; stops when the writers do.
/// Returns the bytes it read.
fn mix_reader(path: &Path, progress: &MixProgress) -> io::Result<u64> {
    let mut file = DirectReader::open(path, WRITE_CALL_BYTES)?;
    let (mut offset, mut bytes) = (0u64, 0u64);
    while !progress.done.load(Ordering::Relaxed) && !file.is_empty() {
        let len = (file.len() - offset).min(WRITE_CALL_BYTES as u64);
        let allowed = (progress.written_bytes.load(Ordering::Relaxed) as f64 * MIXED_READ_PER_WRITTEN) as u64;
        if progress.read_bytes.fetch_add(len, Ordering::Relaxed) + len > allowed {
            progress.read_bytes.fetch_sub(len, Ordering::Relaxed);
            std::thread::sleep(MIXED_READER_WAIT);
            continue;
        }
        file.read_at(offset, len as usize)?;
        bytes += len;
        offset = (offset + len) % file.len();
    }
    Ok(bytes)
}

/// Reads the probe files back at once, one thread each, as compaction reads a WAL:
/// (bytes read, seconds). Each reader stops after `min_secs` (and one read) or at its
/// file's end, so the read phase is bounded like the write phase.
fn read_back(paths: &[PathBuf], min_secs: f64) -> io::Result<(u64, f64)> {
    let started = Instant::now();
    let results: Vec<io::Result<u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = paths.iter().map(|p| scope.spawn(move || read_stream(p, started, min_secs))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(io::Error::other("disk probe reader panicked"))))
            .collect()
    });
    let secs = started.elapsed().as_secs_f64();
    Ok((results.into_iter().sum::<io::Result<u64>>()?, secs))
}

/// One reader: 1 MiB direct reads from the start of `path`.
fn read_stream(path: &Path, started: Instant, min_secs: f64) -> io::Result<u64> {
    let mut file = DirectReader::open(path, WRITE_CALL_BYTES)?;
    let mut offset = 0u64;
    while offset < file.len() {
        let len = (file.len() - offset).min(WRITE_CALL_BYTES as u64) as usize;
        file.read_at(offset, len)?;
        offset += len as u64;
        if started.elapsed().as_secs_f64() >= min_secs {
            break;
        }
    }
    Ok(offset)
}

/// One probe stream: (bytes written, fdatasyncs).
fn write_stream(path: &Path, batch_bytes: u64, max_bytes: u64, min_secs: f64) -> io::Result<(u64, u64)> {
    write_stream_counted(path, batch_bytes, max_bytes, min_secs, &AtomicU64::new(0))
}

/// [`write_stream`], adding each write's bytes to `counter` as it completes.
fn write_stream_counted(
    path: &Path,
    batch_bytes: u64,
    max_bytes: u64,
    min_secs: f64,
    counter: &AtomicU64,
) -> io::Result<(u64, u64)> {
    let mut file = DirectWriter::create(path, WRITE_CALL_BYTES)?;
    // Incompressible content, the same every time.
    let mut rng = SplitMix64::new(0x5ce1_1ae5);
    let chunk: Vec<u8> = (0..WRITE_CALL_BYTES / 8).flat_map(|_| rng.next_u64().to_le_bytes()).collect();
    let (mut bytes, mut syncs) = (0u64, 0u64);
    let started = Instant::now();
    loop {
        let mut in_batch = 0u64;
        while in_batch < batch_bytes {
            file.write_all(&chunk)?;
            in_batch += chunk.len() as u64;
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        file.sync_data()?;
        bytes += in_batch;
        syncs += 1;
        if (syncs >= 2 && started.elapsed().as_secs_f64() >= min_secs) || bytes >= max_bytes {
            return Ok((bytes, syncs));
        }
    }
}

/// What the CPU probe needs from the run.
pub struct CpuProbeSetup<'a> {
    pub node_bin: &'a Path,
    /// The run's node configuration with `socket` and `data` pointing at the scratch
    /// places; `null_writer` is set here.
    pub node: syncbench_node::Config,
    pub env: &'a [(String, String)],
    pub scratch: &'a Path,
    pub workload: &'a WorkloadSpec,
    pub max_in_flight: u64,
    /// How long the probe node may take to listen (the run's `--stall-timeout`).
    pub ready_timeout: Duration,
}

/// Blocks the CPU probe ingests for a run of `blocks`.
pub fn cpu_probe_blocks(blocks: u64) -> u64 {
    (blocks / CPU_PROBE_DIVISOR).max(CPU_PROBE_MIN_BLOCKS).min(blocks)
}

/// Runs the node with `--null-writer` on the workload's first blocks.
pub fn cpu(s: CpuProbeSetup) -> Result<CpuProbe> {
    let mut spec = s.workload.clone();
    spec.blocks = cpu_probe_blocks(spec.blocks);
    // The storing pipeline minus the disk, whatever the measured run's node does
    // (`--sink` and `--lie` exclude `--null-writer`, and would measure something else).
    let node_cfg = syncbench_node::Config { null_writer: true, sink: false, lie: None, ..s.node };
    let log = Arc::new(EventLog::create(&s.scratch.join("cpu-probe-events.jsonl"), crate::time::RunClock::start())?);
    let obs = Arc::new(NodeObservations::default());
    let args = node_cfg.to_args();
    let mut node = NodeProcess::spawn(s.node_bin, &args, s.env, &MemLimit::none(), log, Arc::clone(&obs))?;
    let started = Instant::now();
    let progress = Arc::new(Progress::default());
    let session = Session {
        spec: &spec,
        socket: &node_cfg.socket,
        max_in_flight: s.max_in_flight,
        zero: started,
        deadline: started + CPU_PROBE_TIMEOUT,
        exit_grace: Duration::from_secs(30),
        peers: node_cfg.peers,
        duration: None,
        ready_timeout: s.ready_timeout,
    };
    let ended = session.run(&node, &obs, &progress);
    node.join_readers();
    let driven = ended.driven.unwrap_or_else(|| Err(anyhow::anyhow!("the node did not become ready")));
    let (result, blocks, bytes) = (
        driven.context("CPU ceiling probe (--null-writer)")?,
        progress.acked.load(Ordering::Relaxed),
        progress.acked_bytes.load(Ordering::Relaxed),
    );
    if result.end != DriverEnd::Done || blocks != spec.blocks {
        bail!(
            "CPU ceiling probe ended early ({:?}, {blocks} of {} blocks): {}",
            result.end,
            spec.blocks,
            node.stderr_tail()
        );
    }
    let secs = result.ingest_duration.as_secs_f64().max(1e-9);
    Ok(CpuProbe {
        blocks,
        bytes,
        secs: round3(secs),
        blocks_per_s: round1(blocks as f64 / secs),
        mib_per_s: round1(bytes as f64 / MIB / secs),
    })
}

/// Both disk probes and the CPU probe of one run; a probe that failed is `None` and
/// says why in `errors` (a failed probe never fails the run).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Ceilings {
    pub disk_before: Option<DiskProbe>,
    pub disk_after: Option<DiskProbe>,
    /// The fastest of `cpu_attempts`.
    pub cpu: Option<CpuProbe>,
    /// Every CPU probe that succeeded, in the order run.
    #[serde(default)]
    pub cpu_attempts: Vec<CpuProbe>,
    pub errors: Vec<String>,
}

impl Ceilings {
    /// Mean write bandwidth of the disk probes that succeeded.
    pub fn disk_mib_per_s(&self) -> Option<f64> {
        self.disk_mean(|p| Some(p.mib_per_s))
    }

    /// Mean read bandwidth of the disk probes that read.
    pub fn disk_read_mib_per_s(&self) -> Option<f64> {
        self.disk_mean(|p| p.read_mib_per_s)
    }

    /// Mean write and read bandwidth of the mixes that were measured.
    pub fn disk_mixed_mib_per_s(&self) -> Option<(f64, f64)> {
        self.disk_mean(|p| p.mixed.map(|m| m.write_mib_per_s))
            .zip(self.disk_mean(|p| p.mixed.map(|m| m.read_mib_per_s)))
    }

    /// Mean of `figure` over the disk probes (before, after) that have it.
    fn disk_mean(&self, figure: impl Fn(&DiskProbe) -> Option<f64>) -> Option<f64> {
        let v: Vec<f64> = [&self.disk_before, &self.disk_after].iter().filter_map(|p| figure(p.as_ref()?)).collect();
        (!v.is_empty()).then(|| round1(v.iter().sum::<f64>() / v.len() as f64))
    }

    pub fn record_disk(&mut self, which: &str, probe: io::Result<DiskProbe>) -> Option<DiskProbe> {
        probe.map_err(|e| self.errors.push(format!("disk probe {which}: {e}"))).ok()
    }

    /// Keeps a CPU probe (or its error); `cpu` becomes the fastest so far.
    pub fn record_cpu(&mut self, probe: Result<CpuProbe>) {
        match probe {
            Ok(p) => {
                if self.cpu.as_ref().is_none_or(|best| p.mib_per_s > best.mib_per_s) {
                    self.cpu = Some(p.clone());
                }
                self.cpu_attempts.push(p);
            }
            Err(e) => self.errors.push(format!("{e:#}")),
        }
    }
}

/// What limits the node, and how close it came.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Efficiency {
    /// Achieved ÷ min(the disk's rate for the node's I/O per byte, CPU ceiling).
    pub ratio: f64,
    pub bound: Bound,
    pub bound_mib_per_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    Disk,
    Cpu,
}

/// The disk as measured and what the node did with it per ingested byte.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DiskUse {
    pub write_mib_per_s: Option<f64>,
    pub read_mib_per_s: Option<f64>,
    /// The mix's (write, read) bandwidth.
    pub mixed_mib_per_s: Option<(f64, f64)>,
    pub write_amplification: Option<f64>,
    pub read_amplification: Option<f64>,
}

impl DiskUse {
    /// Ingested MiB/s the disk allows: the measured mix where it stands for the node,
    /// the model otherwise (see the module docs).
    pub fn limit_mib_per_s(&self) -> Option<f64> {
        self.mixed_limit_mib_per_s().or_else(|| self.model_limit_mib_per_s())
    }

    /// `(mixed write + mixed read) ÷ (wa + ra)`: the bytes the mix moved per second,
    /// shared out as the node moves them per ingested byte — if the mix was measured
    /// and the node's reads-to-writes ratio is within [`MIXED_RATIO_TOLERANCE`] of the
    /// mix's. (The mix's readers keep to their share, so its read figure is that share,
    /// not a read bandwidth; summing the bytes does not let the capped term decide.)
    pub fn mixed_limit_mib_per_s(&self) -> Option<f64> {
        let (write, read) = self.mixed_mib_per_s.filter(|(w, r)| *w > 0.0 && *r > 0.0)?;
        let (wa, ra) = positive(self.write_amplification).zip(positive(self.read_amplification))?;
        let off = (ra / wa / MIXED_READ_PER_WRITTEN - 1.0).abs();
        (off <= MIXED_RATIO_TOLERANCE).then(|| (write + read) / (wa + ra))
    }

    /// The model: `1 ÷ (wa ÷ write + ra ÷ read)`; the writes alone where the reads are
    /// unknown.
    pub fn model_limit_mib_per_s(&self) -> Option<f64> {
        let secs_per_mib = positive(self.write_amplification)? / positive(self.write_mib_per_s)?;
        let read = positive(self.read_amplification).zip(positive(self.read_mib_per_s)).map_or(0.0, |(a, r)| a / r);
        Some(1.0 / (secs_per_mib + read))
    }
}

fn positive(v: Option<f64>) -> Option<f64> {
    v.filter(|v| *v > 0.0)
}

/// `achieved ÷ min(disk's limit, cpu)`, over the ceilings that exist.
pub fn efficiency(achieved_mib_per_s: f64, disk: DiskUse, cpu: Option<f64>) -> Option<Efficiency> {
    // Without a disk figure the lower ceiling is unknown: the CPU ceiling alone would
    // call a disk-bound node "CPU-bound" (a probe refused on a nearly full disk).
    disk.write_mib_per_s?;
    let disk_bound = disk.limit_mib_per_s().map(|l| (Bound::Disk, l));
    let cpu_bound = cpu.map(|c| (Bound::Cpu, c));
    let (bound, limit) =
        [disk_bound, cpu_bound].into_iter().flatten().filter(|(_, l)| *l > 0.0).min_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(Efficiency { ratio: round3(achieved_mib_per_s / limit), bound, bound_mib_per_s: round1(limit) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(mib_per_s: f64) -> CpuProbe {
        CpuProbe { blocks: 10, bytes: 10, secs: 1.0, blocks_per_s: 10.0, mib_per_s }
    }

    #[test]
    fn the_cpu_ceiling_is_the_fastest_probe_and_every_probe_is_kept() {
        let mut c = Ceilings::default();
        c.record_cpu(Ok(probe(300.0)));
        c.record_cpu(Err(anyhow::anyhow!("probe node died")));
        c.record_cpu(Ok(probe(410.0)));
        c.record_cpu(Ok(probe(390.0)));
        assert_eq!(c.cpu.as_ref().map(|p| p.mib_per_s), Some(410.0));
        assert_eq!(c.cpu_attempts.iter().map(|p| p.mib_per_s).collect::<Vec<_>>(), [300.0, 410.0, 390.0]);
        assert_eq!(c.errors, ["probe node died"]);
    }

    fn disk(write: f64, wa: f64, read: Option<f64>, ra: Option<f64>) -> DiskUse {
        DiskUse {
            write_mib_per_s: Some(write),
            write_amplification: Some(wa),
            read_mib_per_s: read,
            read_amplification: ra,
            mixed_mib_per_s: None,
        }
    }

    #[test]
    fn the_measured_mix_is_the_limit_where_it_stands_for_the_node() {
        // Alone: writes 500, reads 1,000 → model 1 ÷ (2/500 + 1/1000) = 200. At once
        // they did 280 and 140: the node's 2 and 1 per ingested MiB at 140.
        let measured = DiskUse { mixed_mib_per_s: Some((280.0, 140.0)), ..disk(500.0, 2.0, Some(1000.0), Some(1.0)) };
        assert_eq!(measured.model_limit_mib_per_s(), Some(200.0));
        assert_eq!(measured.mixed_limit_mib_per_s(), Some(140.0));
        let e = efficiency(126.0, measured, Some(400.0)).unwrap();
        assert_eq!((e.bound, e.bound_mib_per_s, e.ratio), (Bound::Disk, 140.0, 0.9));
        // Reads a little above the mix's share: its bytes shared out by the node's,
        // (280 + 140) ÷ (2 + 1.1).
        let more = DiskUse { read_amplification: Some(1.1), ..measured };
        assert_eq!(more.mixed_limit_mib_per_s().map(|l| l.round()), Some(135.0));
        // A node that reads far less than the mix (none, or a quarter): the model.
        for ra in [None, Some(0.5)] {
            let other = DiskUse { read_amplification: ra, ..measured };
            assert_eq!(other.mixed_limit_mib_per_s(), None, "{ra:?}");
            assert_eq!(other.limit_mib_per_s(), other.model_limit_mib_per_s(), "{ra:?}");
        }
        // No mix measured (a failed probe, a run recorded before it): the model.
        assert_eq!(disk(500.0, 2.0, Some(1000.0), Some(1.0)).limit_mib_per_s(), Some(200.0));
    }

    #[test]
    fn efficiency_takes_the_lower_ceiling() {
        // Disk 500 MiB/s with every byte written twice → 250; CPU 400 → disk bounds.
        let e = efficiency(200.0, disk(500.0, 2.0, None, None), Some(400.0)).unwrap();
        assert_eq!((e.bound, e.bound_mib_per_s, e.ratio), (Bound::Disk, 250.0, 0.8));
        let e = efficiency(200.0, disk(2000.0, 2.0, None, None), Some(400.0)).unwrap();
        assert_eq!((e.bound, e.ratio), (Bound::Cpu, 0.5));
        // Unknown write amplification: only the CPU ceiling can be used.
        let unknown = DiskUse { write_amplification: None, ..disk(500.0, 2.0, None, None) };
        assert_eq!(efficiency(200.0, unknown, Some(400.0)).unwrap().bound, Bound::Cpu);
        assert_eq!(efficiency(200.0, DiskUse::default(), None), None);
        // Regression: a disk probe refused on a nearly full filesystem left the CPU
        // ceiling alone, and the run was called CPU-bound.
        assert_eq!(efficiency(200.0, DiskUse::default(), Some(400.0)), None);
    }

    #[test]
    fn reads_and_writes_share_the_disk() {
        // Each ingested MiB: 2 MiB written at 600 MiB/s and 1 MiB read at 300 MiB/s
        // take 1/300 + 1/300 s: 150 MiB/s.
        let e = efficiency(120.0, disk(600.0, 2.0, Some(300.0), Some(1.0)), Some(400.0)).unwrap();
        assert_eq!((e.bound, e.bound_mib_per_s, e.ratio), (Bound::Disk, 150.0, 0.8));
        // Nothing read back (or no read figure): the writes alone.
        assert_eq!(disk(600.0, 2.0, Some(300.0), Some(0.0)).limit_mib_per_s(), Some(300.0));
        assert_eq!(disk(600.0, 2.0, None, Some(1.0)).limit_mib_per_s(), Some(300.0));
    }

    /// A mix reader keeps to its share of the bytes written — exactly, not one read
    /// past it — and stops when told.
    #[test]
    fn a_mix_reader_reads_its_share_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("first");
        fs::write(&path, vec![7u8; 3 << 20]).unwrap();
        let progress = MixProgress::default();
        progress.written_bytes.store(5 << 20, Ordering::Relaxed);
        let read = std::thread::scope(|scope| {
            let reader = scope.spawn(|| mix_reader(&path, &progress));
            let deadline = Instant::now() + Duration::from_secs(10);
            while progress.read_bytes.load(Ordering::Relaxed) < 2 << 20 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            // At its share (half of 5 MiB, in whole 1 MiB reads): it waits.
            std::thread::sleep(Duration::from_millis(50));
            progress.done.store(true, Ordering::Relaxed);
            reader.join().unwrap().unwrap()
        });
        assert_eq!(read, 2 << 20);
    }

    #[test]
    fn disk_probe_writes_and_removes_its_file() {
        let dir = std::env::temp_dir().join(format!("syncbench-disk-probe-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = super::disk(&dir, 4 << 20, 2, 0.0, DISK_PROBE_MAX_BYTES).unwrap();
        assert!(p.fdatasyncs == 4 && p.bytes == p.fdatasyncs * (4 << 20) && p.mib_per_s > 0.0, "{p:?}");
        // min_secs 0: each reader stops after its first 1 MiB read.
        assert_eq!(p.read_bytes, 2 << 20, "{p:?}");
        assert!(p.read_mib_per_s.is_some_and(|r| r > 0.0), "{p:?}");
        // The mix: two batches per writer again, and reads held to half the bytes
        // written.
        let m = p.mixed.unwrap_or_else(|| panic!("no mix: {p:?}"));
        assert_eq!(m.write_bytes, 2 * 2 * (4 << 20), "{m:?}");
        assert!(m.read_bytes <= m.write_bytes / 2, "{m:?}");
        assert!(m.write_mib_per_s > 0.0 && m.secs > 0.0, "{m:?}");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "probe file left behind");
        fs::remove_dir(&dir).unwrap();
    }
}

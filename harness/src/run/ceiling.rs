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
use syncbench_node::direct_io::{DirectReader, DirectWriter};
use syncbench_workloads::rng::SplitMix64;
use syncbench_workloads::WorkloadSpec;

use super::driver::{DriverEnd, Progress};
use super::events::{EventLog, NodeObservations};
use super::memlimit::MemLimit;
use super::node::NodeProcess;
use super::session::Session;
pub use crate::record::ceilings::{Ceilings, CpuProbe, DiskProbe, MixedProbe, MIXED_READ_PER_WRITTEN};
use crate::units::{round1, round3, MIB};

/// How long each disk probe writes (at least two batches are always written).
pub const DISK_PROBE_SECS: f64 = 3.0;
/// Upper bound on the bytes one phase of a disk probe writes, whatever the disk's
/// speed; the mix writes as many again while the first phase's files still exist.
pub const DISK_PROBE_MAX_BYTES: u64 = 2 << 30;
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

#[cfg(test)]
mod tests {
    use super::*;

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

//! Compaction: turning a complete shard's WAL into a sorted, indexed segment.
//!
//! # Layout
//! - [`buffered`]: the pre-fix behaviour of the compaction-memory incident
//!   (everything in memory).
//! - [`streaming`]: the fix (offset index, on-demand reads, bounded chunks).
//! - this module: the shared commit protocol ([`compact_shard`]) and the bounded
//!   [`Compactor`] queue that limits concurrent compactions. Compactions run on the
//!   runtime's blocking pool (`spawn_blocking`): threads that start when work arrives
//!   and retire after idling, as a real node's blocking pool does. After each one,
//!   `--retain-shards` expires the oldest sealed shards ([`crate::retention`]).
//!   The backlog (sealed shards waiting for or in compaction) is bounded by
//!   `--max-compaction-backlog`: the writer waits in [`Compactor::wait_backlog`] while
//!   it is above the limit, so ingest slows to compaction's pace instead of piling up
//!   sealed WALs until the disk is full.
//!
//! Commit protocol, crash-safe at every step: write `sorted/segment.tmp` and fsync it;
//! rename to `sorted/segment.sbs` and fsync the directory; remove `staging.wal` and
//! fsync the shard directory. Startup treats a present `segment.sbs` as authoritative
//! and removes any leftover WAL or tmp file.

pub mod buffered;
pub mod streaming;

use std::collections::{BTreeSet, VecDeque};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::events::{CompactionEnd, Events, NodeEvent};
use crate::fault::{kill_point, KillPoint};
use crate::histograms::{record, Histograms};
use crate::mode::CompactionMode;
use crate::{segment, wal};

/// Why a compaction failed.
#[derive(Debug, thiserror::Error)]
pub enum CompactionError {
    #[error("{path}: i/o error during compaction: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: corrupt WAL record at offset {offset} during compaction: {reason}")]
    Corrupt { path: PathBuf, offset: u64, reason: &'static str },
}

pub(crate) fn io_err(path: &Path) -> impl Fn(std::io::Error) -> CompactionError + '_ {
    move |source| CompactionError::Io { path: path.to_owned(), source }
}

/// What one compaction did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    pub records: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Compacts the shard in `dir` and commits the result (see the module docs).
/// `index` is the batch writer's index of the WAL's records, if it kept one.
pub fn compact_shard(
    dir: &Path,
    shard: u64,
    mode: CompactionMode,
    index: Option<Vec<wal::reader::Entry>>,
    chunk_bytes: usize,
    reads: streaming::Reads,
) -> Result<Outcome, CompactionError> {
    let wal_path = dir.join(wal::FILE_NAME);
    let sorted = dir.join(segment::DIR_NAME);
    fs::create_dir_all(&sorted).map_err(io_err(&sorted))?;
    let tmp = sorted.join(segment::TMP_NAME);
    let outcome = match mode {
        CompactionMode::Buffered => buffered::compact(&wal_path, &tmp, shard)?,
        CompactionMode::Streaming => streaming::compact(&wal_path, &tmp, shard, index, chunk_bytes, reads)?,
    };
    fs::rename(&tmp, sorted.join(segment::FILE_NAME)).map_err(io_err(&tmp))?;
    sync_dir(&sorted)?;
    kill_point(KillPoint::SegmentAfterRename);
    fs::remove_file(&wal_path).map_err(io_err(&wal_path))?;
    sync_dir(dir)?;
    Ok(outcome)
}

/// fsyncs a directory so a rename or unlink inside it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), CompactionError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

/// A compaction waiting for a worker.
#[derive(Debug, Clone)]
pub struct Job {
    pub shard: u64,
    pub dir: PathBuf,
    /// The WAL's record index from the writer that created it (see [`wal::writer::WalWriter`]).
    pub index: Option<Vec<wal::reader::Entry>>,
}

/// How compactions run.
#[derive(Debug, Clone)]
pub struct CompactorConfig {
    /// Most compactions running at once (each on its own blocking-pool thread).
    pub concurrency: usize,
    pub mode: CompactionMode,
    /// `--chunk-bytes` of streaming compaction.
    pub chunk_bytes: usize,
    /// How streaming compaction reads the WAL (`--compaction-window-bytes`,
    /// `--compaction-readers`).
    pub reads: streaming::Reads,
    /// `--retain-shards`, and the data directory it deletes from.
    pub retain_shards: Option<u64>,
    pub root: PathBuf,
    /// `--max-compaction-backlog`: most shards submitted and not yet compacted before
    /// [`Compactor::wait_backlog`] makes the writer wait.
    pub backlog_max: usize,
    /// `--compaction-delay-ms`: a sleep at the start of every compaction (a slow disk,
    /// for testing the backlog limit); zero in real runs.
    pub delay: Duration,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    running: usize,
    /// Jobs submitted and not yet finished (queued or compacting): the backlog.
    backlog: usize,
    error: Option<String>,
    /// Shards compacted and not yet expired (for `--retain-shards`).
    sealed: BTreeSet<u64>,
    /// Shards expired since the writer last asked ([`CompactorStatus::take_expired`]);
    /// at most one entry per shard.
    expired: Vec<u64>,
}

struct Shared {
    state: Mutex<State>,
    /// Notified when a runner ends and when a job finishes (`finish` and
    /// `wait_backlog` wait on it).
    changed: Condvar,
    cfg: CompactorConfig,
    events: Arc<Events>,
    histograms: Arc<Histograms>,
}

/// Runs at most `concurrency` compactions at once on the runtime's blocking pool; the
/// rest wait in FIFO order.
pub struct Compactor {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
}

/// A cheap handle for observing the compactor (queue depth, running count, failure).
#[derive(Clone)]
pub struct CompactorStatus(Arc<Shared>);

impl CompactorStatus {
    /// (queued, running)
    pub fn depth(&self) -> (usize, usize) {
        self.0.state.lock().map_or((0, 0), |s| (s.queue.len(), s.running))
    }

    pub fn error(&self) -> Option<String> {
        self.0.state.lock().ok().and_then(|s| s.error.clone())
    }

    /// Shards expired by retention since the last call (the writer drops their index).
    pub fn take_expired(&self) -> Vec<u64> {
        self.0.state.lock().map_or_else(|_| Vec::new(), |mut s| std::mem::take(&mut s.expired))
    }
}

impl Compactor {
    pub fn start(
        cfg: CompactorConfig,
        runtime: tokio::runtime::Handle,
        events: Arc<Events>,
        histograms: Arc<Histograms>,
    ) -> Compactor {
        let shared = Arc::new(Shared { state: Mutex::default(), changed: Condvar::new(), cfg, events, histograms });
        Compactor { shared, runtime }
    }

    pub fn status(&self) -> CompactorStatus {
        CompactorStatus(Arc::clone(&self.shared))
    }

    /// Queues `job`; starts a blocking-pool runner if fewer than `concurrency` run.
    pub fn submit(&self, job: Job) {
        let Ok(mut s) = self.shared.state.lock() else { return };
        s.queue.push_back(job);
        s.backlog += 1;
        if s.running < self.shared.cfg.concurrency.max(1) {
            s.running += 1;
            let shared = Arc::clone(&self.shared);
            drop(s);
            // Detached: `finish` waits for the running count, not for the handle.
            drop(self.runtime.spawn_blocking(move || runner(&shared)));
        }
    }

    /// Lets queued jobs finish, waits for every runner, and reports the first failure.
    pub fn finish(self) -> Result<(), String> {
        let Ok(mut s) = self.shared.state.lock() else {
            return Err("compactor state poisoned".into());
        };
        while s.running > 0 {
            s = match self.shared.changed.wait(s) {
                Ok(s) => s,
                Err(_) => return Err("compactor state poisoned".into()),
            };
        }
        s.error.clone().map_or(Ok(()), Err)
    }

    /// Counts `shard`, found compacted at startup, among the sealed shards retention
    /// keeps: without it a restarted node would never expire the shards it sealed
    /// before the restart.
    pub fn note_compacted(&self, shard: u64) {
        if self.shared.cfg.retain_shards.is_some() {
            if let Ok(mut s) = self.shared.state.lock() {
                s.sealed.insert(shard);
            }
        }
    }

    /// `--max-compaction-backlog`.
    pub fn backlog_limit(&self) -> usize {
        self.shared.cfg.backlog_max.max(1)
    }

    /// Waits while more than `backlog_max` shards wait for or are in compaction (or
    /// until a compaction fails, which the caller then sees in its status). Returns the
    /// backlog found and the time waited, if it waited.
    pub fn wait_backlog(&self) -> Option<(usize, Duration)> {
        let limit = self.backlog_limit();
        let mut s = self.shared.state.lock().ok()?;
        let found = s.backlog;
        if found <= limit || s.error.is_some() {
            return None;
        }
        let started = Instant::now();
        while s.backlog > limit && s.error.is_none() {
            s = self.shared.changed.wait(s).ok()?;
        }
        Some((found, started.elapsed()))
    }
}

/// Lowers the running count when a runner ends by failure or panic, so that `finish`
/// never waits for a runner that is gone. (A runner that finds the queue empty lowers
/// it itself, see [`next_job`].)
struct RunnerGuard<'a> {
    shared: &'a Shared,
    /// Still counted in `running`.
    counted: bool,
}

impl Drop for RunnerGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.shared.state.lock() {
            if self.counted {
                s.running -= 1;
            }
            if std::thread::panicking() {
                s.error.get_or_insert_with(|| "a compaction panicked".into());
            }
        }
        self.shared.changed.notify_all();
    }
}

/// One blocking-pool task: runs queued jobs until the queue is empty or one failed.
fn runner(shared: &Shared) {
    let mut guard = RunnerGuard { shared, counted: true };
    loop {
        let Some(job) = next_job(shared, &mut guard) else { return };
        let shard = job.shard;
        let result = run_job(shared, job).map_err(|e| e.to_string()).and_then(|()| retain(shared, shard));
        let failed = result.is_err();
        if let Ok(mut s) = shared.state.lock() {
            s.backlog -= 1;
            if let Err(e) = result {
                s.error.get_or_insert(e);
            }
        }
        shared.changed.notify_all();
        if failed {
            return;
        }
    }
}

/// The next queued job. With none left (or after a failure) the runner stops counting
/// as running in the same locked section that found the queue empty: otherwise a job
/// submitted between the two would see every runner still counted, start none, and
/// wait in the queue with nothing to run it (and the writer, in `wait_backlog`, for
/// ever).
fn next_job(shared: &Shared, guard: &mut RunnerGuard) -> Option<Job> {
    let mut s = shared.state.lock().ok()?;
    let job = if s.error.is_none() { s.queue.pop_front() } else { None };
    if job.is_none() {
        s.running -= 1;
        guard.counted = false;
    }
    job
}

/// Records `shard` as sealed and expires what `--retain-shards` no longer keeps.
fn retain(shared: &Shared, shard: u64) -> Result<(), String> {
    let Some(keep) = shared.cfg.retain_shards else { return Ok(()) };
    let expired = match shared.state.lock() {
        Ok(mut s) => {
            s.sealed.insert(shard);
            let expired = crate::retention::to_expire(&s.sealed, keep);
            expired.iter().for_each(|id| {
                s.sealed.remove(id);
            });
            expired
        }
        Err(_) => return Err("compactor state poisoned".into()),
    };
    for id in expired {
        let bytes = crate::retention::expire(&shared.cfg.root, id)
            .map_err(|e| format!("expiring shard {id} (--retain-shards): {e}"))?;
        shared.events.emit(NodeEvent::ShardExpired { shard: id, bytes });
        if let Ok(mut s) = shared.state.lock() {
            s.expired.push(id);
        }
    }
    Ok(())
}

fn run_job(shared: &Shared, job: Job) -> Result<(), CompactionError> {
    let mode = shared.cfg.mode;
    let wal_bytes = fs::metadata(job.dir.join(wal::FILE_NAME)).map_or(0, |m| m.len());
    shared.events.emit(NodeEvent::CompactionStart { shard: job.shard, mode: Some(mode), bytes: wal_bytes });
    let started = Instant::now();
    std::thread::sleep(shared.cfg.delay);
    let result = compact_shard(&job.dir, job.shard, mode, job.index, shared.cfg.chunk_bytes, shared.cfg.reads);
    let elapsed = started.elapsed();
    match &result {
        Ok(o) => {
            record(&shared.histograms.compaction, elapsed);
            shared.events.emit(NodeEvent::CompactionEnd(CompactionEnd {
                shard: job.shard,
                mode: Some(mode),
                bytes: o.bytes_in,
                bytes_out: o.bytes_out,
                records: o.records,
                duration_ms: elapsed.as_secs_f64() * 1e3,
            }));
        }
        Err(e) => shared.events.emit(NodeEvent::Error {
            stage: "compaction".into(),
            shard: Some(job.shard),
            message: e.to_string(),
        }),
    }
    result.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compactor(root: &Path, retain_shards: Option<u64>) -> (tokio::runtime::Runtime, Compactor) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let cfg = CompactorConfig {
            concurrency: 1,
            mode: CompactionMode::Streaming,
            chunk_bytes: 1 << 20,
            reads: streaming::Reads::InTurn,
            retain_shards,
            root: root.to_owned(),
            backlog_max: 4,
            delay: Duration::ZERO,
        };
        let events = Arc::new(Events::to_writer(std::io::sink()));
        let c = Compactor::start(cfg, runtime.handle().clone(), events, Arc::default());
        (runtime, c)
    }

    /// Regression: shards compacted before a restart were not counted by retention, so
    /// a node restarted with `--retain-shards` kept them for ever.
    #[test]
    fn shards_compacted_before_a_restart_still_expire() {
        let root = tempfile::tempdir().unwrap();
        for id in 0..3 {
            fs::create_dir_all(crate::store::shard_dir(root.path(), id)).unwrap();
        }
        let (_rt, c) = compactor(root.path(), Some(1));
        c.note_compacted(0);
        c.note_compacted(1);
        retain(&c.shared, 2).unwrap();
        for id in [0, 1] {
            assert!(crate::retention::is_expired(root.path(), id), "shard {id}");
            assert!(!crate::store::shard_dir(root.path(), id).exists(), "shard {id}");
        }
        assert!(crate::store::shard_dir(root.path(), 2).exists(), "the newest is kept");
        assert_eq!(c.status().take_expired(), [0, 1]);
    }

    #[test]
    fn without_retention_nothing_is_counted_or_expired() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(crate::store::shard_dir(root.path(), 0)).unwrap();
        let (_rt, c) = compactor(root.path(), None);
        c.note_compacted(0);
        retain(&c.shared, 1).unwrap();
        assert!(crate::store::shard_dir(root.path(), 0).exists());
        assert!(c.status().take_expired().is_empty());
    }
}

//! Compaction: turning a complete shard's WAL into a sorted, indexed segment.
//!
//! # Layout
//! - [`buffered`]: the pre-fix behaviour of the compaction-memory incident
//!   (everything in memory).
//! - [`streaming`]: the fix (offset index, on-demand reads, bounded chunks).
//! - this module: the shared commit protocol ([`compact_shard`]) and the bounded
//!   [`Compactor`] queue that limits concurrent compactions.
//!
//! Commit protocol, crash-safe at every step: write `sorted/segment.tmp` and fsync it;
//! rename to `sorted/segment.sbs` and fsync the directory; remove `staging.wal` and
//! fsync the shard directory. Startup treats a present `segment.sbs` as authoritative
//! and removes any leftover WAL or tmp file.

pub mod buffered;
pub mod streaming;

use std::collections::VecDeque;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

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
) -> Result<Outcome, CompactionError> {
    let wal_path = dir.join(wal::FILE_NAME);
    let sorted = dir.join(segment::DIR_NAME);
    fs::create_dir_all(&sorted).map_err(io_err(&sorted))?;
    let tmp = sorted.join(segment::TMP_NAME);
    let outcome = match mode {
        CompactionMode::Buffered => buffered::compact(&wal_path, &tmp, shard)?,
        CompactionMode::Streaming => streaming::compact(&wal_path, &tmp, shard, index)?,
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

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    running: usize,
    closed: bool,
    error: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    mode: CompactionMode,
    events: Arc<Events>,
    histograms: Arc<Histograms>,
}

/// Runs at most `concurrency` compactions at once; the rest wait in FIFO order.
pub struct Compactor {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
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
}

impl Compactor {
    pub fn start(
        concurrency: usize,
        mode: CompactionMode,
        events: Arc<Events>,
        histograms: Arc<Histograms>,
    ) -> std::io::Result<Compactor> {
        let shared = Arc::new(Shared { state: Mutex::default(), wake: Condvar::new(), mode, events, histograms });
        let workers = (0..concurrency.max(1))
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new().name(format!("compaction-{i}")).spawn(move || worker(&shared))
            })
            .collect::<Result<_, _>>()?;
        Ok(Compactor { shared, workers })
    }

    pub fn status(&self) -> CompactorStatus {
        CompactorStatus(Arc::clone(&self.shared))
    }

    pub fn submit(&self, job: Job) {
        if let Ok(mut s) = self.shared.state.lock() {
            s.queue.push_back(job);
        }
        self.shared.wake.notify_one();
    }

    /// Lets queued jobs finish, stops the workers, and reports the first failure.
    pub fn finish(self) -> Result<(), String> {
        if let Ok(mut s) = self.shared.state.lock() {
            s.closed = true;
        }
        self.shared.wake.notify_all();
        let status = self.status();
        for w in self.workers {
            if w.join().is_err() {
                return Err("a compaction thread panicked".into());
            }
        }
        status.error().map_or(Ok(()), Err)
    }
}

fn worker(shared: &Shared) {
    loop {
        let job = {
            let Ok(mut s) = shared.state.lock() else {
                return;
            };
            loop {
                if s.error.is_some() {
                    return;
                }
                if let Some(job) = s.queue.pop_front() {
                    s.running += 1;
                    break job;
                }
                if s.closed {
                    return;
                }
                s = match shared.wake.wait(s) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            }
        };
        let result = run_job(shared, job);
        if let Ok(mut s) = shared.state.lock() {
            s.running -= 1;
            if let Err(e) = result {
                s.error.get_or_insert(e.to_string());
            }
        }
        shared.wake.notify_all();
    }
}

fn run_job(shared: &Shared, job: Job) -> Result<(), CompactionError> {
    let wal_bytes = fs::metadata(job.dir.join(wal::FILE_NAME)).map_or(0, |m| m.len());
    shared.events.emit(NodeEvent::CompactionStart { shard: job.shard, mode: Some(shared.mode), bytes: wal_bytes });
    let started = Instant::now();
    let result = compact_shard(&job.dir, job.shard, shared.mode, job.index);
    let elapsed = started.elapsed();
    match &result {
        Ok(o) => {
            record(&shared.histograms.compaction, elapsed);
            shared.events.emit(NodeEvent::CompactionEnd(CompactionEnd {
                shard: job.shard,
                mode: Some(shared.mode),
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

//! The driver: replays the workload over the node's socket and measures each block's
//! ingest latency, from the moment its frame is handed to the socket to the moment the
//! node acknowledges it as durable.
//!
//! A sender thread generates blocks in the workload's arrival order and writes frames
//! over `--peers` connections (each sends `Hello`; the blocks of each arrival window
//! are dealt round-robin over them, as a node fetching from many peers receives them);
//! a receiver thread reads `Ack`/`Done`/`Error` frames from the first connection; the
//! calling thread supervises both against the deadline and the node's liveness. The
//! number of unacknowledged blocks is bounded (`max_in_flight`), so the driver can
//! never queue unbounded work. With `--duration` the sender stops after that long and
//! sends `Finish`: the run then expects exactly the blocks sent.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use syncbench_proto::frame::{write_block, write_frame, Frame, FrameReader, PROTOCOL_VERSION};
use syncbench_workloads::WorkloadSpec;

use super::acks::{AckBook, AckKind};
use super::feed::Feed;

use crate::latency::new_histogram;

/// Live counters read by the sampler and the progress display.
#[derive(Default)]
pub struct Progress {
    pub acked: AtomicU64,
    pub acked_bytes: AtomicU64,
}

/// How the exchange with the node ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverEnd {
    /// The node sent `Done`.
    Done,
    /// The node sent `Error`.
    NodeError(String),
    /// The connection broke (the node most likely died).
    Disconnected(String),
    /// The deadline passed.
    Timeout,
    /// The supervisor stopped the run (node exited, watchdog fired).
    Stopped,
}

pub struct DriverResult {
    pub end: DriverEnd,
    pub ingest: Histogram<u64>,
    /// Per-interval ingest histograms: (start since run start, length, V2+deflate bytes).
    pub intervals: Vec<(Duration, Duration, Vec<u8>)>,
    pub node_histograms: Vec<(String, Vec<u8>)>,
    /// First send to last acknowledgement.
    pub ingest_duration: Duration,
    /// What was sent and what the node acknowledged (checked, not believed).
    pub acks: AckBook,
}

/// Most block generator threads (see `feed`).
const MAX_FEED_THREADS: usize = 4;

/// Interval of the per-interval ingest histograms in the `.hlog`.
const INTERVAL: Duration = Duration::from_secs(1);

pub struct Driver<'a> {
    pub spec: &'a WorkloadSpec,
    pub socket: &'a Path,
    pub max_in_flight: u64,
    pub deadline: Instant,
    pub run_start: Instant,
    pub progress: Arc<Progress>,
    /// Set by the supervisor when the run must stop (node died, watchdog).
    pub stop: Arc<AtomicBool>,
    /// Connections to open (the node's `--peers`).
    pub peers: u64,
    /// Stop sending after this long.
    pub duration: Option<Duration>,
}

struct Shared {
    first_sent: std::sync::OnceLock<Instant>,
    sent_at: Mutex<HashMap<u64, (Instant, u64)>>,
    book: Mutex<AckBook>,
    in_flight: Mutex<u64>,
    room: Condvar,
}

enum Incoming {
    Ack(Vec<u64>, Instant),
    Done(Vec<(String, Vec<u8>)>),
    Error(String),
    Broken(String),
}

impl Driver<'_> {
    pub fn run(&self) -> Result<DriverResult> {
        let streams = (0..self.peers.max(1))
            .map(|i| {
                UnixStream::connect(self.socket)
                    .with_context(|| format!("connecting to node at {} (peer {i})", self.socket.display()))
            })
            .collect::<Result<Vec<_>>>()?;
        let read_half = streams[0].try_clone().context("cloning the node socket")?;
        let controls = streams.iter().map(|s| s.try_clone()).collect::<std::io::Result<Vec<_>>>();
        let controls = controls.context("cloning the node socket")?;
        let shared = Arc::new(Shared {
            first_sent: std::sync::OnceLock::new(),
            sent_at: Mutex::new(HashMap::new()),
            book: Mutex::new(AckBook::new(self.spec.start_height, self.spec.blocks)),
            in_flight: Mutex::new(0),
            room: Condvar::new(),
        });
        let (tx, rx) = mpsc::channel();
        thread::Builder::new().name("driver-recv".into()).spawn(move || receive(read_half, tx))?;
        let sender = {
            let (shared, spec, stop) = (Arc::clone(&shared), self.spec.clone(), Arc::clone(&self.stop));
            let (max, duration) = (self.max_in_flight, self.duration);
            thread::Builder::new()
                .name("driver-send".into())
                .spawn(move || send(streams, &spec, &shared, max, duration, &stop))?
        };
        let result = self.supervise(&rx, &shared);
        self.stop.store(true, Ordering::Relaxed);
        shared.room.notify_all();
        // A node that stopped reading (hung, or dead with the socket still open) leaves
        // the sender blocked in write(); shutting the socket down wakes it with EPIPE.
        controls.iter().for_each(|c| drop(c.shutdown(std::net::Shutdown::Both)));
        sender.thread().unpark();
        let _ = sender.join();
        result
    }

    fn supervise(&self, rx: &mpsc::Receiver<Incoming>, shared: &Shared) -> Result<DriverResult> {
        let mut ingest = new_histogram();
        let mut interval = new_histogram();
        let mut interval_start = self.run_start.elapsed();
        let mut intervals = Vec::new();
        let mut last_ack = None::<Instant>;
        let end = loop {
            if Instant::now() >= self.deadline {
                break DriverEnd::Timeout;
            }
            if self.stop.load(Ordering::Relaxed) || crate::signals::received().is_some() {
                break DriverEnd::Stopped;
            }
            let now_offset = self.run_start.elapsed();
            if now_offset >= interval_start + INTERVAL {
                rotate(&mut interval, &mut intervals, interval_start, now_offset);
                interval_start = now_offset;
            }
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Incoming::Ack(blocks, at)) => {
                    last_ack = Some(at);
                    self.acknowledge(shared, &blocks, at, &mut ingest, &mut interval);
                }
                Ok(Incoming::Done(h)) => {
                    rotate(&mut interval, &mut intervals, interval_start, self.run_start.elapsed());
                    return Ok(DriverResult {
                        end: DriverEnd::Done,
                        ingest,
                        intervals,
                        node_histograms: h,
                        ingest_duration: ingest_duration(shared, last_ack),
                        acks: book_of(shared),
                    });
                }
                Ok(Incoming::Error(m)) => break DriverEnd::NodeError(m),
                Ok(Incoming::Broken(m)) => break DriverEnd::Disconnected(m),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break DriverEnd::Disconnected("receiver stopped".into()),
            }
        };
        rotate(&mut interval, &mut intervals, interval_start, self.run_start.elapsed());
        Ok(DriverResult {
            end,
            ingest,
            intervals,
            node_histograms: Vec::new(),
            ingest_duration: ingest_duration(shared, last_ack),
            acks: book_of(shared),
        })
    }

    fn acknowledge(
        &self,
        shared: &Shared,
        blocks: &[u64],
        at: Instant,
        ingest: &mut Histogram<u64>,
        interval: &mut Histogram<u64>,
    ) {
        let (mut bytes, mut new) = (0, 0);
        if let (Ok(mut sent), Ok(mut book)) = (shared.sent_at.lock(), shared.book.lock()) {
            for b in blocks {
                // Only the first acknowledgement of a block that was sent counts; the
                // book records duplicates and unknown numbers as protocol violations.
                if book.ack(*b) != AckKind::New {
                    continue;
                }
                new += 1;
                if let Some((t, size)) = sent.remove(b) {
                    let us = at.saturating_duration_since(t).as_micros() as u64;
                    ingest.saturating_record(us.max(1));
                    interval.saturating_record(us.max(1));
                    bytes += size;
                }
            }
        }
        self.progress.acked.fetch_add(new, Ordering::Relaxed);
        self.progress.acked_bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Ok(mut n) = shared.in_flight.lock() {
            *n = n.saturating_sub(new);
        }
        shared.room.notify_all();
    }
}

fn book_of(shared: &Shared) -> AckBook {
    shared.book.lock().map(|b| b.clone()).unwrap_or_else(|p| p.into_inner().clone())
}

/// First block sent to last acknowledgement.
fn ingest_duration(shared: &Shared, last_ack: Option<Instant>) -> Duration {
    match (shared.first_sent.get(), last_ack) {
        (Some(&first), Some(last)) => last.saturating_duration_since(first),
        _ => Duration::ZERO,
    }
}

fn rotate(h: &mut Histogram<u64>, out: &mut Vec<(Duration, Duration, Vec<u8>)>, start: Duration, now: Duration) {
    if h.is_empty() {
        return;
    }
    let mut bytes = Vec::new();
    if V2DeflateSerializer::new().serialize(h, &mut bytes).is_ok() {
        out.push((start, now.saturating_sub(start), bytes));
    }
    h.reset();
}

fn receive(read_half: UnixStream, tx: mpsc::Sender<Incoming>) {
    let mut frames = FrameReader::new(BufReader::new(read_half));
    loop {
        let msg = match frames.read_frame() {
            Ok(Some(Frame::Ack { blocks })) => Incoming::Ack(blocks, Instant::now()),
            Ok(Some(Frame::Done { histograms })) => Incoming::Done(histograms),
            Ok(Some(Frame::Error { message })) => Incoming::Error(message),
            Ok(Some(other)) => Incoming::Broken(format!("unexpected frame from node: {other:?}")),
            Ok(None) => Incoming::Broken("node closed the connection".into()),
            Err(e) => Incoming::Broken(e.to_string()),
        };
        let last = !matches!(msg, Incoming::Ack(..));
        if tx.send(msg).is_err() || last {
            return;
        }
    }
}

fn send(
    streams: Vec<UnixStream>,
    spec: &WorkloadSpec,
    shared: &Shared,
    max_in_flight: u64,
    duration: Option<Duration>,
    stop: &AtomicBool,
) {
    // Small enough that typical block payloads bypass it (one write(2) each, no extra
    // copy); large enough to coalesce runs of tiny early-chain blocks.
    let mut outs: Vec<BufWriter<UnixStream>> =
        streams.into_iter().map(|s| BufWriter::with_capacity(64 << 10, s)).collect();
    let hello = Frame::Hello { version: PROTOCOL_VERSION, first_block: spec.start_height, block_count: spec.blocks };
    for out in &mut outs {
        if write_frame(out, &hello).and_then(|_| out.flush()).is_err() {
            return;
        }
    }
    let threads = thread::available_parallelism().map_or(2, |n| n.get()).min(MAX_FEED_THREADS);
    let pacer = Pacer::new(spec);
    let mut latency_rng = spec.seed;
    let mut sent_bytes = 0u64;
    let mut next_peer = 0;
    let ends_at = duration.and_then(|d| Instant::now().checked_add(d));
    for block in Feed::start(spec, threads) {
        if ends_at.is_some_and(|t| Instant::now() >= t) {
            if let Ok(mut book) = shared.book.lock() {
                book.end_early();
            }
            break;
        }
        if block.window_start {
            pacer.window_delay(&mut latency_rng, stop);
        }
        if !wait_for_room(shared, max_in_flight, stop) {
            return;
        }
        let now = Instant::now();
        shared.first_sent.get_or_init(|| now);
        if let (Ok(mut s), Ok(mut book)) = (shared.sent_at.lock(), shared.book.lock()) {
            s.insert(block.number, (now, block.bytes.len() as u64));
            book.sent(block.number);
        }
        let peer = next_peer;
        next_peer = (next_peer + 1) % outs.len();
        if write_block(&mut outs[peer], block.number, &block.bytes).is_err() {
            return;
        }
        sent_bytes += block.bytes.len() as u64;
        pacer.throttle(sent_bytes, stop);
        // Hand each arrival window to the node now rather than when the buffers fill.
        if block.window_end && outs.iter_mut().any(|o| o.flush().is_err()) {
            return;
        }
    }
    for out in &mut outs {
        let _ = write_frame(out, &Frame::Finish).and_then(|_| out.flush());
    }
}

/// Waits until fewer than `max` blocks are unacknowledged; false if the run stopped.
fn wait_for_room(shared: &Shared, max: u64, stop: &AtomicBool) -> bool {
    let Ok(mut n) = shared.in_flight.lock() else {
        return false;
    };
    while *n >= max {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        n = match shared.room.wait_timeout(n, Duration::from_millis(100)) {
            Ok((n, _)) => n,
            Err(_) => return false,
        };
    }
    *n += 1;
    !stop.load(Ordering::Relaxed)
}

/// The workload's arrival pacing: optional rate limit and per-window fetch latency.
struct Pacer {
    start: Instant,
    rate_bytes_per_s: Option<f64>,
    window_latency: Option<syncbench_workloads::dist::Dist>,
}

impl Pacer {
    fn new(spec: &WorkloadSpec) -> Pacer {
        Pacer {
            start: Instant::now(),
            rate_bytes_per_s: spec.arrival.rate_limit_mib_per_s.map(|r| r * 1024.0 * 1024.0),
            window_latency: spec.arrival.batch_latency_ms.clone(),
        }
    }

    fn throttle(&self, sent_bytes: u64, stop: &AtomicBool) {
        if let Some(rate) = self.rate_bytes_per_s {
            // The spec bounds the rate from below; an out-of-range result still only
            // means "wait until stopped", never a panic.
            let due = Duration::try_from_secs_f64(sent_bytes as f64 / rate).unwrap_or(Duration::MAX);
            if let Some(wait) = due.checked_sub(self.start.elapsed()) {
                sleep_unless_stopped(wait, stop);
            }
        }
    }

    fn window_delay(&self, state: &mut u64, stop: &AtomicBool) {
        if let Some(d) = &self.window_latency {
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut rng = syncbench_workloads::rng::SplitMix64::new(*state);
            sleep_unless_stopped(Duration::from_millis(d.sample(&mut rng)), stop);
        }
    }
}

/// Sleeps for `wait` unless the run stops first (the supervisor sets `stop` at the
/// deadline and unparks the sender): a pacing sleep never outlives the run.
fn sleep_unless_stopped(wait: Duration, stop: &AtomicBool) {
    crate::time::park_until(Instant::now().checked_add(wait), stop);
}

//! The node's main loop: recover the store, listen, serve one ingest session.
//!
//! One session per process: the driver opens `--peers` connections, each sends `Hello`
//! (the same block range) and then its share of the blocks, and `Finish`; the node
//! acknowledges durable blocks and ends with `Done` on the first connection. The
//! socket is created 0600 and only a peer with the node's own uid (checked with
//! `SO_PEERCRED`) is served.
//!
//! A storing session runs on a tokio multi-thread runtime (`--worker-threads`): one
//! task per peer reads and decodes ([`crate::peer`]), a pool of verify threads hashes,
//! the batch writer thread appends and fdatasyncs, and compactions run on the
//! runtime's blocking pool.

use std::fs;
use std::io::BufReader;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use syncbench_proto::frame::{write_frame, Frame, FrameReader, PROTOCOL_VERSION, PROTOCOL_VERSION_SINGLE};

use crate::alloc_stats::AllocatorStats;
use crate::compaction::{Compactor, CompactorConfig};
use crate::config::Config;
use crate::events::{Build, Events, NodeEvent, NodeStart, NodeSummary, QueueDepths, Stats};
use crate::heap_profile::Capture;
use crate::histograms::Histograms;
use crate::peer::PeerShared;
use crate::pipeline::{
    async_queue, hash_worker, queue, AsyncQueueReceiver, Counters, Ingested, QueueReceiver, QueueSender,
};
use crate::store::{RecoveryNote, Store};
use crate::unstored::{send_frame, sink, wait_readable, AckStream};
use crate::writer::{self, BatchWriter, WriterParts};
use crate::NodeError;

/// Socket read buffer of the blocking readers (`--sink`, `--lie`). Small on purpose:
/// reads larger than the buffer (every mainnet block payload) bypass it and land
/// directly in the payload's own allocation; small frames are still batched.
const READ_BUFFER_BYTES: usize = 64 << 10;

/// How long the node waits for each further peer connection after the first.
const PEER_ACCEPT_TIMEOUT_MS: i32 = 30_000;

/// Live-heap sampling period for the peak: summing the counting allocator's slots
/// costs about a microsecond, so 2 ms is ~0.05 % of a core.
const HEAP_PEAK_TICK: Duration = Duration::from_millis(2);

/// How often a RocksDB store's memory and running jobs are read (see `engine`).
const ENGINE_POLL: Duration = Duration::from_millis(crate::events::ENGINE_POLL_MS);

pub fn run(cfg: &Config, alloc: &'static dyn AllocatorStats) -> Result<(), NodeError> {
    let events = Arc::new(Events::stdout());
    events.emit(NodeEvent::NodeStart(Box::new(NodeStart {
        pid: std::process::id(),
        allocator: alloc.name().into(),
        allocator_version: alloc.version(),
        node_version: env!("CARGO_PKG_VERSION").into(),
        shard_size: cfg.shard_size,
        writer_batch: cfg.writer_batch,
        compaction: cfg.compaction,
        compaction_concurrency: cfg.compaction_concurrency,
        hash_threads: cfg.hash_threads(),
        worker_threads: Some(cfg.worker_threads()),
        peers: Some(cfg.peers),
        cache_mib: Some(cfg.cache_mib),
        retain_shards: cfg.retain_shards,
        max_compaction_backlog: Some(cfg.max_compaction_backlog),
        compaction_readers: Some(cfg.compaction_readers),
        compaction_window_bytes: Some(cfg.compaction_reads().window_bytes() as u64),
        chunk_bytes: Some(cfg.chunk_bytes),
        queue_blocks: Some(cfg.queue_blocks),
        max_batch_delay_ms: Some(cfg.max_batch_delay_ms),
        mode: Some(cfg.mode()),
        store: Some(cfg.store),
        engine_malloc: crate::engine_malloc::probe(alloc),
        build: Some(Build::this()),
        allocator_env: Some(crate::self_report::allocator_env()),
    })));
    // Held to the end of `run`: the node's whole life (see `fault::retain_mib`).
    let _retained = crate::fault::retain_mib(cfg.inject_retained_mib);
    let store = open_store(cfg, &events)?;
    let listener = bind(cfg)?;
    // Only the file name: events end up in committed results, which must not carry
    // this machine's paths.
    let socket_name = cfg.socket.file_name().map(|n| n.to_string_lossy().into_owned());
    events.emit(NodeEvent::Ready { socket: socket_name });
    let (stream, _) = listener.accept().map_err(|e| NodeError::io(&cfg.socket, e))?;
    check_peer(&stream)?;
    let session = Session { cfg, events: Arc::clone(&events), alloc };
    let result = session.serve(listener, stream, store);
    let _ = fs::remove_file(&cfg.socket);
    if let Err(e) = &result {
        events.emit(NodeEvent::Error { stage: "session".into(), shard: None, message: e.to_string() });
    }
    result
}

/// The store a session writes to, as opened (and recovered) at startup.
enum OpenStore {
    Native(Store, std::collections::BTreeMap<u64, crate::store::ShardOnDisk>),
    #[cfg(feature = "rocksdb")]
    Rocks(crate::rocks::Opened),
}

fn open_store(cfg: &Config, events: &Events) -> Result<OpenStore, NodeError> {
    match cfg.store {
        crate::mode::StoreKind::Native => {
            let (store, recovered, notes) = Store::open(&cfg.data, cfg.shard_size)?;
            report_recovery(events, &recovered, &notes);
            Ok(OpenStore::Native(store, recovered))
        }
        #[cfg(feature = "rocksdb")]
        crate::mode::StoreKind::Rocksdb => {
            let jobs = cfg.compaction_concurrency + 1;
            let (engine, stored) = crate::rocks::Engine::open(&cfg.data, cfg.shard_size, cfg.cache_mib, jobs)?;
            let blocks = stored.values().map(|v| v.len() as u64).sum();
            events.emit(NodeEvent::Recovery { shards_sealed: 0, shards_open: stored.len() as u64, blocks });
            Ok(OpenStore::Rocks((engine, stored)))
        }
        #[cfg(not(feature = "rocksdb"))]
        crate::mode::StoreKind::Rocksdb => {
            Err(NodeError::Protocol("--store rocksdb: this binary was built without RocksDB".into()))
        }
    }
}

fn report_recovery(
    events: &Events,
    recovered: &std::collections::BTreeMap<u64, crate::store::ShardOnDisk>,
    notes: &[RecoveryNote],
) {
    for note in notes {
        match note {
            RecoveryNote::TornTail { shard, file, tail } => events.emit(NodeEvent::WalTornTail {
                shard: *shard,
                file: file.display().to_string(),
                offset: tail.offset,
                bytes: tail.bytes,
                reason: tail.reason.into(),
            }),
            RecoveryNote::OrphanRemoved { shard, file } => {
                events.emit(NodeEvent::OrphanRemoved { shard: *shard, file: file.display().to_string() })
            }
        }
    }
    let (mut sealed, mut open, mut blocks) = (0, 0, 0);
    for s in recovered.values() {
        match s {
            crate::store::ShardOnDisk::Sealed { numbers } => (sealed, blocks) = (sealed + 1, blocks + numbers.len()),
            crate::store::ShardOnDisk::Open { entries, .. } => (open, blocks) = (open + 1, blocks + entries.len()),
        }
    }
    events.emit(NodeEvent::Recovery { shards_sealed: sealed, shards_open: open, blocks: blocks as u64 });
}

fn bind(cfg: &Config) -> Result<UnixListener, NodeError> {
    let path = &cfg.socket;
    if path.exists() {
        fs::remove_file(path).map_err(|e| NodeError::io(path, e))?;
    }
    let listener = UnixListener::bind(path).map_err(|e| NodeError::io(path, e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|e| NodeError::io(path, e))?;
    Ok(listener)
}

/// Refuses peers running as another user.
fn check_peer(stream: &UnixStream) -> Result<(), NodeError> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes and sized for SO_PEERCRED.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    // SAFETY: getuid has no preconditions.
    let me = unsafe { libc::getuid() };
    if rc != 0 || cred.uid != me {
        return Err(NodeError::Protocol(format!("refusing peer with uid {} (node runs as {me})", cred.uid)));
    }
    Ok(())
}

struct Session<'a> {
    cfg: &'a Config,
    events: Arc<Events>,
    alloc: &'static dyn AllocatorStats,
}

/// The running stages of a storing session, joined in [`Pipeline::finish`].
struct Pipeline {
    hashers: Vec<JoinHandle<()>>,
    writer: JoinHandle<Result<Option<BatchWriter>, NodeError>>,
    stats: JoinHandle<()>,
    /// `--churn-threads`: joined before the stats thread stops, so its end is sampled.
    churn: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicI64>,
}

type WriterHandle = JoinHandle<Result<Option<BatchWriter>, NodeError>>;

impl Pipeline {
    /// Waits for every stage; the writer's error wins over the receiver's (the
    /// receiver only saw the pipeline stop).
    fn finish(self, received: Result<(), NodeError>) -> Result<i64, NodeError> {
        for h in self.hashers {
            let _ = h.join();
        }
        let written = self.writer.join().map_err(|_| NodeError::Protocol("writer thread panicked".into()))?;
        let finished = match (received, written) {
            (_, Err(e)) | (Err(e), Ok(_)) => Err(e),
            (Ok(()), Ok(Some(w))) => w.shutdown(),
            (Ok(()), Ok(None)) => Ok(()),
        };
        if let Some(c) = self.churn {
            let _ = c.join();
        }
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.stats.join();
        finished.map(|()| self.peak.load(Ordering::Relaxed))
    }
}

impl Session<'_> {
    fn serve(&self, listener: UnixListener, stream: UnixStream, store: OpenStore) -> Result<(), NodeError> {
        let cfg = self.cfg;
        let out = Arc::new(Mutex::new(AckStream::new(stream.try_clone().map_err(NodeError::Disconnected)?)));
        let range = self.handshake(&stream, &out)?;
        let peers = self.accept_peers(&listener, stream, range, &out)?;
        drop(listener);
        let _ = fs::remove_file(&cfg.socket);
        if let Some(lie) = cfg.lie {
            let merged = merge_peers(peers).map_err(NodeError::Disconnected)?;
            let mut frames = FrameReader::new(BufReader::with_capacity(READ_BUFFER_BYTES, merged));
            return crate::liar::serve(lie, &mut frames, &out, cfg.writer_batch as usize, range, &self.events);
        }
        if cfg.sink {
            let frames = peers.into_iter().map(|s| FrameReader::new(BufReader::with_capacity(READ_BUFFER_BYTES, s)));
            return sink(frames.collect(), &out, cfg.writer_batch as usize, &self.events);
        }
        self.store_session(peers, out, range, store)
    }

    /// Accepts the other `--peers - 1` connections; each must announce the first's range.
    fn accept_peers(
        &self,
        listener: &UnixListener,
        first: UnixStream,
        range: (u64, u64),
        out: &Mutex<AckStream>,
    ) -> Result<Vec<UnixStream>, NodeError> {
        let mut peers = vec![first];
        while (peers.len() as u64) < self.cfg.peers {
            if !wait_readable(listener.as_raw_fd(), PEER_ACCEPT_TIMEOUT_MS) {
                let msg = format!("expected {} peer connections, got {} within 30 s", self.cfg.peers, peers.len());
                return Err(self.refuse(out, msg));
            }
            let (stream, _) = listener.accept().map_err(|e| NodeError::io(&self.cfg.socket, e))?;
            check_peer(&stream)?;
            let theirs = self.handshake(&stream, out)?;
            if theirs != range {
                let msg = format!("peer {} announced blocks {theirs:?}, the first peer {range:?}", peers.len());
                return Err(self.refuse(out, msg));
            }
            peers.push(stream);
        }
        Ok(peers)
    }

    /// A storing session on the node's runtime; see the module docs.
    fn store_session(
        &self,
        peers: Vec<UnixStream>,
        out: Arc<Mutex<AckStream>>,
        range: (u64, u64),
        store: OpenStore,
    ) -> Result<(), NodeError> {
        let cfg = self.cfg;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cfg.worker_threads())
            .thread_name("runtime-worker")
            .enable_io()
            .build()
            .map_err(NodeError::Spawn)?;
        let histograms = Arc::new(Histograms::default());
        let counters = Arc::new(Counters::default());
        let cap = cfg.queue_blocks as usize;
        let (verify_tx, verify_rx, verify_depth) = async_queue::<Ingested>(cap);
        let (write_tx, write_rx, write_depth) = queue::<Ingested>(cap);
        let (writer, compaction_status, engine) = match store {
            _ if cfg.null_writer => (self.spawn_null_writer(write_rx, &out, &counters)?, None, None),
            OpenStore::Native(store, recovered) => {
                let handle = runtime.handle().clone();
                let (writer, status) =
                    self.spawn_writer(store, recovered, range, write_rx, &out, &counters, &histograms, handle)?;
                (writer, Some(status), None)
            }
            #[cfg(feature = "rocksdb")]
            OpenStore::Rocks((db, stored)) => {
                let engine = Some(Arc::clone(&db) as Arc<dyn crate::engine::EngineProbe>);
                let parts = crate::rocks::writer::RocksParts {
                    engine: db,
                    stored,
                    range,
                    writer_batch: cfg.writer_batch as usize,
                    max_delay: Duration::from_millis(cfg.max_batch_delay_ms),
                    retain_shards: cfg.retain_shards,
                    events: Arc::clone(&self.events),
                    histograms: Arc::clone(&histograms),
                    counters: Arc::clone(&counters),
                    acks: Arc::clone(&out),
                };
                (spawn_rocks_writer(parts, write_rx)?, None, engine)
            }
        };
        let hashers = self.spawn_hashers(verify_rx, write_tx)?;
        let (stop, peak) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicI64::new(self.alloc.heap().live_bytes)));
        let stats =
            self.spawn_stats(Arc::clone(&stop), Arc::clone(&counters), Arc::clone(&peak), engine, move || {
                let (queued, running) = compaction_status.as_ref().map_or((0, 0), |s| s.depth());
                QueueDepths {
                    queue_hash: verify_depth.load(Ordering::Relaxed) as u64,
                    queue_write: write_depth.load(Ordering::Relaxed) as u64,
                    compactions_queued: queued as u64,
                    compactions_running: running as u64,
                }
            })?;
        let churn = cfg.churn().map(|c| crate::churn::start(c, Arc::clone(&self.events))).transpose()?;
        let shared = Arc::new(PeerShared {
            counters: Arc::clone(&counters),
            verify: verify_tx,
            fault: cfg.fault.map(|f| (f, cfg.fault_at_block)),
            leak_bytes_per_block: cfg.inject_leak_bytes_per_block,
            seen: Default::default(),
        });
        let received = runtime.block_on(receive_all(peers, shared));
        let peak = Pipeline { hashers, writer, stats, churn, stop, peak }.finish(received)?;
        self.events.emit(NodeEvent::NodeSummary(self.summary(&counters, peak)));
        send_frame(&out, &Frame::Done { histograms: histograms.serialize() })
    }

    /// Reads `Hello` (unbuffered: nothing after it may be consumed here) and returns the
    /// announced block range; refuses anything else.
    fn handshake(&self, stream: &UnixStream, out: &Mutex<AckStream>) -> Result<(u64, u64), NodeError> {
        match FrameReader::new(stream).read_frame()? {
            Some(Frame::Hello { version, .. }) if version == PROTOCOL_VERSION_SINGLE && self.cfg.peers > 1 => Err(self
                .refuse(
                    out,
                    format!(
                        "protocol version 1 has one connection; this node expects {} peers (version 2)",
                        self.cfg.peers
                    ),
                )),
            Some(Frame::Hello { version, first_block, block_count })
                if version == PROTOCOL_VERSION || version == PROTOCOL_VERSION_SINGLE =>
            {
                let end = first_block
                    .checked_add(block_count)
                    .ok_or_else(|| NodeError::Protocol("block range overflows".into()))?;
                Ok((first_block, end))
            }
            Some(Frame::Hello { version, .. }) => Err(self.refuse(
                out,
                format!(
                    "protocol version {version} not supported (want {PROTOCOL_VERSION} or {PROTOCOL_VERSION_SINGLE})"
                ),
            )),
            other => Err(self.refuse(out, format!("expected Hello, got {other:?}"))),
        }
    }

    /// The batch writer on its own thread, with the compactor it feeds.
    #[allow(clippy::too_many_arguments)]
    fn spawn_writer(
        &self,
        store: Store,
        recovered: std::collections::BTreeMap<u64, crate::store::ShardOnDisk>,
        range: (u64, u64),
        input: QueueReceiver<Ingested>,
        out: &Arc<Mutex<AckStream>>,
        counters: &Arc<Counters>,
        histograms: &Arc<Histograms>,
        runtime: tokio::runtime::Handle,
    ) -> Result<(WriterHandle, crate::compaction::CompactorStatus), NodeError> {
        let cfg = self.cfg;
        let compactor_cfg = CompactorConfig {
            concurrency: cfg.compaction_concurrency as usize,
            mode: cfg.compaction,
            chunk_bytes: cfg.chunk_bytes as usize,
            reads: cfg.compaction_reads(),
            retain_shards: cfg.retain_shards,
            root: store.root.clone(),
            backlog_max: cfg.max_compaction_backlog as usize,
            delay: Duration::from_millis(cfg.compaction_delay_ms),
        };
        let compactor = Compactor::start(compactor_cfg, runtime, Arc::clone(&self.events), Arc::clone(histograms));
        let status = compactor.status();
        let parts = WriterParts {
            store,
            range,
            writer_batch: cfg.writer_batch as usize,
            max_delay: Duration::from_millis(cfg.max_batch_delay_ms),
            compactor,
            events: Arc::clone(&self.events),
            histograms: Arc::clone(histograms),
            counters: Arc::clone(counters),
            acks: Arc::clone(out),
            cache_budget_bytes: cfg.cache_mib << 20,
        };
        let writer = BatchWriter::new(parts, recovered)?;
        let handle = thread::Builder::new()
            .name("writer".into())
            .spawn(move || writer.run(input).map(Some))
            .map_err(NodeError::Spawn)?;
        Ok((handle, status))
    }

    /// The verify (hash) workers. Only they may hold the verify queue's receiving end
    /// (and the write queue's sending end): when they all stop (the writer failed, e.g.
    /// disk full), the peer tasks' next send fails instead of waiting forever on a full
    /// queue nobody drains.
    fn spawn_hashers(
        &self,
        verify_rx: AsyncQueueReceiver<Ingested>,
        write_tx: QueueSender<Ingested>,
    ) -> Result<Vec<JoinHandle<()>>, NodeError> {
        let verify_rx = Arc::new(Mutex::new(verify_rx));
        (0..self.cfg.hash_threads())
            .map(|i| {
                let (rx, tx, burn) = (Arc::clone(&verify_rx), write_tx.clone(), self.cfg.burn_cpu_us_per_block);
                thread::Builder::new()
                    .name(format!("verify-{i}"))
                    .spawn(move || hash_worker(rx, tx, burn))
                    .map_err(NodeError::Spawn)
            })
            .collect()
    }

    /// The node's account of a finished storing session.
    fn summary(&self, counters: &Counters, peak: i64) -> NodeSummary {
        let end = self.alloc.heap();
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let opened = load(&counters.wal_files_opened);
        NodeSummary {
            blocks_received: load(&counters.blocks_received),
            blocks_durable: load(&counters.blocks_durable),
            bytes_received: Some(load(&counters.bytes_received)),
            wal_payload_bytes_written: Some(load(&counters.wal_bytes_written)),
            direct_io: (opened > 0).then(|| load(&counters.wal_files_buffered) == 0),
            heap_live_bytes: Some(end.live_bytes),
            heap_live_peak_bytes: Some(peak.max(end.live_bytes)),
            alloc_count: Some(end.alloc_count),
            alloc_bytes_total: Some(end.alloc_bytes_total),
            self_report: Some(crate::self_report::read()),
            lie: false,
        }
    }

    /// The stats thread: samples the live heap every [`HEAP_PEAK_TICK`] into `peak`
    /// (the peak in `stats` events and `node_summary` is exact to that resolution) and
    /// emits a `stats` event every `--stats-interval-ms`.
    fn spawn_stats(
        &self,
        stop: Arc<AtomicBool>,
        counters: Arc<Counters>,
        peak: Arc<AtomicI64>,
        engine: Option<Arc<dyn crate::engine::EngineProbe>>,
        queues: impl Fn() -> QueueDepths + Send + 'static,
    ) -> Result<JoinHandle<()>, NodeError> {
        let (events, alloc, interval) =
            (Arc::clone(&self.events), self.alloc, Duration::from_millis(self.cfg.stats_interval_ms));
        let mut capture = self.heap_capture()?;
        thread::Builder::new()
            .name("stats".into())
            .spawn(move || {
                let tick = HEAP_PEAK_TICK.min(interval);
                let mut waited = Duration::ZERO;
                let (mut jobs, mut polled) = (crate::engine::JobWatch::default(), Instant::now());
                let mut memory = None;
                while !stop.load(Ordering::Relaxed) {
                    thread::sleep(tick);
                    if let Some(e) = engine.as_ref().filter(|_| polled.elapsed() >= ENGINE_POLL) {
                        let m = e.memory();
                        jobs.observe(&m, &events);
                        (memory, polled) = (Some(m), Instant::now());
                    }
                    let heap = alloc.heap();
                    peak.fetch_max(heap.live_bytes, Ordering::Relaxed);
                    if let Some(c) = capture.as_mut() {
                        c.tick(heap.live_bytes, Instant::now(), &events);
                    }
                    waited += tick;
                    if waited < interval {
                        continue;
                    }
                    waited = Duration::ZERO;
                    events.emit(NodeEvent::Stats(Box::new(Stats {
                        queues: queues(),
                        blocks_received: counters.blocks_received.load(Ordering::Relaxed),
                        blocks_durable: counters.blocks_durable.load(Ordering::Relaxed),
                        heap_live_bytes: Some(heap.live_bytes),
                        heap_live_peak_bytes: Some(peak.load(Ordering::Relaxed)),
                        alloc_count: heap.alloc_count,
                        alloc_bytes_total: heap.alloc_bytes_total,
                        allocator: Some(alloc.internal()),
                        engine: memory,
                    })));
                }
                jobs.finish(&events);
                if let Some(c) = capture {
                    c.finish(alloc.heap().live_bytes, &events);
                }
            })
            .map_err(NodeError::Spawn)
    }

    /// The heap-profile capture `--heap-profile-dir` asks for (`main` has checked that
    /// this binary has a profiler).
    fn heap_capture(&self) -> Result<Option<Capture>, NodeError> {
        let (Some(cfg), Some(profiler)) = (self.cfg.heap_capture(), self.alloc.heap_profiler()) else {
            return Ok(None);
        };
        let dir = cfg.dir.clone();
        Capture::new(cfg, profiler, Instant::now()).map(Some).map_err(|e| NodeError::io(&dir, e))
    }

    /// The `--null-writer` stage in place of the batch writer (see [`writer::run_null`]).
    fn spawn_null_writer(
        &self,
        input: QueueReceiver<Ingested>,
        out: &Arc<Mutex<AckStream>>,
        counters: &Arc<Counters>,
    ) -> Result<WriterHandle, NodeError> {
        let (acks, counters) = (Arc::clone(out), Arc::clone(counters));
        let (batch, delay) = (self.cfg.writer_batch as usize, Duration::from_millis(self.cfg.max_batch_delay_ms));
        thread::Builder::new()
            .name("writer".into())
            .spawn(move || writer::run_null(input, &acks, batch, delay, &counters).map(|()| None))
            .map_err(NodeError::Spawn)
    }

    fn refuse(&self, out: &Mutex<AckStream>, message: String) -> NodeError {
        if let Ok(mut o) = out.lock() {
            let _ = write_frame(&mut *o, &Frame::Error { message: message.clone() });
        }
        NodeError::Protocol(message)
    }
}

/// The RocksDB batch writer on its own thread (it finishes its own work: `None`).
#[cfg(feature = "rocksdb")]
fn spawn_rocks_writer(
    parts: crate::rocks::writer::RocksParts,
    input: QueueReceiver<Ingested>,
) -> Result<WriterHandle, NodeError> {
    let writer = crate::rocks::writer::RocksWriter::new(parts)?;
    thread::Builder::new()
        .name("writer".into())
        .spawn(move || writer.run(input).map(|()| None))
        .map_err(NodeError::Spawn)
}

/// Runs one task per peer until every peer sent `Finish`; the first failure stops the
/// others (their streams close, the driver sees the `Error` or the disconnect).
async fn receive_all(peers: Vec<UnixStream>, shared: Arc<PeerShared>) -> Result<(), NodeError> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, stream) in peers.into_iter().enumerate() {
        stream.set_nonblocking(true).map_err(NodeError::Disconnected)?;
        let stream = tokio::net::UnixStream::from_std(stream).map_err(NodeError::Disconnected)?;
        tasks.spawn(crate::peer::serve(stream, i, Arc::clone(&shared)));
    }
    // Only the tasks hold the verify queue's sender now: when they end, it closes.
    drop(shared);
    while let Some(done) = tasks.join_next().await {
        let failed = match done {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e,
            Err(e) => NodeError::Protocol(format!("a peer task failed: {e}")),
        };
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        return Err(failed);
    }
    Ok(())
}

/// One stream carrying every peer's frames, whole, ending with a single `Finish` once
/// all peers finished (or disconnected): for the lying nodes, which read one stream.
fn merge_peers(peers: Vec<UnixStream>) -> std::io::Result<UnixStream> {
    let (merged, writer) = UnixStream::pair()?;
    let writer = Arc::new(Mutex::new(writer));
    let remaining = Arc::new(std::sync::atomic::AtomicUsize::new(peers.len()));
    for (i, peer) in peers.into_iter().enumerate() {
        let (writer, remaining) = (Arc::clone(&writer), Arc::clone(&remaining));
        thread::Builder::new().name(format!("merge-{i}")).spawn(move || {
            let mut frames = FrameReader::new(BufReader::with_capacity(READ_BUFFER_BYTES, peer));
            while let Ok(Some(frame)) = frames.read_frame() {
                if frame == Frame::Finish {
                    break;
                }
                let Ok(mut w) = writer.lock() else { return };
                if write_frame(&mut *w, &frame).is_err() {
                    return;
                }
            }
            if remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
                if let Ok(mut w) = writer.lock() {
                    let _ = write_frame(&mut *w, &Frame::Finish);
                }
            }
        })?;
    }
    Ok(merged)
}

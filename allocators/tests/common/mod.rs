//! Helpers for tests that drive the real node binaries over their real socket.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;
use syncbench_proto::frame::{write_block, write_frame, Frame, FrameReader, PROTOCOL_VERSION};
use syncbench_workloads::{ArrivalOrder, Generator, WorkloadSpec};

pub fn bin(alloc: &str) -> &'static str {
    match alloc {
        "glibc" => env!("CARGO_BIN_EXE_node-glibc"),
        "jemalloc" => env!("CARGO_BIN_EXE_node-jemalloc"),
        _ => env!("CARGO_BIN_EXE_node-mimalloc"),
    }
}

/// A small-block workload (~5 KB blocks) so tests move many blocks quickly.
pub fn small_spec(blocks: u64, shard_size: u64) -> WorkloadSpec {
    let text = format!(
        r#"name = "test-small"
blocks = {blocks}
start_height = 7
shard_size = {shard_size}
seed = 11
[block]
header_bytes = {{ dist = "const", value = 500 }}
txs_per_block = {{ dist = "uniform", min = 1, max = 12 }}
tx_bytes = {{ dist = "lognormal", median = 150, sigma = 0.5, max = 2000 }}
logs_per_block = {{ dist = "uniform", min = 0, max = 40 }}
topics_per_log = {{ dist = "uniform", min = 1, max = 4 }}
log_data_bytes = {{ dist = "lognormal", median = 40, sigma = 0.5, max = 400 }}
[arrival]
window = 16
"#
    );
    syncbench_workloads::spec::parse(&text, "test-small.toml", Path::new(".")).expect("test spec")
}

pub struct Node {
    pub child: Child,
    pub events: Arc<Mutex<Vec<Value>>>,
    pub socket: PathBuf,
}

impl Node {
    /// Starts `bin` and waits (bounded) until it listens.
    pub fn start(bin: &str, data: &Path, socket: &Path, shard_size: u64, extra: &[&str], env: &[(&str, &str)]) -> Node {
        let mut cmd = Command::new(bin);
        cmd.args(["--data", &data.display().to_string(), "--socket", &socket.display().to_string()])
            .args(["--shard-size", &shard_size.to_string(), "--stats-interval-ms", "50"])
            .args(extra)
            .env_remove("MALLOC_ARENA_MAX")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawning node");
        let events = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let ev = Arc::clone(&events);
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    ev.lock().unwrap().push(v);
                }
            }
        });
        Node { child, events, socket: socket.to_owned() }
    }

    pub fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.has_event("ready") {
                return true;
            }
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            thread::sleep(Duration::from_millis(2));
        }
        panic!("node did not become ready within 30 s");
    }

    pub fn has_event(&self, name: &str) -> bool {
        self.events.lock().unwrap().iter().any(|e| e["event"] == name)
    }

    pub fn events_named(&self, name: &str) -> Vec<Value> {
        self.events.lock().unwrap().iter().filter(|e| e["event"] == name).cloned().collect()
    }

    pub fn connect(&self) -> UnixStream {
        UnixStream::connect(&self.socket).expect("connecting to node")
    }

    /// `n` connections, for a node started with `--peers n`.
    pub fn connect_peers(&self, n: usize) -> Vec<UnixStream> {
        (0..n).map(|_| self.connect()).collect()
    }

    pub fn stderr(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
        }
        s
    }
}

/// Streams the blocks of `spec` not in `skip` and collects acknowledgements until the
/// connection ends. Returns the sender and receiver threads' handles.
pub struct Session {
    pub acked: Arc<Mutex<BTreeSet<u64>>>,
    pub done: Arc<Mutex<Option<Frame>>>,
    sender: JoinHandle<()>,
    receiver: JoinHandle<()>,
    /// Every connection, kept open until the session is dropped: a sender that stops
    /// early (a limit) must not close its peers (the node would see a disconnect).
    _open: Vec<UnixStream>,
}

impl Session {
    /// Sends at most `limit` blocks (all when `None`); `Finish` only when `finish`.
    pub fn start(
        stream: UnixStream,
        spec: &WorkloadSpec,
        skip: &BTreeSet<u64>,
        limit: Option<usize>,
        finish: bool,
    ) -> Session {
        Session::start_peers(vec![stream], spec, skip, limit, finish)
    }

    /// [`Session::start`] over several connections (a node with `--peers`): each sends
    /// `Hello`, blocks are dealt round-robin, acknowledgements come on the first.
    pub fn start_peers(
        streams: Vec<UnixStream>,
        spec: &WorkloadSpec,
        skip: &BTreeSet<u64>,
        limit: Option<usize>,
        finish: bool,
    ) -> Session {
        let acked = Arc::new(Mutex::new(BTreeSet::new()));
        let done = Arc::new(Mutex::new(None));
        let read = streams[0].try_clone().unwrap();
        let open = streams.iter().map(|s| s.try_clone().unwrap()).collect();
        let receiver = {
            let (acked, done) = (Arc::clone(&acked), Arc::clone(&done));
            thread::spawn(move || {
                let mut frames = FrameReader::new(BufReader::new(read));
                while let Ok(Some(f)) = frames.read_frame() {
                    match f {
                        Frame::Ack { blocks } => acked.lock().unwrap().extend(blocks),
                        other => {
                            *done.lock().unwrap() = Some(other);
                            return;
                        }
                    }
                }
            })
        };
        let (spec, skip) = (spec.clone(), skip.clone());
        let sender = thread::spawn(move || {
            let mut outs: Vec<_> = streams.into_iter().map(BufWriter::new).collect();
            let hello =
                Frame::Hello { version: PROTOCOL_VERSION, first_block: spec.start_height, block_count: spec.blocks };
            for out in &mut outs {
                if write_frame(out, &hello).and_then(|_| out.flush()).is_err() {
                    return;
                }
            }
            let mut next = 0;
            let mut gen = Generator::new(&spec);
            let mut order = ArrivalOrder::new(spec.start_height, spec.blocks, spec.arrival.window, spec.seed);
            let (mut w, mut buf) = (Vec::new(), Vec::new());
            let mut budget = limit.unwrap_or(usize::MAX);
            while order.next_window(&mut w) {
                for &n in w.iter().filter(|n| !skip.contains(n)) {
                    if budget == 0 {
                        outs.iter_mut().for_each(|o| drop(o.flush()));
                        return;
                    }
                    budget -= 1;
                    gen.block(n, &mut buf);
                    let peer = next;
                    next = (next + 1) % outs.len();
                    if write_block(&mut outs[peer], n, &buf).is_err() {
                        return;
                    }
                }
                if outs.iter_mut().any(|o| o.flush().is_err()) {
                    return;
                }
            }
            if finish {
                for out in &mut outs {
                    let _ = write_frame(out, &Frame::Finish).and_then(|_| out.flush());
                }
            }
        });
        Session { acked, done, sender, receiver, _open: open }
    }

    pub fn acked_count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    pub fn join(self) -> (BTreeSet<u64>, Option<Frame>) {
        let _ = self.sender.join();
        let _ = self.receiver.join();
        let acked = self.acked.lock().unwrap().clone();
        let done = self.done.lock().unwrap().take();
        (acked, done)
    }
}

/// Reads every acknowledged block back and compares it with the generator; also checks
/// every stored block (acknowledged or not) is byte-identical. Returns blocks checked.
pub fn verify(data: &Path, spec: &WorkloadSpec, acked: &BTreeSet<u64>) -> usize {
    let (stored, mut reader) = open_store(data);
    let stored: BTreeSet<u64> = stored.into_iter().collect();
    let missing: Vec<_> = acked.difference(&stored).take(10).collect();
    assert!(missing.is_empty(), "acknowledged blocks missing after recovery: {missing:?}");
    let mut gen = Generator::new(spec);
    let (mut want, mut got) = (Vec::new(), Vec::new());
    for &n in &stored {
        assert!(reader(n, &mut got), "block {n} listed but unreadable");
        gen.block(n, &mut want);
        assert!(got == want, "block {n} differs from the generator");
    }
    stored.len()
}

/// A reader of block `n` into a buffer (`false`: not stored).
type BlockReader = Box<dyn FnMut(u64, &mut Vec<u8>) -> bool>;

/// The blocks stored in `data` and a reader, whichever store the directory holds.
fn open_store(data: &Path) -> (Vec<u64>, BlockReader) {
    #[cfg(feature = "rocksdb")]
    if syncbench_node::store::kind_of(data).unwrap() == Some(syncbench_node::config::StoreKind::Rocksdb) {
        let reader = syncbench_node::rocks::Reader::open(data).expect("opening the RocksDB store");
        let stored = reader.stored_numbers().expect("listing store");
        return (stored, Box::new(move |n, buf| reader.get(n, buf).expect("reading block")));
    }
    let mut reader = syncbench_node::store::Reader::open(data).expect("opening store");
    let stored = reader.stored_numbers().expect("listing store");
    (stored, Box::new(move |n, buf| reader.get(n, buf).expect("reading block")))
}

/// Waits for `child` with wait4 and returns (exit code, signal, max RSS bytes).
pub fn wait4(child: &Child) -> (Option<i32>, Option<i32>, u64) {
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(rc, child.id() as i32);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let sig = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
    (code, sig, usage.ru_maxrss as u64 * 1024)
}

/// Every file below `dir`.
pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

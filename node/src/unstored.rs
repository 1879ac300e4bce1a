//! Sessions that store nothing: `--sink` (acknowledges on receipt) and the frame
//! helpers it shares with the lying nodes (`liar`): one socket writer and one
//! skim-and-acknowledge receive loop.

use std::io::{self, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

use syncbench_proto::frame::{write_frame, Frame, FrameReader, Skimmed};

use crate::events::{Events, NodeEvent, NodeSummary};
use crate::NodeError;

/// The node's writing end of the first connection (acknowledgements, `Done`, `Error`).
///
/// The same socket is read by a runtime task, which makes it non-blocking, and the
/// flag is shared by every descriptor of the socket; so a write that would block waits
/// here (poll for POLLOUT) instead of failing with `WouldBlock`.
pub struct AckStream(UnixStream);

/// Longest one poll for POLLOUT waits before it is repeated (a driver that stops reading
/// for good is seen as a broken pipe once it exits).
const POLL_MS: i32 = 1_000;

impl AckStream {
    pub fn new(stream: UnixStream) -> AckStream {
        AckStream(stream)
    }

    fn wait_writable(&self) -> io::Result<()> {
        let mut fd = libc::pollfd { fd: self.0.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
        // SAFETY: one valid pollfd, count 1.
        let rc = unsafe { libc::poll(&mut fd, 1, POLL_MS) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(())
    }
}

impl Write for AckStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.0.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait_writable()?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// `--sink`: acknowledges blocks in batches as they arrive, stores nothing. Each peer
/// connection is read on its own scoped thread; all acknowledge on `out`.
pub fn sink(
    peers: Vec<FrameReader<BufReader<UnixStream>>>,
    out: &Mutex<AckStream>,
    batch: usize,
    events: &Events,
) -> Result<(), NodeError> {
    let ack = |blocks: Vec<u64>| {
        let n = blocks.len() as u64;
        send_frame(out, &Frame::Ack { blocks }).map(|()| n)
    };
    let results: Vec<Result<(u64, u64), NodeError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = peers
            .into_iter()
            .map(|mut frames| scope.spawn(move || receive_unstored(&mut frames, batch, Until::Finish, ack)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(NodeError::Protocol("sink thread panicked".into()))))
            .collect()
    });
    let mut received = 0;
    for r in results {
        received += r?.0;
    }
    events.emit(NodeEvent::NodeSummary(NodeSummary {
        blocks_received: received,
        self_report: Some(crate::self_report::read()),
        ..NodeSummary::default()
    }));
    send_frame(out, &Frame::Done { histograms: Vec::new() })
}

/// Sends one frame to the driver under the socket lock.
pub fn send_frame(out: &Mutex<AckStream>, frame: &Frame) -> Result<(), NodeError> {
    let mut o = out.lock().map_err(|_| NodeError::Protocol("socket lock poisoned".into()))?;
    write_frame(&mut *o, frame).and_then(|_| o.flush()).map_err(NodeError::Disconnected)
}

/// How far [`receive_unstored`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    Finish,
    FirstBlock,
}

/// Skims blocks without decoding or storing them until `Finish` (or the first block),
/// handing every `batch` numbers — the rest before it would wait for more input, and
/// at `Finish` — to `ack`. Returns (blocks received, the sum of what `ack` returned).
/// The loop of `--sink` and of the lying nodes (`liar`).
///
/// Acknowledging before waiting matters with many peers: each connection carries a
/// share of the blocks, and a driver that bounds its unacknowledged blocks stops
/// sending long before any one connection has a full batch.
pub fn receive_unstored(
    frames: &mut FrameReader<BufReader<UnixStream>>,
    batch: usize,
    until: Until,
    ack: impl Fn(Vec<u64>) -> Result<u64, NodeError>,
) -> Result<(u64, u64), NodeError> {
    let (mut pending, mut scratch) = (Vec::with_capacity(batch), Vec::new());
    let (mut received, mut acked) = (0u64, 0u64);
    loop {
        if !pending.is_empty() && nothing_to_read(frames) {
            acked += ack(std::mem::take(&mut pending))?;
        }
        match frames.skim_frame(&mut scratch)? {
            Some(Skimmed::Block(_)) if until == Until::FirstBlock => return Ok((received + 1, acked)),
            Some(Skimmed::Block(number)) => {
                received += 1;
                pending.push(number);
                if pending.len() >= batch {
                    acked += ack(std::mem::take(&mut pending))?;
                }
            }
            Some(Skimmed::Other(Frame::Finish)) => {
                if !pending.is_empty() {
                    acked += ack(pending)?;
                }
                return Ok((received, acked));
            }
            Some(other) => return Err(NodeError::Protocol(format!("unexpected frame {other:?}"))),
            None => return Err(NodeError::Protocol("driver disconnected before Finish".into())),
        }
    }
}

/// True if the next read would wait: nothing buffered and nothing on the socket.
fn nothing_to_read(frames: &FrameReader<BufReader<UnixStream>>) -> bool {
    let reader = frames.get_ref();
    reader.buffer().is_empty() && !wait_readable(reader.get_ref().as_raw_fd(), 0)
}

/// Waits up to `timeout_ms` for `fd` to become readable (0: only looks). False on
/// timeout or on an error, which the read or accept that follows then reports; an
/// interrupted wait is retried.
pub fn wait_readable(fd: std::os::fd::RawFd, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    loop {
        // SAFETY: one valid pollfd, count 1.
        match unsafe { libc::poll(&mut p, 1, timeout_ms) } {
            -1 if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => continue,
            rc => return rc > 0,
        }
    }
}

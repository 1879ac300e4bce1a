//! A peer connection: one runtime task per connection reads frames, decodes each block
//! into owned structures on whichever worker thread runs it, and queues it for
//! verification.
//!
//! A chain-sync node fetches from many peers at once; the driver spreads each arrival
//! window over `--peers` connections. The reader here is the asynchronous twin of
//! [`syncbench_proto::FrameReader`] and shares its header checks
//! ([`syncbench_proto::frame::body_len`], [`syncbench_proto::frame::check_kind`]: the
//! length bounded and the kind known before any buffer is allocated); a block's payload
//! is read straight into its own allocation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use syncbench_proto::frame::{body_len, check_kind, parse_small_body, Frame, FrameError, KIND_BLOCK};
use syncbench_proto::Block;
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio::net::UnixStream;

use crate::fault::{self, Fault};
use crate::pipeline::{AsyncQueueSender, Counters, Ingested};
use crate::NodeError;

/// Socket read buffer per peer: reads larger than it (every mainnet block payload)
/// bypass it and land directly in the payload's own allocation.
const READ_BUFFER_BYTES: usize = 64 << 10;

/// What every peer task shares.
pub struct PeerShared {
    pub counters: Arc<Counters>,
    pub verify: AsyncQueueSender<Ingested>,
    /// `--fault` at the `--fault-at-block`-th block received over all peers.
    pub fault: Option<(Fault, u64)>,
    pub leak_bytes_per_block: u64,
    /// Blocks received over all peers (for `--fault-at-block`).
    pub seen: AtomicU64,
}

/// Serves one peer until its `Finish`. `stream` has already sent its `Hello`.
pub async fn serve(stream: UnixStream, peer: usize, shared: Arc<PeerShared>) -> Result<(), NodeError> {
    let mut r = BufReader::with_capacity(READ_BUFFER_BYTES, stream);
    loop {
        match read_frame(&mut r).await? {
            Some(Frame::Block { number, payload }) => accept(&shared, number, payload).await?,
            Some(Frame::Finish) => return Ok(()),
            Some(other) => return Err(NodeError::Protocol(format!("peer {peer}: unexpected frame {other:?}"))),
            None => return Err(NodeError::Protocol(format!("peer {peer}: driver disconnected before Finish"))),
        }
    }
}

/// Decodes one block and queues it; `Err` if the pipeline behind stopped.
async fn accept(shared: &PeerShared, number: u64, payload: Vec<u8>) -> Result<(), NodeError> {
    let count = shared.seen.fetch_add(1, Ordering::Relaxed) + 1;
    if let Some((f, _)) = shared.fault.filter(|&(_, at)| at == count) {
        fault::trigger(f);
    }
    if shared.leak_bytes_per_block > 0 {
        // black_box: a leaked allocation nothing reads may be removed by the optimizer
        // (allocation elision), which it did in one build — the knob then leaked nothing.
        std::hint::black_box(Box::leak(vec![0xA5u8; shared.leak_bytes_per_block as usize].into_boxed_slice()));
    }
    let block = Block::decode(&payload).map_err(|e| NodeError::Protocol(format!("block frame {number}: {e}")))?;
    if block.number != number {
        return Err(NodeError::Protocol(format!("frame says block {number}, payload says {}", block.number)));
    }
    shared.counters.blocks_received.fetch_add(1, Ordering::Relaxed);
    shared.counters.bytes_received.fetch_add(payload.len() as u64, Ordering::Relaxed);
    let item = Ingested { number, payload, block, hashes: None };
    if shared.verify.send(item).await.is_err() {
        return Err(NodeError::Protocol("pipeline stopped (see earlier error)".into()));
    }
    Ok(())
}

/// Reads the next frame; `Ok(None)` on a clean end of stream between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<Frame>, FrameError> {
    let mut len_buf = [0u8; 4];
    let got = read_full(r, &mut len_buf).await?;
    if got == 0 {
        return Ok(None);
    }
    if got < 4 {
        return Err(FrameError::Truncated { expected: 4, got });
    }
    let body_len = body_len(len_buf)?;
    let mut kind = [0u8; 1];
    exact(r, &mut kind).await?;
    check_kind(kind[0], body_len)?;
    if kind[0] != KIND_BLOCK {
        let mut body = vec![0u8; body_len];
        exact(r, &mut body).await?;
        return parse_small_body(kind[0], &body).map(Some);
    }
    let mut number = [0u8; 8];
    exact(r, &mut number).await?;
    let want = body_len - 8;
    let mut payload = Vec::with_capacity(want);
    let got = (&mut *r).take(want as u64).read_to_end(&mut payload).await?;
    if got < want {
        return Err(FrameError::Truncated { expected: want, got });
    }
    Ok(Some(Frame::Block { number: u64::from_le_bytes(number), payload }))
}

async fn exact<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> Result<(), FrameError> {
    let got = read_full(r, buf).await?;
    if got < buf.len() {
        return Err(FrameError::Truncated { expected: buf.len(), got });
    }
    Ok(())
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]).await {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syncbench_proto::frame::{write_block, write_frame};

    fn read_all(bytes: Vec<u8>) -> Vec<Result<Option<Frame>, String>> {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(async {
            let mut r = &bytes[..];
            let mut out = Vec::new();
            loop {
                let f = read_frame(&mut r).await.map_err(|e| e.to_string());
                let end = !matches!(f, Ok(Some(_)));
                out.push(f);
                if end {
                    return out;
                }
            }
        })
    }

    #[test]
    fn reads_what_the_blocking_writer_wrote() {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, &Frame::Hello { version: 1, first_block: 5, block_count: 2 }).unwrap();
        write_block(&mut bytes, 5, &[1, 2, 3]).unwrap();
        write_frame(&mut bytes, &Frame::Finish).unwrap();
        let frames = read_all(bytes);
        assert_eq!(frames[0], Ok(Some(Frame::Hello { version: 1, first_block: 5, block_count: 2 })));
        assert_eq!(frames[1], Ok(Some(Frame::Block { number: 5, payload: vec![1, 2, 3] })));
        assert_eq!(frames[2], Ok(Some(Frame::Finish)));
        assert_eq!(frames[3], Ok(None));
    }

    #[test]
    fn an_oversized_length_is_refused_before_allocating() {
        let mut bytes = (syncbench_proto::frame::MAX_FRAME_BYTES + 1).to_le_bytes().to_vec();
        bytes.push(KIND_BLOCK);
        let frames = read_all(bytes);
        assert!(frames[0].as_ref().unwrap_err().contains("out of range"), "{frames:?}");
    }

    #[test]
    fn an_unknown_kind_is_refused_before_its_body_is_read() {
        let mut bytes = 1_000u32.to_le_bytes().to_vec();
        bytes.push(99);
        let frames = read_all(bytes);
        assert_eq!(frames[0], Err("unknown frame kind 99".to_owned()));
    }

    #[test]
    fn a_truncated_block_is_an_error() {
        let mut bytes = Vec::new();
        write_block(&mut bytes, 9, &[7; 100]).unwrap();
        bytes.truncate(bytes.len() - 10);
        let frames = read_all(bytes);
        assert!(frames[0].as_ref().unwrap_err().contains("expected 100 bytes, got 90"), "{frames:?}");
    }
}

//! Frames exchanged between the driver and the node over the Unix socket.
//!
//! The driver sends `Hello`, then `Block`s in arrival order, then `Finish`; the node
//! answers each durable writer batch with an `Ack` listing the block numbers that are now
//! on disk (fdatasync'd), and ends with `Done` carrying its latency histograms, or with
//! `Error` if it gives up.
//!
//! ## Format
//! All integers little-endian.
//! ```text
//! frame   = body_len u32 (1..=MAX_FRAME_BYTES) | kind u8 | body (body_len - 1 bytes)
//! Hello   kind 1: version u32 | first_block u64 | block_count u64
//! Block   kind 2: number u64 | payload (an encoded block, see `block`)
//! Finish  kind 3: (empty)
//! Ack     kind 4: count u32 | number u64{count}
//! Done    kind 5: count u16 | (name_len u8 | name | data_len u32 | data){count}
//! Error   kind 6: UTF-8 message
//! ```
//! `body_len` counts the kind byte. It is validated before any buffer is allocated.

use std::io::{self, Read, Write};

use crate::block::MAX_BLOCK_BYTES;
use crate::bytes::Cursor;

/// Version the driver announces in `Hello`. Version 2: a session may span several
/// connections (the node's `--peers`), each opened with the same `Hello`, blocks spread
/// over them, `Ack`/`Done`/`Error` on the first. A version-1 node (one connection)
/// refuses version 2 at once, instead of reading one connection while the driver
/// waits on the others; the node still serves version 1 on a single connection.
pub const PROTOCOL_VERSION: u32 = 2;
/// The single-connection protocol, still accepted by a node with one peer.
pub const PROTOCOL_VERSION_SINGLE: u32 = 1;
/// Largest `body_len` accepted: one maximal block plus its number and kind byte.
pub const MAX_FRAME_BYTES: u32 = (MAX_BLOCK_BYTES + 64) as u32;

const KIND_HELLO: u8 = 1;
/// Kind byte of a `Block` frame (readers outside this module parse its body themselves).
pub const KIND_BLOCK: u8 = 2;
const KIND_FINISH: u8 = 3;
const KIND_ACK: u8 = 4;
const KIND_DONE: u8 = 5;
const KIND_ERROR: u8 = 6;

/// One protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Hello { version: u32, first_block: u64, block_count: u64 },
    Block { number: u64, payload: Vec<u8> },
    Finish,
    Ack { blocks: Vec<u64> },
    Done { histograms: Vec<(String, Vec<u8>)> },
    Error { message: String },
}

/// A frame read by [`FrameReader::skim_frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skimmed {
    /// A block frame; its payload was discarded.
    Block(u64),
    Other(Frame),
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("i/o error reading frame: {0}")]
    Io(#[from] io::Error),
    #[error("frame length {len} out of range 1..={max}")]
    BadLength { len: u32, max: u32 },
    #[error("connection closed inside a frame: expected {expected} bytes, got {got}")]
    Truncated { expected: usize, got: usize },
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    #[error("malformed {kind} frame: {what}")]
    Malformed { kind: &'static str, what: &'static str },
}

/// Reads frames from a byte stream.
pub struct FrameReader<R> {
    inner: R,
}

impl<R: Read> FrameReader<R> {
    pub fn new(inner: R) -> Self {
        FrameReader { inner }
    }

    /// The underlying reader (e.g. to see whether a buffered reader holds more bytes).
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Reads the next frame; `Ok(None)` on a clean end of stream between frames.
    pub fn read_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some((kind, body_len)) = self.read_header()? else {
            return Ok(None);
        };
        match kind {
            KIND_BLOCK => self.read_block(body_len).map(Some),
            k => self.read_small(k, body_len).map(Some),
        }
    }

    /// Like [`FrameReader::read_frame`], but a block's payload is read into `scratch`
    /// (reused across calls) and only its number is returned: for readers that discard
    /// payloads (the null node), without an allocation per block.
    pub fn skim_frame(&mut self, scratch: &mut Vec<u8>) -> Result<Option<Skimmed>, FrameError> {
        let Some((kind, body_len)) = self.read_header()? else {
            return Ok(None);
        };
        match kind {
            KIND_BLOCK => {
                scratch.resize(body_len, 0);
                self.exact(scratch)?;
                let number = u64::from_le_bytes(scratch[..8].try_into().unwrap_or_default());
                Ok(Some(Skimmed::Block(number)))
            }
            k => self.read_small(k, body_len).map(|f| Some(Skimmed::Other(f))),
        }
    }

    /// Reads and checks a frame header: `Ok(None)` at a clean end of stream, else the
    /// kind and the body length ([`body_len`], then [`check_kind`]). The length is
    /// checked before the kind is even read.
    fn read_header(&mut self) -> Result<Option<(u8, usize)>, FrameError> {
        let mut len_buf = [0u8; 4];
        let got = read_full(&mut self.inner, &mut len_buf)?;
        if got == 0 {
            return Ok(None);
        }
        if got < 4 {
            return Err(FrameError::Truncated { expected: 4, got });
        }
        let body_len = body_len(len_buf)?;
        let mut kind = [0u8; 1];
        self.exact(&mut kind)?;
        check_kind(kind[0], body_len)?;
        Ok(Some((kind[0], body_len)))
    }

    /// Reads and parses a non-block frame body (all small).
    fn read_small(&mut self, kind: u8, body_len: usize) -> Result<Frame, FrameError> {
        let mut body = vec![0u8; body_len];
        self.exact(&mut body)?;
        parse_small(kind, &body)
    }

    /// Reads a block body straight into its own payload buffer (no intermediate copy);
    /// [`check_kind`] has made sure it holds a block number.
    fn read_block(&mut self, body_len: usize) -> Result<Frame, FrameError> {
        let mut number = [0u8; 8];
        self.exact(&mut number)?;
        // Read into spare capacity: no zero-fill of a buffer that is overwritten at once.
        let want = body_len - 8;
        let mut payload = Vec::with_capacity(want);
        let got = (&mut self.inner).take(want as u64).read_to_end(&mut payload)?;
        if got < want {
            return Err(FrameError::Truncated { expected: want, got });
        }
        Ok(Frame::Block { number: u64::from_le_bytes(number), payload })
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), FrameError> {
        let got = read_full(&mut self.inner, buf)?;
        if got < buf.len() {
            return Err(FrameError::Truncated { expected: buf.len(), got });
        }
        Ok(())
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The body length (kind byte excluded) a frame's 4-byte length prefix announces,
/// checked against [`MAX_FRAME_BYTES`] before anything is allocated. Every reader of
/// the protocol calls it: [`FrameReader`] here, the node's asynchronous peer reader.
pub fn body_len(len_prefix: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_le_bytes(len_prefix);
    if len == 0 || len > MAX_FRAME_BYTES {
        return Err(FrameError::BadLength { len, max: MAX_FRAME_BYTES });
    }
    Ok(len as usize - 1)
}

/// Checks a frame's kind against its body length before any of the body is read: a
/// kind the protocol knows, and a block long enough to hold its number.
pub fn check_kind(kind: u8, body_len: usize) -> Result<(), FrameError> {
    match kind {
        KIND_BLOCK if body_len < 8 => Err(FrameError::Malformed { kind: "Block", what: "shorter than a block number" }),
        KIND_BLOCK => Ok(()),
        k if is_small(k) => Ok(()),
        other => Err(FrameError::UnknownKind(other)),
    }
}

/// Parses the body of a frame other than `Block` whose header passed [`body_len`] and
/// [`check_kind`], for readers that read the body themselves (the node's peer reader).
pub fn parse_small_body(kind: u8, body: &[u8]) -> Result<Frame, FrameError> {
    if !is_small(kind) {
        return Err(FrameError::UnknownKind(kind));
    }
    parse_small(kind, body)
}

fn is_small(kind: u8) -> bool {
    matches!(kind, KIND_HELLO | KIND_FINISH | KIND_ACK | KIND_DONE | KIND_ERROR)
}

fn parse_small(kind: u8, body: &[u8]) -> Result<Frame, FrameError> {
    let mut c = Cursor::new(body);
    let frame = match kind {
        KIND_HELLO => {
            let bad = || FrameError::Malformed { kind: "Hello", what: "truncated" };
            let version = c.u32().ok_or_else(bad)?;
            let first_block = c.u64().ok_or_else(bad)?;
            let block_count = c.u64().ok_or_else(bad)?;
            Frame::Hello { version, first_block, block_count }
        }
        KIND_FINISH => Frame::Finish,
        KIND_ACK => parse_ack(&mut c)?,
        KIND_DONE => parse_done(&mut c)?,
        KIND_ERROR => Frame::Error { message: String::from_utf8_lossy(body).into_owned() },
        _ => unreachable!("caller matched the kind"),
    };
    if c.remaining() != 0 && kind != KIND_ERROR {
        return Err(FrameError::Malformed { kind: kind_name(kind), what: "trailing bytes" });
    }
    Ok(frame)
}

fn parse_ack(c: &mut Cursor) -> Result<Frame, FrameError> {
    let bad = |what| FrameError::Malformed { kind: "Ack", what };
    let count = c.u32().ok_or_else(|| bad("truncated count"))? as usize;
    if count.checked_mul(8) != Some(c.remaining()) {
        return Err(bad("count does not match body length"));
    }
    let blocks = (0..count).map(|_| c.u64().unwrap_or_default()).collect();
    Ok(Frame::Ack { blocks })
}

fn parse_done(c: &mut Cursor) -> Result<Frame, FrameError> {
    let bad = |what| FrameError::Malformed { kind: "Done", what };
    let count = c.u16().ok_or_else(|| bad("truncated count"))?;
    let mut histograms = Vec::new();
    for _ in 0..count {
        let name_len = c.u8().ok_or_else(|| bad("truncated name length"))?;
        let name = c.take(usize::from(name_len)).ok_or_else(|| bad("truncated name"))?;
        let name = std::str::from_utf8(name).map_err(|_| bad("name is not UTF-8"))?;
        let data_len = c.u32().ok_or_else(|| bad("truncated data length"))? as usize;
        let data = c.take(data_len).ok_or_else(|| bad("truncated histogram"))?;
        histograms.push((name.to_owned(), data.to_vec()));
    }
    Ok(Frame::Done { histograms })
}

fn kind_name(kind: u8) -> &'static str {
    match kind {
        KIND_HELLO => "Hello",
        KIND_BLOCK => "Block",
        KIND_FINISH => "Finish",
        KIND_ACK => "Ack",
        KIND_DONE => "Done",
        _ => "Error",
    }
}

/// Writes one block frame without copying the payload into a temporary buffer.
pub fn write_block(w: &mut impl Write, number: u64, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len() + 9)
        .ok()
        .filter(|&l| l <= MAX_FRAME_BYTES)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "block exceeds MAX_FRAME_BYTES"))?;
    let mut head = [0u8; 13];
    head[..4].copy_from_slice(&len.to_le_bytes());
    head[4] = KIND_BLOCK;
    head[5..].copy_from_slice(&number.to_le_bytes());
    w.write_all(&head)?;
    w.write_all(payload)
}

/// Writes any frame. Block frames should use [`write_block`] to avoid a copy.
pub fn write_frame(w: &mut impl Write, frame: &Frame) -> io::Result<()> {
    let mut body = Vec::new();
    let kind = match frame {
        Frame::Block { number, payload } => return write_block(w, *number, payload),
        Frame::Hello { version, first_block, block_count } => {
            body.extend_from_slice(&version.to_le_bytes());
            body.extend_from_slice(&first_block.to_le_bytes());
            body.extend_from_slice(&block_count.to_le_bytes());
            KIND_HELLO
        }
        Frame::Finish => KIND_FINISH,
        Frame::Ack { blocks } => {
            body.extend_from_slice(&(blocks.len() as u32).to_le_bytes());
            blocks.iter().for_each(|b| body.extend_from_slice(&b.to_le_bytes()));
            KIND_ACK
        }
        Frame::Done { histograms } => {
            encode_done(&mut body, histograms)?;
            KIND_DONE
        }
        Frame::Error { message } => {
            body.extend_from_slice(message.as_bytes());
            KIND_ERROR
        }
    };
    let len = u32::try_from(body.len() + 1)
        .ok()
        .filter(|&l| l <= MAX_FRAME_BYTES)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame exceeds MAX_FRAME_BYTES"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(&[kind])?;
    w.write_all(&body)
}

fn encode_done(body: &mut Vec<u8>, histograms: &[(String, Vec<u8>)]) -> io::Result<()> {
    let invalid = |what| io::Error::new(io::ErrorKind::InvalidInput, what);
    let count = u16::try_from(histograms.len()).map_err(|_| invalid("too many histograms"))?;
    body.extend_from_slice(&count.to_le_bytes());
    for (name, data) in histograms {
        let name_len = u8::try_from(name.len()).map_err(|_| invalid("histogram name too long"))?;
        body.push(name_len);
        body.extend_from_slice(name.as_bytes());
        let data_len = u32::try_from(data.len()).map_err(|_| invalid("histogram too large"))?;
        body.extend_from_slice(&data_len.to_le_bytes());
        body.extend_from_slice(data);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(f: Frame) {
        let mut buf = Vec::new();
        write_frame(&mut buf, &f).unwrap();
        let mut r = FrameReader::new(&buf[..]);
        assert_eq!(r.read_frame().unwrap(), Some(f));
        assert!(r.read_frame().unwrap().is_none());
    }

    #[test]
    fn all_kinds_round_trip() {
        round_trip(Frame::Hello { version: 1, first_block: 10, block_count: 20 });
        round_trip(Frame::Block { number: 5, payload: vec![1, 2, 3] });
        round_trip(Frame::Finish);
        round_trip(Frame::Ack { blocks: vec![1, 2, 99] });
        round_trip(Frame::Done { histograms: vec![("flush".into(), vec![9; 30])] });
        round_trip(Frame::Error { message: "disk full".into() });
    }

    #[test]
    fn skim_returns_block_numbers_and_other_frames() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &Frame::Block { number: 9, payload: vec![1; 100] }).unwrap();
        write_frame(&mut buf, &Frame::Finish).unwrap();
        let mut r = FrameReader::new(&buf[..]);
        let mut scratch = Vec::new();
        assert_eq!(r.skim_frame(&mut scratch).unwrap(), Some(Skimmed::Block(9)));
        assert_eq!(r.skim_frame(&mut scratch).unwrap(), Some(Skimmed::Other(Frame::Finish)));
        assert_eq!(r.skim_frame(&mut scratch).unwrap(), None);
    }

    #[test]
    fn length_ffffffff_is_rejected_without_allocating() {
        let buf = [0xff, 0xff, 0xff, 0xff, KIND_BLOCK];
        let err = FrameReader::new(&buf[..]).read_frame().unwrap_err();
        assert!(matches!(err, FrameError::BadLength { len: u32::MAX, .. }), "{err}");
    }

    #[test]
    fn zero_length_truncated_and_unknown_kind_are_errors() {
        let zero = [0, 0, 0, 0];
        assert!(matches!(FrameReader::new(&zero[..]).read_frame(), Err(FrameError::BadLength { .. })));
        let truncated = [10, 0, 0, 0, KIND_BLOCK, 1, 2];
        assert!(matches!(FrameReader::new(&truncated[..]).read_frame(), Err(FrameError::Truncated { .. })));
        let unknown = [1, 0, 0, 0, 77];
        assert!(matches!(FrameReader::new(&unknown[..]).read_frame(), Err(FrameError::UnknownKind(77))));
    }

    #[test]
    fn ack_with_inconsistent_count_is_malformed() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &Frame::Ack { blocks: vec![1, 2] }).unwrap();
        buf[5] = 3; // count says 3 but body holds 2
        assert!(matches!(FrameReader::new(&buf[..]).read_frame(), Err(FrameError::Malformed { .. })));
    }
}

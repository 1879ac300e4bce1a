//! Direct I/O: the node's file writes and bulk reads, bypassing the page cache.
//!
//! Why: WALs and segments are written once and read back at most once (by compaction),
//! so caching them buys the node nothing, while every new page-cache page costs CPU on
//! the same cores the pipeline needs. On the reference VM that cost is large: writing
//! 4 GiB with `dd conv=fdatasync` took 8.7–10.5 s of system CPU through the page cache
//! and 0.33–0.59 s with `oflag=direct` (results/20261121T145144Z_mainnet_jemalloc_streaming_cc1/READING.md, "Disk path"). Production engines make
//! the same choice for write-once data (RocksDB's `use_direct_io_for_flush_and_compaction`).
//!
//! O_DIRECT requires the file offset, the length and the buffer address of each
//! transfer to be multiples of the device's logical block size; [`ALIGN`] (4 KiB) covers
//! 512-byte and 4 KiB devices.
//!
//! [`DirectWriter`] appends through an aligned buffer and writes whole blocks with
//! O_DIRECT. A flush that ends inside a block writes that block's bytes through a second,
//! ordinary descriptor of the same file and keeps them in the buffer, so the next direct
//! write rewrites the block whole. The file therefore always holds exactly the bytes
//! written — never padding — and one `fdatasync` covers both descriptors. A rewrite of
//! a partly committed block writes the committed bytes unchanged, so a torn rewrite
//! cannot damage them.
//!
//! [`DirectReader`] reads aligned ranges with O_DIRECT into an aligned buffer and hands
//! out the requested slice; a range inside what the last transfer brought in is served
//! from the buffer, so a caller can read a span once and then take its records apart.
//!
//! Where O_DIRECT is refused (tmpfs before Linux 6.6, some FUSE mounts: `open` or the
//! first transfer fails with `EINVAL`), the same code runs over ordinary descriptors;
//! [`DirectWriter::is_direct`] says which path a file took.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Alignment of every direct transfer: offset, length and buffer address.
pub const ALIGN: usize = 4096;

/// A zeroed byte buffer whose start is [`ALIGN`]-aligned and whose length is a multiple
/// of it. Safe code: a `Vec` over-allocated by one block, used from its first aligned byte.
pub struct AlignedBuf {
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// A buffer of at least `len` bytes (rounded up to a multiple of [`ALIGN`]).
    pub fn new(len: usize) -> AlignedBuf {
        let len = round_up(len.max(ALIGN));
        let raw = vec![0u8; len + ALIGN];
        let start = raw.as_ptr().align_offset(ALIGN);
        assert!(start < ALIGN, "no aligned start in an over-allocated buffer");
        AlignedBuf { raw, start, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.raw[self.start..self.start + self.len]
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + self.len]
    }
}

fn round_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// `n` rounded down to a multiple of [`ALIGN`]: where a direct read of offset `n` starts.
pub(crate) fn round_down(n: u64) -> u64 {
    n / ALIGN as u64 * ALIGN as u64
}

/// Opens `path` a second time with O_DIRECT; `None` if the filesystem refuses it.
fn open_direct(path: &Path, write: bool) -> io::Result<Option<File>> {
    match OpenOptions::new().read(true).write(write).custom_flags(libc::O_DIRECT).open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Appends to a file through an aligned buffer with O_DIRECT (see the module docs).
pub struct DirectWriter {
    /// Ordinary descriptor: partial-block tails, `fdatasync`, and the fallback path.
    plain: File,
    /// O_DIRECT descriptor, or `None` where the filesystem refuses it.
    direct: Option<File>,
    buf: AlignedBuf,
    /// Bytes in `buf`; `buf[..filled]` belongs at file offset `base`.
    filled: usize,
    /// File offset of `buf[0]`, always a multiple of [`ALIGN`].
    base: u64,
    /// The file holds every byte before this offset (so a repeated flush writes nothing).
    written: u64,
}

impl DirectWriter {
    /// Creates (or truncates) `path`; `buffer_bytes` bounds the writer's memory.
    pub fn create(path: &Path, buffer_bytes: usize) -> io::Result<DirectWriter> {
        let plain = OpenOptions::new().read(true).write(true).create(true).truncate(true).mode(0o600).open(path)?;
        Self::with_plain(path, plain, buffer_bytes)
    }

    /// Opens `path` (creating it if needed) positioned at its end. The partial block at
    /// the end, if any, is read into the buffer so that it can be rewritten whole.
    pub fn append(path: &Path, buffer_bytes: usize) -> io::Result<DirectWriter> {
        let plain = OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(path)?;
        Self::with_plain(path, plain, buffer_bytes)
    }

    fn with_plain(path: &Path, plain: File, buffer_bytes: usize) -> io::Result<DirectWriter> {
        let len = plain.metadata()?.len();
        let direct = open_direct(path, true)?;
        let mut w = DirectWriter {
            plain,
            direct,
            buf: AlignedBuf::new(buffer_bytes.max(2 * ALIGN)),
            filled: 0,
            base: 0,
            written: len,
        };
        w.base = round_down(len);
        w.filled = (len - w.base) as usize;
        w.plain.read_exact_at(&mut w.buf.as_mut_slice()[..w.filled], w.base)?;
        Ok(w)
    }

    /// True if whole blocks bypass the page cache.
    pub fn is_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// Bytes in the file once the buffer is flushed.
    pub fn len(&self) -> u64 {
        self.base + self.filled as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Flushes, then `fdatasync`s the file.
    pub fn sync_data(&mut self) -> io::Result<()> {
        self.flush()?;
        self.plain.sync_data()
    }

    /// Flushes, then `fsync`s the file.
    pub fn sync_all(&mut self) -> io::Result<()> {
        self.flush()?;
        self.plain.sync_all()
    }

    /// Writes `buf[..n]` (a multiple of [`ALIGN`]) at `base` and drops it from the buffer.
    fn write_blocks(&mut self, n: usize) -> io::Result<()> {
        debug_assert!(n % ALIGN == 0 && n <= self.filled);
        let data = &self.buf.as_slice()[..n];
        let result = match &self.direct {
            Some(d) => d.write_all_at(data, self.base),
            None => self.plain.write_all_at(data, self.base),
        };
        match result {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && self.direct.is_some() => {
                // The filesystem accepted O_DIRECT at open but not this transfer: fall back.
                self.direct = None;
                self.plain.write_all_at(data, self.base)?;
            }
            r => r?,
        }
        self.buf.as_mut_slice().copy_within(n..self.filled, 0);
        self.filled -= n;
        self.base += n as u64;
        self.written = self.written.max(self.base);
        Ok(())
    }
}

impl Write for DirectWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.filled == self.buf.len() {
            self.write_blocks(self.filled)?;
        }
        let n = data.len().min(self.buf.len() - self.filled);
        self.buf.as_mut_slice()[self.filled..self.filled + n].copy_from_slice(&data[..n]);
        self.filled += n;
        Ok(n)
    }

    /// Writes every buffered byte to the file: whole blocks directly, a partial last
    /// block through the ordinary descriptor (kept buffered for its rewrite).
    fn flush(&mut self) -> io::Result<()> {
        let whole = self.filled / ALIGN * ALIGN;
        if whole > 0 {
            self.write_blocks(whole)?;
        }
        if self.filled > 0 && self.written < self.len() {
            self.plain.write_all_at(&self.buf.as_slice()[..self.filled], self.base)?;
            self.written = self.len();
        }
        Ok(())
    }
}

impl Drop for DirectWriter {
    /// Like `BufWriter`: a best-effort flush; durability always needs an explicit sync.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Reads ranges of a file with O_DIRECT into an aligned buffer (see the module docs).
pub struct DirectReader {
    path: PathBuf,
    file: File,
    direct: bool,
    len: u64,
    buf: AlignedBuf,
    /// The file range the buffer holds: `held.1` bytes from offset `held.0`.
    held: (u64, usize),
    /// `pread` calls made (tests check that held ranges cost none).
    transfers: u64,
}

impl DirectReader {
    /// Opens `path`; `initial_bytes` sizes the buffer, which grows to the largest read.
    pub fn open(path: &Path, initial_bytes: usize) -> io::Result<DirectReader> {
        let (file, direct) = match open_direct(path, false)? {
            Some(f) => (f, true),
            None => (File::open(path)?, false),
        };
        let len = file.metadata()?.len();
        let buf = AlignedBuf::new(initial_bytes);
        Ok(DirectReader { path: path.to_owned(), file, direct, len, buf, held: (0, 0), transfers: 0 })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `len` bytes at `offset`. The range must lie inside the file (callers check
    /// lengths against [`DirectReader::len`] before asking, so nothing huge is allocated).
    /// A range inside the last transfer's is served from the buffer without I/O.
    pub fn read_at(&mut self, offset: u64, len: usize) -> io::Result<&[u8]> {
        let end = offset.checked_add(len as u64).filter(|&e| e <= self.len).ok_or_else(|| {
            io::Error::new(io::ErrorKind::UnexpectedEof, format!("read of {len} bytes at {offset} past the end"))
        })?;
        let (held_at, held_len) = self.held;
        if offset >= held_at && end <= held_at + held_len as u64 {
            let skip = (offset - held_at) as usize;
            return Ok(&self.buf.as_slice()[skip..skip + len]);
        }
        self.held = (0, 0);
        let start = round_down(offset);
        let span = round_up((end - start) as usize);
        if span > self.buf.len() {
            self.buf = AlignedBuf::new(span);
        }
        // The last block of a file of unaligned length reads short: ask for whole blocks
        // and require only the bytes up to `end`.
        let need = (end - start) as usize;
        let mut got = 0;
        while got < need {
            let n = self.read_blocks(start + got as u64, got, span)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank during a read"));
            }
            got += n;
        }
        self.held = (start, got);
        let skip = (offset - start) as usize;
        Ok(&self.buf.as_slice()[skip..skip + len])
    }

    /// One `pread` into `buf[at..span]`; falls back to ordinary reads on `EINVAL`.
    fn read_blocks(&mut self, offset: u64, at: usize, span: usize) -> io::Result<usize> {
        self.transfers += 1;
        match self.file.read_at(&mut self.buf.as_mut_slice()[at..span], offset) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && self.direct => {
                self.direct = false;
                self.file = File::open(&self.path)?;
                self.file.read_at(&mut self.buf.as_mut_slice()[at..span], offset)
            }
            r => r,
        }
    }
}

/// Reads a whole file with direct I/O into a `Vec` (1 MiB reads).
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    const CHUNK: u64 = 1 << 20;
    let mut r = DirectReader::open(path, CHUNK as usize)?;
    let len = usize::try_from(r.len()).map_err(|_| io::Error::other("file too large for memory"))?;
    let mut out = Vec::with_capacity(len);
    let mut at = 0u64;
    while at < r.len() {
        let n = (r.len() - at).min(CHUNK);
        out.extend_from_slice(r.read_at(at, n as usize)?);
        at += n;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: test input without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Random appends, flushes, syncs and reopenings: after every flush the file holds
    /// exactly the bytes written so far — no padding, nothing lost at a partial block.
    fn check_writer(buffer_bytes: usize, direct: bool, seed: u64) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut rng = Rng(seed);
        let mut reference = Vec::new();
        let mut w = DirectWriter::create(&path, buffer_bytes).unwrap();
        for step in 0..100 {
            if !direct {
                w.direct = None;
            }
            let n = match rng.below(4) {
                0 => rng.below(16) as usize,
                1 => rng.below(ALIGN as u64 * 3) as usize,
                _ => rng.below(3 * buffer_bytes as u64) as usize,
            };
            let data: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            w.write_all(&data).unwrap();
            reference.extend_from_slice(&data);
            assert_eq!(w.len(), reference.len() as u64);
            match rng.below(6) {
                0 => w.flush().unwrap(),
                1 => w.sync_data().unwrap(),
                2 => {
                    w.flush().unwrap();
                    drop(w);
                    w = DirectWriter::append(&path, buffer_bytes).unwrap();
                }
                _ => continue,
            }
            assert_eq!(std::fs::read(&path).unwrap(), reference, "seed {seed} step {step}");
        }
        let how = match (direct, w.is_direct()) {
            (false, _) => "off (fallback path forced)",
            (true, true) => "used",
            (true, false) => "refused by this filesystem",
        };
        eprintln!("seed {seed}: O_DIRECT {how}");
        drop(w);
        assert_eq!(std::fs::read(&path).unwrap(), reference, "seed {seed}: after drop");
    }

    #[test]
    fn writer_file_equals_what_was_written() {
        for seed in 1..=3 {
            check_writer(2 * ALIGN, true, seed);
            check_writer(64 * ALIGN, true, seed + 10);
        }
    }

    #[test]
    fn writer_without_o_direct_writes_the_same_bytes() {
        check_writer(2 * ALIGN, false, 7);
    }

    /// A file of `len` random bytes in `dir`; returns its path and content.
    fn random_file(dir: &Path, len: usize, rng: &mut Rng) -> (PathBuf, Vec<u8>) {
        let path = dir.join("f");
        let content: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        std::fs::write(&path, &content).unwrap();
        (path, content)
    }

    #[test]
    fn reader_returns_exact_ranges_and_refuses_reads_past_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Rng(99);
        let (path, content) = random_file(dir.path(), 3 * ALIGN + 1234, &mut rng);
        let mut r = DirectReader::open(&path, ALIGN).unwrap();
        assert_eq!(r.len(), content.len() as u64);
        for _ in 0..500 {
            let offset = rng.below(content.len() as u64) as usize;
            let len = rng.below((content.len() - offset) as u64 + 1) as usize;
            assert_eq!(r.read_at(offset as u64, len).unwrap(), &content[offset..offset + len]);
        }
        let end = content.len() as u64;
        assert_eq!(r.read_at(end - 1, 2).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(r.read_at(u64::MAX, 2).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(read_file(&path).unwrap(), content);
    }

    #[test]
    fn reader_serves_a_range_inside_the_last_transfer_from_its_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let (path, content) = random_file(dir.path(), 8 * ALIGN + 100, &mut Rng(5));
        let mut r = DirectReader::open(&path, ALIGN).unwrap();
        r.read_at(100, 5 * ALIGN).unwrap();
        let after_span = r.transfers;
        for (offset, len) in [(100, 10), (ALIGN + 7, 2 * ALIGN), (0, 100), (5 * ALIGN + 99, 1)] {
            assert_eq!(r.read_at(offset as u64, len).unwrap(), &content[offset..offset + len]);
        }
        assert_eq!(r.transfers, after_span, "ranges inside the span cost no transfer");
        let tail = content.len() - 50;
        assert_eq!(r.read_at(tail as u64, 50).unwrap(), &content[tail..]);
        assert!(r.transfers > after_span, "a range outside the span is read from the file");
    }

    #[test]
    fn aligned_buffer_is_aligned_and_rounded_up() {
        for len in [1, ALIGN - 1, ALIGN, ALIGN + 1, 5 * ALIGN] {
            let b = AlignedBuf::new(len);
            assert_eq!(b.as_slice().as_ptr() as usize % ALIGN, 0);
            assert!(b.len() >= len && b.len() % ALIGN == 0);
        }
    }
}

//! Streaming compaction: the fix for the compaction-memory incident (README.md, "The
//! incident").
//!
//! Pass 1 builds an offset index of 24 bytes per block: the batch writer hands over the
//! index it kept while appending, and a WAL reopened after a restart is scanned for
//! record headers instead (payloads skipped with a seek). Pass 2 takes the records in
//! block order, checks each CRC, and appends it to the segment through a
//! `--chunk-bytes` buffer (1 MiB by default).
//!
//! Pass 2 reads the WAL in one of three ways ([`Reads`]):
//! - **in turn (default)**: each record is read when it is needed — reads and segment
//!   writes take turns, one I/O at a time (a small record inside the last transfer's
//!   final block is served from the buffer).
//! - **through a window** (`--compaction-window-bytes N`): front to back, a chunk of
//!   file-adjacent records per read, in the compaction thread; records read before
//!   their turn wait in a window of at most N bytes, and a record the window cannot
//!   reach is read on its own. Why: under parallel fetch the WAL holds records far out
//!   of block order (a WAL of the default workload: 9 of 999 block-order neighbours
//!   adjacent in the file, records displaced by 35 on the median, by at most 126; the
//!   records read ahead of their turn never exceeded 41 MiB), so reading in block
//!   order is a stream of random ~256 KiB reads, which queue behind the batch writer's
//!   writes; read in file order, the same bytes come in 1 MiB sequential reads.
//! - **ahead** (`--compaction-readers N`, N > 1): N reader threads scoped to the
//!   compaction (threads that start and retire with it) read ahead. The records are
//!   grouped into spans read with one transfer each ([`spans`]); span *i* goes to
//!   reader *i* mod N, and the compaction thread takes the spans back in order.
//!   Several random reads in flight compact faster beside a competing writer.
//!
//! Whether the node ingests faster with either depends on whether the disk has room
//! left (results/notes/2026-12-05-compaction-readers.md); the default keeps the least memory.
//!
//! Memory is the index, the segment buffer and the read buffers, independent of the
//! shard's size: in turn, one buffer (a chunk, or the largest record if larger);
//! through the window, that buffer, one for records read on their own, and the
//! window's records (at most its limit); ahead with N readers, N ×
//! [`BUFFERS_PER_READER`] buffers, each the largest span its reader has read (a
//! record, or at most a chunk of file-adjacent records). Both the WAL reads and the
//! segment writes use direct I/O ([`crate::direct_io`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::{io_err, CompactionError, Outcome};
use crate::direct_io::{round_down, DirectReader, DirectWriter, ALIGN};
use crate::fault::{kill_point, KillPoint};
use crate::segment::writer::SegmentWriter;
use crate::wal::reader::{scan, Entry, ScanEnd};

/// Default size of the chunks the WAL is read and the segment written in.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Span buffers per reader thread: one the compaction thread is writing out, one being
/// read.
pub const BUFFERS_PER_READER: usize = 2;

/// Most bytes between two records of one span (a record header is 20 bytes, a commit
/// marker record 28): bytes read and not used.
const SPAN_GAP_BYTES: u64 = 256;

/// A span a reader thread has read: `reader`'s buffer holds the file range covering
/// `entries`.
struct ReadSpan {
    reader: DirectReader,
    entries: Range<usize>,
}

/// The compaction thread's end of one reader thread: filled spans in, buffers back.
struct Lane {
    full: Receiver<std::io::Result<ReadSpan>>,
    free: SyncSender<DirectReader>,
}

/// How pass 2 reads the WAL (`--compaction-window-bytes`, `--compaction-readers`; see
/// the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// Each record when the segment writer needs it, one read at a time.
    InTurn,
    /// The WAL front to back, a chunk per read, each record held in a window of at most
    /// `bytes` until its turn; a record the window cannot reach is read on its own.
    Window { bytes: usize },
    /// `readers` threads read the records' spans ahead of the segment writer.
    Ahead { readers: usize },
}

impl Reads {
    /// From the node's flags: more than one reader reads ahead (the window is then not
    /// used); one reader reads through the window, or in turn if the window is 0.
    pub fn from_flags(readers: usize, window_bytes: usize) -> Reads {
        match (readers, window_bytes) {
            (2.., _) => Reads::Ahead { readers },
            (_, 0) => Reads::InTurn,
            (_, bytes) => Reads::Window { bytes },
        }
    }

    /// The window in use: 0 unless reading through one.
    pub fn window_bytes(self) -> usize {
        match self {
            Reads::Window { bytes } => bytes,
            Reads::InTurn | Reads::Ahead { .. } => 0,
        }
    }
}

/// Compacts the WAL at `wal` into `tmp`, in chunks of `chunk_bytes`, reading it as
/// `reads` says; `index` is the writer's record index, if any.
pub fn compact(
    wal: &Path,
    tmp: &Path,
    shard: u64,
    index: Option<Vec<Entry>>,
    chunk_bytes: usize,
    reads: Reads,
) -> Result<Outcome, CompactionError> {
    let mut entries = match index {
        Some(entries) => entries,
        None => scan_index(wal)?,
    };
    entries.sort_by_key(|e| e.number);
    entries.dedup_by_key(|e| e.number);
    let bytes_in = std::fs::metadata(wal).map_err(io_err(wal))?.len();
    if let Some(e) = entries.iter().find(|e| e.end() > bytes_in) {
        return Err(CompactionError::Corrupt { path: wal.to_owned(), offset: e.offset, reason: "record past the end" });
    }
    let entries = &entries[..];
    let bytes_out = match reads {
        Reads::InTurn => write_segment_reading_in_turn(wal, tmp, shard, entries, chunk_bytes)?,
        Reads::Window { bytes } => write_segment_through_window(wal, tmp, shard, entries, chunk_bytes, bytes)?.0,
        Reads::Ahead { readers } => write_segment_reading_ahead(wal, tmp, shard, entries, chunk_bytes, readers)?,
    };
    Ok(Outcome { records: entries.len() as u64, bytes_in, bytes_out })
}

/// One reader: each record is read when the segment writer needs it.
fn write_segment_reading_in_turn(
    wal: &Path,
    tmp: &Path,
    shard: u64,
    entries: &[Entry],
    chunk_bytes: usize,
) -> Result<u64, CompactionError> {
    let mut source = DirectReader::open(wal, chunk_bytes).map_err(io_err(wal))?;
    let mut w = segment_writer(tmp, shard, chunk_bytes)?;
    for (i, e) in entries.iter().enumerate() {
        let payload = source.read_at(e.payload_offset(), e.len as usize).map_err(io_err(wal))?;
        append_record(&mut w, (wal, tmp), entries, i, payload)?;
    }
    finish_segment(w, tmp)
}

/// Reads the WAL in file order, one span (at most a chunk of file-adjacent records) per
/// read, and appends the records in block order: the records of the last span read are
/// served from the read buffer; before the next read, those not yet appended move to a
/// window of at most `window_bytes`, to wait for their turn. When they would not fit,
/// the record needed next is read on its own instead (and skipped when the reads reach
/// it). A WAL in block order is thus read a chunk at a time with no copy; one out of
/// order, once in file order plus the records out of the window's reach.
fn write_segment_through_window(
    wal: &Path,
    tmp: &Path,
    shard: u64,
    entries: &[Entry],
    chunk_bytes: usize,
    window_bytes: usize,
) -> Result<(u64, WindowReads), CompactionError> {
    let mut reader = FileOrderReader::open(wal, entries, chunk_bytes, window_bytes).map_err(io_err(wal))?;
    let mut w = segment_writer(tmp, shard, chunk_bytes)?;
    for i in 0..entries.len() {
        let payload = reader.payload(i).map_err(io_err(wal))?;
        append_record(&mut w, (wal, tmp), entries, i, &payload)?;
    }
    debug_assert!(reader.window.held.is_empty(), "every record held was appended");
    Ok((finish_segment(w, tmp)?, reader.counts))
}

/// The WAL read front to back for records asked for in block order (see
/// [`write_segment_through_window`]). Indices `i`/`j` are positions in block order
/// (`entries`), `f` positions in file order.
struct FileOrderReader<'a> {
    entries: &'a [Entry],
    /// The records in file order; the block-order index of the `f`-th one, and the
    /// inverse.
    file_order: Vec<Entry>,
    by_offset: Vec<usize>,
    file_pos: Vec<usize>,
    /// Spans over the records in file order, and the next one to read.
    spans: Vec<Range<usize>>,
    next_span: usize,
    /// The span in `sequential`'s buffer.
    current: Range<usize>,
    sequential: DirectReader,
    /// For records read on their own.
    single: DirectReader,
    window: Window,
    /// Records already handed out.
    taken: Vec<bool>,
    counts: WindowReads,
}

impl<'a> FileOrderReader<'a> {
    fn open(wal: &Path, entries: &'a [Entry], chunk_bytes: usize, window_bytes: usize) -> std::io::Result<Self> {
        let mut by_offset: Vec<usize> = (0..entries.len()).collect();
        by_offset.sort_by_key(|&i| entries[i].offset);
        let mut file_pos = vec![0; entries.len()];
        for (f, &i) in by_offset.iter().enumerate() {
            file_pos[i] = f;
        }
        let file_order: Vec<Entry> = by_offset.iter().map(|&i| entries[i]).collect();
        Ok(FileOrderReader {
            entries,
            spans: spans(&file_order, chunk_bytes),
            file_order,
            by_offset,
            file_pos,
            next_span: 0,
            current: 0..0,
            sequential: DirectReader::open(wal, chunk_bytes)?,
            single: DirectReader::open(wal, ALIGN)?,
            window: Window { held: HashMap::new(), bytes: 0, limit: window_bytes },
            taken: vec![false; entries.len()],
            counts: WindowReads::default(),
        })
    }

    /// Record `i`'s payload; each record is asked for once.
    fn payload(&mut self, i: usize) -> std::io::Result<Cow<'_, [u8]>> {
        debug_assert!(!self.taken[i], "record {i} asked for twice");
        self.taken[i] = true;
        if let Some(payload) = self.window.take(i) {
            return Ok(Cow::Owned(payload));
        }
        let f = self.file_pos[i];
        while !self.current.contains(&f) && self.spans.get(self.next_span).is_some_and(|s| s.start <= f) {
            if !self.spill()? {
                break;
            }
            self.read_next_span()?;
        }
        let e = self.entries[i];
        let source = if self.current.contains(&f) {
            &mut self.sequential
        } else {
            self.counts.singles += 1;
            &mut self.single
        };
        Ok(Cow::Borrowed(source.read_at(e.payload_offset(), e.len as usize)?))
    }

    /// Moves the current span's records not yet handed out into the window (copied out
    /// of the read buffer, which holds them); false if they do not fit.
    fn spill(&mut self) -> std::io::Result<bool> {
        let left: Vec<usize> = self.current.clone().map(|f| self.by_offset[f]).filter(|&j| !self.taken[j]).collect();
        let bytes: usize = left.iter().map(|&j| self.entries[j].len as usize).sum();
        if self.window.bytes + bytes > self.window.limit {
            return Ok(false);
        }
        for j in left {
            let e = &self.entries[j];
            let payload = self.sequential.read_at(e.payload_offset(), e.len as usize)?.to_vec();
            self.window.put(j, payload);
        }
        self.counts.held_peak_bytes = self.counts.held_peak_bytes.max(self.window.bytes);
        Ok(true)
    }

    fn read_next_span(&mut self) -> std::io::Result<()> {
        let span = self.spans[self.next_span].clone();
        let (start, end) = extent(&self.file_order[span.clone()]);
        self.sequential.read_at(start, (end - start) as usize)?;
        self.counts.spans += 1;
        self.current = span;
        self.next_span += 1;
        Ok(())
    }
}

/// What reading through the window took (tests check it).
#[derive(Debug, Default, PartialEq, Eq)]
struct WindowReads {
    /// Spans read in file order.
    spans: usize,
    /// Records read on their own, out of the window's reach.
    singles: usize,
    /// Most bytes the window held.
    held_peak_bytes: usize,
}

/// Records read before their turn, by their index in block order.
struct Window {
    held: HashMap<usize, Vec<u8>>,
    bytes: usize,
    limit: usize,
}

impl Window {
    fn put(&mut self, i: usize, payload: Vec<u8>) {
        self.bytes += payload.len();
        debug_assert!(self.bytes <= self.limit, "the caller checks the span fits");
        self.held.insert(i, payload);
    }

    fn take(&mut self, i: usize) -> Option<Vec<u8>> {
        let payload = self.held.remove(&i)?;
        self.bytes -= payload.len();
        Some(payload)
    }
}

/// `readers` reader threads read the spans ahead; this thread writes the segment.
fn write_segment_reading_ahead(
    wal: &Path,
    tmp: &Path,
    shard: u64,
    entries: &[Entry],
    chunk_bytes: usize,
    readers: usize,
) -> Result<u64, CompactionError> {
    let spans = spans(entries, chunk_bytes);
    let mut lanes = Vec::with_capacity(readers);
    let mut threads = Vec::with_capacity(readers);
    for first in 0..readers {
        let (free_tx, free_rx) = sync_channel(BUFFERS_PER_READER);
        for _ in 0..BUFFERS_PER_READER {
            // Sized by the first span read into it; grows to the largest.
            let _ = free_tx.send(DirectReader::open(wal, ALIGN).map_err(io_err(wal))?);
        }
        let (full_tx, full_rx) = sync_channel(BUFFERS_PER_READER);
        let mine: Vec<Range<usize>> = spans.iter().skip(first).step_by(readers).cloned().collect();
        threads.push((mine, free_rx, full_tx));
        lanes.push(Lane { full: full_rx, free: free_tx });
    }
    std::thread::scope(|scope| {
        for (mine, free, full) in threads {
            std::thread::Builder::new()
                .name("compaction-read".into())
                .spawn_scoped(scope, move || read_ahead(entries, mine, free, full))
                .map_err(io_err(wal))?;
        }
        write_spans(wal, tmp, shard, entries, chunk_bytes, lanes)
    })
}

/// A reader thread: reads each of its spans into a free buffer and passes it on. It
/// stops at the first error (passed on too) or when the compaction hangs up.
fn read_ahead(
    entries: &[Entry],
    spans: Vec<Range<usize>>,
    free: Receiver<DirectReader>,
    full: SyncSender<std::io::Result<ReadSpan>>,
) {
    for span in spans {
        let Ok(mut reader) = free.recv() else { return };
        let (start, end) = extent(&entries[span.clone()]);
        let read = reader.read_at(start, (end - start) as usize).map(|_| ());
        let failed = read.is_err();
        if full.send(read.map(|()| ReadSpan { reader, entries: span })).is_err() || failed {
            return;
        }
    }
}

/// The compaction thread: takes the spans back in order (span *i* from lane *i* mod
/// the number of lanes), checks each record and appends it to the segment; returns the
/// segment's size once it is synced. Returning early drops the lanes, which stops the
/// readers.
fn write_spans(
    wal: &Path,
    tmp: &Path,
    shard: u64,
    entries: &[Entry],
    chunk_bytes: usize,
    lanes: Vec<Lane>,
) -> Result<u64, CompactionError> {
    let mut w = segment_writer(tmp, shard, chunk_bytes)?;
    for lane in lanes.iter().cycle() {
        // A lane whose reader has finished its spans is closed: all spans are taken.
        let Ok(span) = lane.full.recv() else { break };
        let ReadSpan { mut reader, entries: range } = span.map_err(io_err(wal))?;
        for i in range {
            let e = &entries[i];
            // Inside the span just read: served from the reader's buffer.
            let payload = reader.read_at(e.payload_offset(), e.len as usize).map_err(io_err(wal))?;
            append_record(&mut w, (wal, tmp), entries, i, payload)?;
        }
        // The reader may have stopped after its last span; the buffer is then dropped.
        let _ = lane.free.send(reader);
    }
    if w.records() != entries.len() {
        return Err(CompactionError::Io {
            path: wal.to_owned(),
            source: std::io::Error::other("the WAL readers stopped before the last record"),
        });
    }
    finish_segment(w, tmp)
}

fn segment_writer(tmp: &Path, shard: u64, chunk_bytes: usize) -> Result<SegmentWriter<DirectWriter>, CompactionError> {
    let out = DirectWriter::create(tmp, chunk_bytes).map_err(io_err(tmp))?;
    SegmentWriter::new(out, shard).map_err(io_err(tmp))
}

/// Checks `payload` (record `i` of `entries`) against its CRC and appends it to the
/// segment; the [`KillPoint::SegmentMidWrite`] is half way through the records.
fn append_record(
    w: &mut SegmentWriter<DirectWriter>,
    (wal, tmp): (&Path, &Path),
    entries: &[Entry],
    i: usize,
    payload: &[u8],
) -> Result<(), CompactionError> {
    let e = &entries[i];
    if crc32c::crc32c(payload) != e.payload_crc {
        return Err(CompactionError::Corrupt {
            path: wal.to_owned(),
            offset: e.offset,
            reason: "payload checksum mismatch",
        });
    }
    w.append(e.number, payload, e.payload_crc).map_err(io_err(tmp))?;
    if i == entries.len() / 2 {
        kill_point(KillPoint::SegmentMidWrite);
    }
    Ok(())
}

/// Writes the segment's index and footer and syncs it; returns its size.
fn finish_segment(w: SegmentWriter<DirectWriter>, tmp: &Path) -> Result<u64, CompactionError> {
    let (mut out, bytes_out) = w.finish().map_err(io_err(tmp))?;
    out.sync_all().map_err(io_err(tmp))?;
    Ok(bytes_out)
}

/// The file range, from a block boundary, that holds the payloads of `entries`.
fn extent(entries: &[Entry]) -> (u64, u64) {
    entries.iter().fold((u64::MAX, 0), |(lo, hi), e| (lo.min(block_start(e)), hi.max(e.end())))
}

/// Where a direct read of `e`'s payload starts.
fn block_start(e: &Entry) -> u64 {
    round_down(e.payload_offset())
}

/// Groups `entries` (in block order) into spans read with one transfer each: a span
/// grows while the next record starts where the previous one ended (at most
/// [`SPAN_GAP_BYTES`] later: a record header, a commit marker) and the span stays
/// within `chunk_bytes`. Records appended in block order then cost one read per chunk;
/// records out of order cost one read each — and no byte is read for two spans.
pub fn spans(entries: &[Entry], chunk_bytes: usize) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut start = 0;
    for i in 1..=entries.len() {
        let joins = i < entries.len() && {
            let (prev, e) = (&entries[i - 1], &entries[i]);
            let gap = e.payload_offset().checked_sub(prev.end());
            gap.is_some_and(|g| g <= SPAN_GAP_BYTES) && e.end() - block_start(&entries[start]) <= chunk_bytes as u64
        };
        if !joins {
            spans.push(start..i);
            start = i;
        }
    }
    spans
}

/// Pass 1 for a WAL without a writer's index: every block record's location.
fn scan_index(wal: &Path) -> Result<Vec<Entry>, CompactionError> {
    let mut entries = Vec::new();
    let (end, _) = scan(wal, false, |h, e, _| {
        if !h.is_commit_marker() {
            entries.push(e);
        }
    })
    .map_err(io_err(wal))?;
    match end {
        ScanEnd::Invalid { offset, reason } => Err(CompactionError::Corrupt { path: wal.to_owned(), offset, reason }),
        ScanEnd::Clean => Ok(entries),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::reader::SegmentReader;
    use crate::wal::writer::WalWriter;

    const CHUNK: usize = 64 << 10;

    fn entry(number: u64, offset: u64, len: u32) -> Entry {
        Entry { number, offset, len, payload_crc: 0 }
    }

    /// A WAL of `order.len()` blocks appended in `order`, payload sizes varying up to
    /// `largest`; returns the writer's index and the payloads by number.
    fn write_wal(path: &Path, order: &[u64], largest: usize) -> (Vec<Entry>, Vec<Vec<u8>>) {
        let mut payloads = vec![Vec::new(); order.len()];
        let mut w = WalWriter::open(path).unwrap();
        for &n in order {
            let len = 1 + (n as usize * 7_919) % largest;
            payloads[n as usize] = (0..len).map(|j| (j as u64 * 31 + n) as u8).collect();
            w.append(n, &payloads[n as usize]).unwrap();
        }
        w.commit(1).unwrap();
        (w.into_index().unwrap(), payloads)
    }

    /// Arrival order as many peers produce it: block order with neighbours swapped and
    /// a few blocks arriving far late.
    fn arrival_order(blocks: u64) -> Vec<u64> {
        let mut order: Vec<u64> = (0..blocks).collect();
        for i in (0..order.len() - 1).step_by(3) {
            order.swap(i, i + 1);
        }
        for late in [5, 17, 60] {
            let at = order.iter().position(|&n| n == late).unwrap();
            let n = order.remove(at);
            order.insert((at + 90).min(order.len()), n);
        }
        order
    }

    /// Every way of reading: in turn, through windows that hold everything, some records
    /// and none, ahead with more and fewer readers than spans.
    const ALL_READS: [Reads; 7] = [
        Reads::InTurn,
        Reads::Window { bytes: 64 * CHUNK },
        Reads::Window { bytes: 2 * CHUNK },
        Reads::Window { bytes: 0 },
        Reads::Ahead { readers: 2 },
        Reads::Ahead { readers: 4 },
        Reads::Ahead { readers: 16 },
    ];

    fn compact_and_check(index: Option<Vec<Entry>>, wal: &Path, payloads: &[Vec<u8>], reads: Reads) {
        let tmp = wal.with_file_name("segment");
        let outcome = compact(wal, &tmp, 0, index, CHUNK, reads).unwrap();
        assert_eq!(outcome.records, payloads.len() as u64);
        let r = SegmentReader::open_shard(&tmp, 0).unwrap();
        assert_eq!(r.numbers().collect::<Vec<_>>(), (0..payloads.len() as u64).collect::<Vec<_>>());
        let mut buf = Vec::new();
        for (n, payload) in payloads.iter().enumerate() {
            assert!(r.get(n as u64, &mut buf).unwrap());
            assert_eq!(&buf, payload, "block {n}");
        }
    }

    /// Every read path end to end: records out of order, some far apart, some larger
    /// than a chunk, with the writer's index and with a scanned one.
    #[test]
    fn compaction_writes_every_block_in_order_however_it_reads() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("wal");
        let (index, payloads) = write_wal(&wal, &arrival_order(200), 3 * CHUNK / 2);
        let small = dir.path().join("small-wal");
        let (small_index, small_payloads) = write_wal(&small, &[1, 0], 100);
        for reads in ALL_READS {
            compact_and_check(Some(index.clone()), &wal, &payloads, reads);
            compact_and_check(None, &wal, &payloads, reads);
            compact_and_check(Some(small_index.clone()), &small, &small_payloads, reads);
        }
    }

    /// Compacts a WAL written in `order` through a window of `window_bytes`; returns
    /// what the reads took, and the number of spans the WAL has in file order.
    fn window_reads(order: &[u64], window_bytes: usize) -> (WindowReads, usize) {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("wal");
        let (index, _) = write_wal(&wal, order, CHUNK / 4);
        let file_spans = spans(&index, CHUNK).len();
        let mut sorted = index;
        sorted.sort_by_key(|e| e.number);
        let (_, reads) =
            write_segment_through_window(&wal, &dir.path().join("segment"), 0, &sorted, CHUNK, window_bytes).unwrap();
        (reads, file_spans)
    }

    /// Why the window exists: out-of-order records within its reach cost no read of
    /// their own — the WAL is read once, a chunk at a time, in file order.
    #[test]
    fn a_window_wide_enough_reads_the_wal_once_in_file_order() {
        let order = arrival_order(300);
        let (reads, file_spans) = window_reads(&order, 64 * CHUNK);
        assert_eq!(reads.singles, 0, "{reads:?}");
        assert_eq!(reads.spans, file_spans, "{reads:?}");
        assert!(file_spans < 300 / 3, "{file_spans} spans for 300 records of ~8 KiB in 64 KiB chunks");
    }

    /// The window never holds more than its limit; what it cannot reach is read on its
    /// own — with no room at all, every record not in the span just read.
    #[test]
    fn a_narrow_window_stays_within_its_limit_and_reads_the_rest_one_by_one() {
        let order = arrival_order(300);
        let (reads, _) = window_reads(&order, 2 * CHUNK);
        assert!(reads.held_peak_bytes <= 2 * CHUNK, "{reads:?}");
        assert!(reads.singles > 0 && reads.singles < 300 / 2, "{reads:?}");
        let (reads, _) = window_reads(&order, 0);
        assert_eq!(reads.held_peak_bytes, 0, "{reads:?}");
        assert!(reads.singles > 0, "{reads:?}");
    }

    /// A bad payload stops the compaction with its offset; reader threads, which may be
    /// spans ahead, are not left waiting (the test would hang).
    #[test]
    fn a_bad_payload_is_refused_and_the_reader_threads_stop() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("wal");
        let (index, _) = write_wal(&wal, &arrival_order(100), 40_000);
        let bad = index[10];
        let mut bytes = std::fs::read(&wal).unwrap();
        bytes[bad.payload_offset() as usize] ^= 1;
        std::fs::write(&wal, bytes).unwrap();
        for reads in ALL_READS {
            let err = compact(&wal, &dir.path().join("segment"), 0, Some(index.clone()), CHUNK, reads).unwrap_err();
            match err {
                CompactionError::Corrupt { offset, reason, .. } => {
                    assert_eq!(offset, bad.offset, "{reads:?}");
                    assert_eq!(reason, "payload checksum mismatch");
                }
                other => panic!("expected a corrupt record, got {other}"),
            }
        }
    }

    #[test]
    fn a_record_past_the_end_is_refused_before_anything_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("wal");
        let (mut index, _) = write_wal(&wal, &[0, 1, 2], 100);
        index[1].len += 1 << 20;
        for reads in ALL_READS {
            let err = compact(&wal, &dir.path().join("segment"), 0, Some(index.clone()), CHUNK, reads).unwrap_err();
            assert!(matches!(err, CompactionError::Corrupt { reason: "record past the end", .. }), "{err}");
        }
    }

    /// Spans of a WAL written in `order`: every record once, in block order, each span
    /// within a chunk, and nothing read twice (adjacent spans may share the one
    /// [`ALIGN`] block where they meet). Returns the number of spans.
    fn check_spans(order: &[u64]) -> usize {
        let dir = tempfile::tempdir().unwrap();
        let (index, _) = write_wal(&dir.path().join("wal"), order, CHUNK / 4);
        let mut sorted = index.clone();
        sorted.sort_by_key(|e| e.number);
        let spans = spans(&sorted, CHUNK);
        let flat: Vec<usize> = spans.iter().flat_map(|s| s.clone()).collect();
        assert_eq!(flat, (0..sorted.len()).collect::<Vec<_>>());
        for s in &spans {
            let (lo, hi) = extent(&sorted[s.clone()]);
            assert!(s.len() == 1 || hi - lo <= CHUNK as u64, "span {s:?} covers {} bytes", hi - lo);
        }
        let file_bytes = index.iter().map(Entry::end).max().unwrap();
        let read: u64 = spans.iter().map(|s| extent(&sorted[s.clone()])).map(|(lo, hi)| hi - lo).sum();
        assert!(read <= file_bytes + (spans.len() * ALIGN) as u64, "read {read} bytes of a {file_bytes}-byte WAL");
        spans.len()
    }

    #[test]
    fn records_appended_in_block_order_are_read_a_chunk_at_a_time() {
        let spans = check_spans(&(0..300).collect::<Vec<_>>());
        assert!(spans < 300 / 3, "{spans} spans for 300 records of ~8 KiB in 64 KiB chunks");
    }

    #[test]
    fn records_out_of_order_are_read_one_by_one_and_never_twice() {
        let spans = check_spans(&arrival_order(300));
        assert!(spans > 300 / 2, "{spans} spans: out-of-order records do not share reads");
    }

    #[test]
    fn a_record_larger_than_a_chunk_is_a_span_of_its_own() {
        let big = CHUNK as u32 * 2;
        let sorted = [entry(0, 0, 100), entry(1, 200, big), entry(2, 200 + 40 + u64::from(big), 100)];
        assert_eq!(spans(&sorted, CHUNK), [0..1, 1..2, 2..3]);
        assert!(spans(&[], CHUNK).is_empty());
    }
}

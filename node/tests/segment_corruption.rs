//! Sealed segments: a single flipped bit anywhere in the file (header, record headers,
//! payloads, index, footer) is refused with the file and an offset at or before the
//! flip — never returned as data, never skipped.

use std::fs;
use std::path::Path;

use syncbench_node::segment::reader::{SegmentError, SegmentReader};
use syncbench_node::segment::writer::SegmentWriter;

const SHARD: u64 = 7;
const FLIPS: usize = 250;

/// A segment of 40 blocks with payloads of 30..1,000 bytes; returns the payloads.
fn write_segment(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let blocks: Vec<(u64, Vec<u8>)> =
        (0..40u64).map(|i| (7_000 + i, (0..(30 + (i * 97) % 970)).map(|j| (j * 31 + i) as u8).collect())).collect();
    let mut w = SegmentWriter::new(Vec::new(), SHARD).unwrap();
    for (n, p) in &blocks {
        w.append(*n, p, crc32c::crc32c(p)).unwrap();
    }
    let (bytes, _) = w.finish().unwrap();
    fs::write(path, bytes).unwrap();
    blocks
}

/// Opens the segment and reads every block; the first error, if any.
fn read_all(path: &Path, blocks: &[(u64, Vec<u8>)]) -> Result<(), SegmentError> {
    let r = SegmentReader::open_shard(path, SHARD)?;
    let mut buf = Vec::new();
    for (n, payload) in blocks {
        assert!(r.get(*n, &mut buf)?, "block {n} missing without an error");
        assert_eq!(&buf, payload, "block {n} returned different bytes without an error");
    }
    Ok(())
}

#[test]
fn every_bit_flip_in_a_sealed_segment_is_refused_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = dir.path().join("pristine.sbs");
    let blocks = write_segment(&pristine);
    read_all(&pristine, &blocks).expect("the undamaged segment reads back");
    let bytes = fs::read(&pristine).unwrap();
    let seg = dir.path().join("segment.sbs");
    // Seeded positions over the whole file (SplitMix64), plus every header and footer byte.
    let mut state = 0x5eed_u64;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut positions: Vec<(usize, u8)> =
        (0..FLIPS).map(|_| ((next() % bytes.len() as u64) as usize, 1u8 << (next() % 8))).collect();
    positions.extend((0..16).chain(bytes.len() - 32..bytes.len()).map(|at| (at, 0x04)));
    for &(at, bit) in &positions {
        let mut damaged = bytes.clone();
        damaged[at] ^= bit;
        fs::write(&seg, &damaged).unwrap();
        match read_all(&seg, &blocks) {
            Err(SegmentError::Corrupt { path, offset, reason }) => {
                assert_eq!(path, seg, "flip at {at}");
                assert!(offset <= at as u64, "flip at {at} reported at {offset} ({reason})");
            }
            other => panic!("flip of bit {bit:#x} at byte {at} was not refused: {other:?}"),
        }
    }
    println!("{} bit flips in a {}-byte segment: all refused with file and offset", positions.len(), bytes.len());
}

//! WAL recovery: a torn tail is cut back to the last whole record and reported; damage
//! before a commit marker (acknowledged data) is refused with file and offset.

use std::fs;
use std::path::Path;

use syncbench_node::wal::recovery::{recover, RecoveryError};
use syncbench_node::wal::writer::WalWriter;
use syncbench_node::wal::HEADER_BYTES;

/// Writes `batches` batches of `per_batch` records (block numbers ascending from 100);
/// returns the record boundaries (offset of each record header, commit markers included).
fn write_wal(path: &Path, batches: u64, per_batch: u64) -> Vec<u64> {
    let mut w = WalWriter::open(path).unwrap();
    let mut offsets = Vec::new();
    let mut n = 100;
    for b in 0..batches {
        for _ in 0..per_batch {
            offsets.push(w.len());
            let payload: Vec<u8> = (0..(50 + n % 17)).map(|i| (i * n) as u8).collect();
            w.append(n, &payload).unwrap();
            n += 1;
        }
        offsets.push(w.len());
        w.commit(b + 1).unwrap();
    }
    offsets.push(w.len());
    offsets
}

#[test]
fn torn_tail_at_every_byte_of_the_last_two_records_recovers_to_the_previous_record() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("orig.wal");
    let bounds = write_wal(&original, 3, 4);
    let bytes = fs::read(&original).unwrap();
    let end = *bounds.last().unwrap();
    // The last two records: the final block record and the final commit marker.
    let last_two_start = bounds[bounds.len() - 3];
    let wal = dir.path().join("staging.wal");
    let mut cases = 0;
    for cut in last_two_start..end {
        fs::write(&wal, &bytes[..cut as usize]).unwrap();
        let r = recover(&wal).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let whole = *bounds.iter().rev().find(|&&b| b <= cut).unwrap();
        assert_eq!(fs::metadata(&wal).unwrap().len(), whole, "cut at {cut}");
        match r.torn {
            Some(t) => assert_eq!((t.offset, t.bytes), (whole, cut - whole), "cut at {cut}"),
            None => assert_eq!(cut, whole, "cut at {cut} reported no torn tail"),
        }
        // Every block record before the cut point is kept.
        assert!(r.entries.iter().all(|e| e.end() <= whole));
        cases += 1;
    }
    assert!(cases > 100, "only {cases} cut points");
    println!("{cases} cut points in the last two records: each truncated to the previous record");
}

#[test]
fn bit_flip_before_the_last_commit_marker_is_refused_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("orig.wal");
    let bounds = write_wal(&original, 3, 4);
    let bytes = fs::read(&original).unwrap();
    let last_marker = bounds[bounds.len() - 2];
    let wal = dir.path().join("staging.wal");
    let mut refused = 0;
    // Flip one bit in every 7th byte before the last marker (headers and payloads alike).
    for at in (0..last_marker as usize).step_by(7) {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        fs::write(&wal, &damaged).unwrap();
        match recover(&wal) {
            Err(RecoveryError::Corrupt { path, offset, .. }) => {
                let record = *bounds.iter().rev().find(|&&b| b as usize <= at).unwrap();
                assert_eq!(offset, record, "flip at {at}");
                assert!(path.ends_with("staging.wal"));
                refused += 1;
            }
            other => panic!("flip at {at} was not refused: {other:?}"),
        }
        assert_eq!(fs::read(&wal).unwrap(), damaged, "a refused WAL must not be modified");
    }
    assert!(refused > 50);
    println!("{refused} bit flips before the last commit marker: each refused with file and offset");
}

#[test]
fn damage_after_the_last_commit_marker_is_an_unacknowledged_tail() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("staging.wal");
    let bounds = write_wal(&wal, 2, 3);
    let committed = *bounds.last().unwrap();
    // Unacknowledged records appended after the last commit, then damaged.
    let mut w = WalWriter::open(&wal).unwrap();
    w.append(900, &[7u8; 40]).unwrap();
    w.append(901, &[8u8; 40]).unwrap();
    w.flush_buffer().unwrap();
    let mut bytes = fs::read(&wal).unwrap();
    let second = committed as usize + HEADER_BYTES + 40;
    bytes[second + 3] ^= 1;
    fs::write(&wal, &bytes).unwrap();
    let r = recover(&wal).unwrap();
    let t = r.torn.expect("torn tail reported");
    assert_eq!(t.offset, second as u64);
    assert!(r.entries.iter().any(|e| e.number == 900), "the intact unacknowledged record is kept");
    assert!(!r.entries.iter().any(|e| e.number == 901));
}

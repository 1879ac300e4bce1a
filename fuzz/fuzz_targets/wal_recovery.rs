//! WAL recovery on arbitrary file contents: it must either refuse (an error naming an
//! offset inside the file) or leave a file that is a prefix of the input, and never
//! panic or over-allocate.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use syncbench_node::wal::recovery::{recover, RecoveryError};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile_dir();
    let path = dir.join("staging.wal");
    std::fs::File::create(&path).and_then(|mut f| f.write_all(data)).expect("writing the input");
    match recover(&path) {
        Ok(r) => {
            let after = std::fs::read(&path).expect("reading back");
            assert!(data.starts_with(&after), "recovery may only truncate");
            assert!(r.entries.iter().all(|e| e.end() <= after.len() as u64), "entries beyond the kept file");
        }
        Err(RecoveryError::Corrupt { offset, .. }) => {
            assert!(offset <= data.len() as u64, "offset {offset} beyond a {}-byte file", data.len());
            assert_eq!(std::fs::read(&path).expect("reading back"), data, "a refused WAL must be untouched");
        }
        Err(_) => {}
    }
    let _ = std::fs::remove_file(&path);
});

/// One directory per fuzzing process, in memory when /dev/shm exists.
fn tempfile_dir() -> std::path::PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() };
    let dir = base.join(format!("syncbench-fuzz-wal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating the scratch directory");
    dir
}

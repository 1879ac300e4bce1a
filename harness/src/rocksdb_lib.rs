//! Where the system's RocksDB library is, for building the `--store rocksdb` nodes.
//!
//! The RocksDB nodes link the distribution's RocksDB (Debian 12: `librocksdb-dev`
//! 7.8.3) instead of compiling RocksDB's C++ from source: a build of seconds, not of
//! many minutes per cargo profile (docs/rocksdb.md has the measurements and the
//! choice). The binding (`librocksdb-sys`) takes the library from `ROCKSDB_LIB_DIR`;
//! without it, it would compile its bundled sources.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::input;

/// The variable `librocksdb-sys` reads.
pub const LIB_DIR_VAR: &str = "ROCKSDB_LIB_DIR";

/// What a machine needs for `--store rocksdb`, said when it is missing.
pub const PREREQUISITES: &str = "the rocksdb nodes need the system's RocksDB library and libclang \
     (Debian/Ubuntu: `apt-get install librocksdb-dev libclang-dev`), or ROCKSDB_LIB_DIR naming \
     a directory with librocksdb.so";

/// Directories searched when `ROCKSDB_LIB_DIR` is not set (Debian's multiarch
/// directories, then the usual ones).
const SEARCHED: &[&str] =
    &["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"];

fn has_library(dir: &Path) -> bool {
    dir.join("librocksdb.so").is_file() || dir.join("librocksdb.a").is_file()
}

/// `ROCKSDB_LIB_DIR` if set (it must hold the library), else the first searched
/// directory that holds it; an input error (exit 2) saying what to install otherwise.
pub fn lib_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(LIB_DIR_VAR).map(PathBuf::from) {
        if has_library(&dir) {
            return Ok(dir);
        }
        return Err(input(format!(
            "{LIB_DIR_VAR}={}: expected a directory with librocksdb.so or librocksdb.a, got none; {PREREQUISITES}",
            dir.display()
        )));
    }
    SEARCHED.iter().map(PathBuf::from).find(|d| has_library(d)).ok_or_else(|| {
        input(format!("--store rocksdb: no librocksdb found in {}; {PREREQUISITES}", SEARCHED.join(", ")))
    })
}

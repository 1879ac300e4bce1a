//! Reading and writing pprof heap profiles (`heap/*.pb.gz`): the harness's own reader,
//! written from `profile.proto`, independent of the code in the node binary that
//! wrote them.
//!
//! ## Format
//! gzip of one protobuf `perftools.profiles.Profile` (github.com/google/pprof,
//! `proto/profile.proto`): `sample`s of `value`s (here one: `inuse_space` in bytes,
//! already scaled up from jemalloc's sampling) each with a stack of `location_id`s,
//! leaf first; a `location`'s `line`s are its function and the functions inlined into
//! it, innermost first; every name is an index into `string_table`. Every field of the
//! message is declared below, so that reading and writing back (to make paths
//! portable) loses nothing.

use std::io::{Read, Write};
use std::path::Path;

use prost::Message;

/// Largest decompressed profile read (a run's profile is tens of KiB): a bound against
/// a damaged or hostile file.
pub const DECODED_MAX_BYTES: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PprofError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: more than {DECODED_MAX_BYTES} bytes decompressed")]
    TooLarge { path: String },
    #[error("{path}: not a pprof profile: {source}")]
    Decode { path: String, source: prost::DecodeError },
}

#[derive(Clone, PartialEq, Message)]
pub struct Profile {
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub mapping: Vec<Mapping>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    #[prost(int64, tag = "7")]
    pub drop_frames: i64,
    #[prost(int64, tag = "8")]
    pub keep_frames: i64,
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub period: i64,
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct ValueType {
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Label {
    #[prost(int64, tag = "1")]
    pub key: i64,
    #[prost(int64, tag = "2")]
    pub str: i64,
    #[prost(int64, tag = "3")]
    pub num: i64,
    #[prost(int64, tag = "4")]
    pub num_unit: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct Mapping {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub memory_start: u64,
    #[prost(uint64, tag = "3")]
    pub memory_limit: u64,
    #[prost(uint64, tag = "4")]
    pub file_offset: u64,
    #[prost(int64, tag = "5")]
    pub filename: i64,
    #[prost(int64, tag = "6")]
    pub build_id: i64,
    #[prost(bool, tag = "7")]
    pub has_functions: bool,
    #[prost(bool, tag = "8")]
    pub has_filenames: bool,
    #[prost(bool, tag = "9")]
    pub has_line_numbers: bool,
    #[prost(bool, tag = "10")]
    pub has_inline_frames: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct Location {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub mapping_id: u64,
    #[prost(uint64, tag = "3")]
    pub address: u64,
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
    #[prost(bool, tag = "5")]
    pub is_folded: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct Line {
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    #[prost(int64, tag = "2")]
    pub line: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct Function {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(int64, tag = "2")]
    pub name: i64,
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
    #[prost(int64, tag = "5")]
    pub start_line: i64,
}

/// Reads a gzipped profile, at most [`DECODED_MAX_BYTES`] decompressed.
pub fn read(path: &Path) -> Result<Profile, PprofError> {
    let shown = || path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| PprofError::Io { path: shown(), source })?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .take(DECODED_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| PprofError::Io { path: shown(), source })?;
    if bytes.len() as u64 > DECODED_MAX_BYTES {
        return Err(PprofError::TooLarge { path: shown() });
    }
    Profile::decode(bytes.as_slice()).map_err(|source| PprofError::Decode { path: shown(), source })
}

/// Writes a gzipped profile (atomically, never through a symlink: `util::fsx`).
pub fn write(path: &Path, profile: &Profile) -> anyhow::Result<()> {
    crate::util::fsx::write_atomic_with(path, |file| {
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        gz.write_all(&profile.encode_to_vec())?;
        gz.finish()?.sync_all()
    })
}

impl Profile {
    /// String `i` of the table ("" when out of range, as pprof readers treat it).
    pub fn string(&self, i: i64) -> &str {
        usize::try_from(i).ok().and_then(|i| self.string_table.get(i)).map_or("", String::as_str)
    }

    /// Rewrites absolute source and library paths so the file carries none of this
    /// machine's: `root` (the workspace) is stripped, crates from cargo's registry keep
    /// `<crate>-<version>/…`, the Rust standard library's `/rustc/<commit>/…` is kept
    /// (the same on every machine), any other absolute path keeps its file name.
    pub fn make_paths_portable(&mut self, root: Option<&Path>) {
        let root = root.map(|r| format!("{}/", r.display()));
        for s in &mut self.string_table {
            if let Some(p) = portable_path(s, root.as_deref()) {
                *s = p;
            }
        }
    }
}

fn portable_path(s: &str, root: Option<&str>) -> Option<String> {
    if !s.starts_with('/') || s.starts_with("/rustc/") {
        return None;
    }
    if let Some(rest) = root.and_then(|r| s.strip_prefix(r)) {
        return Some(rest.to_owned());
    }
    if let Some((_, after)) = s.split_once("/registry/src/") {
        // `<index-dir>/<crate>-<version>/…`: drop the index directory.
        return Some(after.split_once('/').map_or(after, |(_, c)| c).to_owned());
    }
    Some(s.rsplit('/').next().unwrap_or(s).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_lose_this_machines_directories() {
        let root = Some("/work/main/");
        assert_eq!(portable_path("/work/main/node/src/wal/reader.rs", root).as_deref(), Some("node/src/wal/reader.rs"));
        assert_eq!(
            portable_path("/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/crc32c-0.6.8/src/lib.rs", root)
                .as_deref(),
            Some("crc32c-0.6.8/src/lib.rs")
        );
        assert_eq!(portable_path("/rustc/abc/library/alloc/src/vec/mod.rs", root), None);
        assert_eq!(portable_path("/usr/lib/x86_64-linux-gnu/libc.so.6", root).as_deref(), Some("libc.so.6"));
        assert_eq!(portable_path("syncbench_node::wal::reader::scan", root), None);
    }

    #[test]
    fn a_damaged_profile_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.pb.gz");
        std::fs::write(&p, b"not gzip").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("bad.pb.gz"), "{e}");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&[0xff; 16]).unwrap();
        std::fs::write(&p, gz.finish().unwrap()).unwrap();
        assert!(matches!(read(&p), Err(PprofError::Decode { .. })));
    }
}

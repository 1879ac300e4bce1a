//! The synthetic chain-sync workload: spec files, distributions, and the deterministic
//! block generator the driver replays against the node.
//!
//! # Layout
//! - [`spec`]: the `workloads/specs/*.toml` format, validation and located errors.
//! - [`dist`]: named distributions (`const`, `uniform`, `lognormal`, `empirical`).
//! - [`trace`]: recorded per-block sizes (CSV/JSONL) replayed instead of a model.
//! - [`generator`]: block N as a pure function of (spec, seed, N), encoded with
//!   `syncbench_proto::block` (the encoding the node decodes).
//! - [`arrival`]: the out-of-order arrival of blocks under parallel fetch.
//! - [`describe`]: sizes, shard count and disk needs of a workload before running it.
//!
//! Built-in workloads (`smoke`, `mainnet`, `mainnet-large`, `early-chain`) are the files
//! in `workloads/specs/`, embedded at compile time so the binary works from anywhere.

pub mod arrival;
pub mod describe;
pub mod dist;
pub mod generator;
pub mod rng;
pub mod spec;
pub mod trace;

use std::path::Path;

pub use arrival::ArrivalOrder;
pub use describe::Description;
pub use generator::{BlockShape, Generator};
pub use spec::{SpecError, WorkloadSpec};

/// Built-in workload names and their spec text.
pub const BUILTIN: &[(&str, &str)] = &[
    ("smoke", include_str!("../specs/smoke.toml")),
    ("mainnet", include_str!("../specs/mainnet.toml")),
    ("mainnet-large", include_str!("../specs/mainnet-large.toml")),
    ("early-chain", include_str!("../specs/early-chain.toml")),
];

/// The default workload of `syncbench ingest`.
pub const DEFAULT_WORKLOAD: &str = "mainnet";

/// Resolves a built-in name or a path to a spec file.
///
/// A name that is also an existing path is read from disk (so a local `mainnet` file
/// wins only if given as a path, e.g. `./mainnet`, or if it exists under that name).
pub fn load(name_or_path: &str) -> Result<WorkloadSpec, SpecError> {
    let path = Path::new(name_or_path);
    if path.is_file() {
        return spec::load_file(path);
    }
    match BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        Some((name, text)) => {
            let file = format!("workloads/specs/{name}.toml");
            spec::parse(text, &file, Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/specs")))
        }
        None if name_or_path.ends_with(".toml") || name_or_path.contains('/') => {
            let source = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
            Err(SpecError::Io { path: name_or_path.to_owned(), source })
        }
        None => Err(SpecError::UnknownName {
            name: name_or_path.to_owned(),
            known: BUILTIN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        }),
    }
}

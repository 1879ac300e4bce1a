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
//! Built-in workloads (`smoke`, `mainnet`, `mainnet-large`, `early-chain`, `soak`) are the files
//! in `workloads/specs/`, embedded at compile time so the binary works from anywhere.

pub mod arrival;
pub mod describe;
pub mod dist;
pub mod generator;
pub mod quote;
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
    ("soak", include_str!("../specs/soak.toml")),
    ("gate", include_str!("../specs/gate.toml")),
];

/// The default workload of `syncbench ingest`.
pub const DEFAULT_WORKLOAD: &str = "mainnet";

/// Resolves a built-in name or a path to a spec file.
///
/// A built-in name always means the built-in workload: a file of that name in the
/// working directory never shadows it silently (write `./smoke` to use the file; see
/// [`shadowed_builtin`]). Anything else is read as a path.
pub fn load(name_or_path: &str) -> Result<WorkloadSpec, SpecError> {
    if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        let file = format!("workloads/specs/{name}.toml");
        return spec::parse(text, &file, Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/specs")));
    }
    let path = Path::new(name_or_path);
    if path.exists() {
        return spec::load_file(path);
    }
    if name_or_path.ends_with(".toml") || name_or_path.contains('/') {
        let source = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        return Err(SpecError::Io { path: name_or_path.to_owned(), error: source });
    }
    Err(SpecError::UnknownName {
        name: name_or_path.to_owned(),
        known: BUILTIN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
    })
}

/// True if `name` is a built-in workload name that is also a file in the working
/// directory: [`load`] used the built-in, and the caller should say so.
pub fn shadowed_builtin(name: &str) -> bool {
    BUILTIN.iter().any(|(n, _)| *n == name) && Path::new(name).exists()
}

//! Helpers every subcommand shares and none owns: how files are written and read
//! ([`fsx`]), how text reaches standard output and error ([`out`]), how input is
//! quoted back in messages ([`text`], from the workloads crate), and how lines are read
//! with a bound ([`lines`]); [`phase`]: a step shown while it runs.
//!
//! Nothing here knows about runs, suites or the node: these modules import no other
//! module of the harness except [`crate::error`] and [`crate::signals`].

pub mod fsx;
pub mod lines;
pub mod out;
pub mod phase;

/// Quoting input back in messages (defined beside the workload loaders, which quote
/// the same way).
pub use syncbench_workloads::quote as text;

//! The record of a run, as types: what `run/` produces and `results/` writes and reads
//! back. It imports neither (only the leaf helpers `procfs`, `units`, `time`), so the
//! runner and the result files depend on it and never on each other's insides.

pub mod acks;
pub mod ceilings;
pub mod events;
pub mod heap_profile;
pub mod outcome;
pub mod sample;

//! Failure classes and their exit codes.

use syncbench_workloads::SpecError;

/// A failure the user can fix by changing the command or its input files (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// A run that ran but did not succeed: the node died, timed out, or verification
/// found a mismatch (exit 1). Results up to the failure are on disk.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RunFailed(pub String);

pub fn input(msg: impl Into<String>) -> anyhow::Error {
    InputError(msg.into()).into()
}

/// 128 + signal when interrupted, 2 for input errors anywhere in the chain, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(i) = e.chain().find_map(|c| c.downcast_ref::<crate::signals::Interrupted>()) {
        return u8::try_from(128 + i.0).unwrap_or(1);
    }
    let is_input = e.chain().any(|c| c.is::<InputError>() || c.is::<SpecError>());
    if is_input {
        2
    } else {
        1
    }
}

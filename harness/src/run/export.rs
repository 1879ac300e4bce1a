//! Reading a RocksDB store through a rocksdb node binary's `export` subcommand: the
//! node writes the requested blocks as `Block` frames on its stdout (in increasing
//! order, then `Finish`), read here one at a time. The harness never links RocksDB.

use std::io::BufReader;
use std::path::Path;
use std::process::{Child, ChildStdout, Stdio};

use anyhow::{Context, Result};
use syncbench_proto::frame::{Frame, FrameReader};

use crate::error::input;
use crate::node_bin::NodeKind;
use crate::settings::{Allocator, EngineMalloc};
use syncbench_node::config::StoreKind;

/// Most numbers asked for on the command line (the node's own bound).
const NUMBERS_MAX: usize = 100_000;

/// A running `export`; killed if dropped before its end.
pub struct Export {
    child: Child,
    frames: FrameReader<BufReader<ChildStdout>>,
    finished: bool,
    last: Option<u64>,
}

impl Export {
    /// Starts `node_bin export` (default: the glibc rocksdb node, found or built) for
    /// the store in `data`, for `numbers` (sorted) or every stored block.
    pub fn start(data: &Path, node_bin: Option<&Path>, numbers: Option<&[u64]>) -> Result<Export> {
        let kind = NodeKind {
            alloc: Allocator::Glibc,
            store: StoreKind::Rocksdb,
            engine_malloc: EngineMalloc::Allocator,
            profiled: false,
        };
        let bin = match node_bin {
            Some(b) => b.to_owned(),
            None => crate::node_bin::resolve(kind, None)?,
        };
        let mut cmd = crate::node_bin::node_command(&bin, &[]);
        cmd.arg("export").arg("--data").arg(data);
        if let Some(n) = numbers {
            if n.len() > NUMBERS_MAX {
                return Err(input(format!("expected at most {NUMBERS_MAX} blocks to read back, got {}", n.len())));
            }
            let list: Vec<String> = n.iter().map(u64::to_string).collect();
            cmd.arg("--numbers").arg(list.join(","));
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} export", bin.display()))?;
        let stdout = child.stdout.take().context("export stdout")?;
        Ok(Export { child, frames: FrameReader::new(BufReader::new(stdout)), finished: false, last: None })
    }

    /// The next block into `buf`: its number, or `None` after `Finish` (the node must
    /// then exit 0). Blocks must come in increasing order.
    pub fn next(&mut self, buf: &mut Vec<u8>) -> Result<Option<u64>> {
        if self.finished {
            return Ok(None);
        }
        match self.frames.read_frame().context("reading the store's export")? {
            Some(Frame::Block { number, payload }) => {
                anyhow::ensure!(
                    self.last.is_none_or(|l| number > l),
                    "the store's export sent block {number} after {}",
                    self.last.unwrap_or_default()
                );
                self.last = Some(number);
                *buf = payload;
                Ok(Some(number))
            }
            Some(Frame::Finish) => {
                self.finished = true;
                let status = self.child.wait().context("waiting for the export")?;
                anyhow::ensure!(status.success(), "the store's export failed ({status}; its error is above)");
                Ok(None)
            }
            other => {
                let status = self.child.wait().ok();
                anyhow::bail!(
                    "the store's export ended without Finish ({other:?}, node {status:?}; its error is above)"
                )
            }
        }
    }
}

impl Drop for Export {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

//! `node-<alloc>-rocksdb export --data DIR [--numbers N,N,…]`: writes the stored blocks
//! of a RocksDB store to stdout as `Block` frames (see `syncbench_proto::frame`), in
//! increasing order, then `Finish`. The harness reads a RocksDB store this way for
//! `verify` without linking RocksDB itself. Requested numbers that are not stored are
//! left out (the reader sees which). Read-only: RocksDB is opened read-only.
//!
//! Exit codes: 0 done; 1 i/o error (a closed stdout included); 2 usage; 3 damaged
//! store (a header without its body or receipts).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use syncbench_proto::frame::{write_frame, Frame};

use super::Reader;
use crate::store::StoreError;

/// Most numbers `--numbers` takes (a sample, not a listing of the store).
pub const NUMBERS_MAX: usize = 100_000;

struct Request {
    data: PathBuf,
    numbers: Option<Vec<u64>>,
}

fn parse(args: &[std::ffi::OsString]) -> Result<Request, String> {
    let (mut data, mut numbers) = (None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{}: expected a value, got none", flag.to_string_lossy()))?;
        match flag.to_str() {
            Some("--data") => data = Some(PathBuf::from(value)),
            Some("--numbers") => {
                let text = value.to_str().ok_or("--numbers: expected numbers, got non-UTF-8 text")?;
                let list: Vec<u64> = text
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse().map_err(|_| format!("--numbers: expected a block number, got `{s}`")))
                    .collect::<Result<_, _>>()?;
                if list.len() > NUMBERS_MAX {
                    return Err(format!("--numbers: expected at most {NUMBERS_MAX}, got {}", list.len()));
                }
                numbers = Some(list);
            }
            _ => return Err(format!("unexpected argument `{}`", flag.to_string_lossy())),
        }
    }
    Ok(Request { data: data.ok_or("--data: required")?, numbers })
}

pub fn main(args: &[std::ffi::OsString]) -> ExitCode {
    let req = match parse(args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("node export: error: {e}");
            return ExitCode::from(2);
        }
    };
    match export(&req) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Store(e)) if e.is_corruption() => {
            eprintln!("node export: {e}");
            ExitCode::from(crate::EXIT_CORRUPT)
        }
        Err(e) => {
            eprintln!("node export: error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing to stdout: {0}")]
    Out(std::io::Error),
}

fn export(req: &Request) -> Result<(), Failure> {
    let reader = Reader::open(&req.data)?;
    let mut numbers = match &req.numbers {
        Some(n) => n.clone(),
        None => reader.stored_numbers()?,
    };
    numbers.sort_unstable();
    numbers.dedup();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut buf = Vec::new();
    for number in numbers {
        if reader.get(number, &mut buf)? {
            let frame = Frame::Block { number, payload: std::mem::take(&mut buf) };
            write_frame(&mut out, &frame).map_err(Failure::Out)?;
        }
    }
    write_frame(&mut out, &Frame::Finish).map_err(Failure::Out)?;
    out.flush().map_err(Failure::Out)
}

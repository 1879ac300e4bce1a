//! `syncbench verify`: re-reads every block a node stored and compares it byte for byte
//! with the generator; optionally checks that every acknowledged block is present.
//!
//! A native store is read here (`syncbench_node::store::Reader`); a RocksDB store through
//! a rocksdb node binary's `export` subcommand (`Block` frames on a pipe), so that the
//! harness never links RocksDB.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use syncbench_node::config::StoreKind;
use syncbench_node::store::Reader;
use syncbench_workloads::{Generator, WorkloadSpec};

use crate::cli::VerifyArgs;
use crate::error::{input, RunFailed};
use crate::units::fmt_bytes;

/// Most problems listed individually before the rest are only counted.
const MAX_LISTED: usize = 20;

pub fn run(args: &VerifyArgs) -> Result<()> {
    let spec = crate::options::resolve_workload(&args.workload, &args.overrides, None)?;
    if !args.data.join(syncbench_node::store::META_FILE).is_file() {
        return Err(input(format!(
            "--data {}: expected a node data directory (with meta.json), got none",
            args.data.display()
        )));
    }
    let acked = args.acked.as_deref().map(read_acked).transpose()?;
    let _lock = lock_data_dir(&args.data)?;
    let started = Instant::now();
    let mut reader = Store::open(&args.data, args.node_bin.as_deref(), None)?;
    let mut problems = Vec::new();
    let (stored, bytes) = reader.compare_all(&spec, &mut problems)?;
    let stored_set: BTreeSet<u64> = stored.iter().copied().collect();
    let (mut missing, mut expired) = (0, 0);
    if let Some(acked) = &acked {
        for &n in acked.iter().filter(|n| !stored_set.contains(n)) {
            // A shard deleted by the node's --retain-shards left a tombstone: its
            // blocks are gone on purpose, not lost.
            if reader.is_expired(n, spec.shard_size) {
                expired += 1;
                continue;
            }
            missing += 1;
            problems.push(format!("acknowledged block {n} is missing"));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    crate::say!(
        "verified {} stored blocks ({}) in {secs:.1} s{}",
        stored.len(),
        fmt_bytes(bytes as f64),
        acked.as_ref().map_or(String::new(), |a| format!(
            "; {} acknowledged blocks checked, {missing} missing, {expired} expired by retention",
            a.len()
        ))
    );
    if problems.is_empty() {
        crate::say!("all stored blocks are byte-identical to the generator");
        return Ok(());
    }
    for p in problems.iter().take(MAX_LISTED) {
        crate::note!("syncbench: verify: {p}");
    }
    Err(RunFailed(format!("{} problem(s) found in {}", problems.len(), args.data.display())).into())
}

/// A data directory's blocks, as its kind of store is read.
enum Store {
    Native(Reader),
    /// `node export` of a RocksDB store: blocks arrive in increasing order.
    Rocks {
        root: std::path::PathBuf,
        export: crate::run::export::Export,
    },
}

impl Store {
    /// Opens the store in `data`: a RocksDB one through `node_bin` (or the rocksdb node
    /// found or built), asking for `numbers` only when given.
    fn open(data: &Path, node_bin: Option<&Path>, numbers: Option<&[u64]>) -> Result<Store> {
        match syncbench_node::store::kind_of(data)? {
            Some(StoreKind::Rocksdb) => {
                let export = crate::run::export::Export::start(data, node_bin, numbers)?;
                Ok(Store::Rocks { root: data.to_owned(), export })
            }
            _ => Ok(Store::Native(Reader::open(data)?)),
        }
    }

    fn is_expired(&self, number: u64, shard_size: u64) -> bool {
        match self {
            Store::Native(r) => r.is_expired(number),
            Store::Rocks { root, .. } => syncbench_node::retention::is_expired(root, number / shard_size),
        }
    }

    /// Reads every stored block and compares it with the generator's; returns the
    /// numbers stored and the bytes read, and appends each difference to `problems`.
    /// Looks for SIGINT/SIGTERM as it goes.
    fn compare_all(&mut self, spec: &WorkloadSpec, problems: &mut Vec<String>) -> Result<(Vec<u64>, u64)> {
        let range = spec.start_height..spec.start_height + spec.blocks;
        let mut gen = Generator::new(spec);
        let (mut want, mut got) = (Vec::new(), Vec::new());
        let (mut stored, mut bytes) = (Vec::new(), 0u64);
        let all = self.numbers()?;
        let mut listed = all.clone().into_iter();
        loop {
            if stored.len() % SIGNAL_CHECK_EVERY == 0 {
                crate::signals::check()?;
            }
            let Some(n) = self.next_block(&mut listed, &mut got)? else { break };
            stored.push(n);
            if !range.contains(&n) {
                problems.push(format!("block {n} is stored but outside the workload's range {range:?}"));
                continue;
            }
            gen.block(n, &mut want);
            if got != want {
                let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
                problems.push(format!(
                    "block {n} differs from the generator at byte {at} ({} stored vs {} expected bytes)",
                    got.len(),
                    want.len()
                ));
            }
            bytes += got.len() as u64;
        }
        let read: std::collections::BTreeSet<u64> = stored.iter().copied().collect();
        for n in all.into_iter().filter(|n| !read.contains(n)) {
            problems.push(format!("block {n} is listed but cannot be read"));
        }
        Ok((stored, bytes))
    }

    /// The numbers a native store lists (a RocksDB export lists them as it sends).
    fn numbers(&mut self) -> Result<Vec<u64>> {
        match self {
            Store::Native(r) => Ok(r.stored_numbers()?),
            Store::Rocks { .. } => Ok(Vec::new()),
        }
    }

    /// The next stored block into `got` (of `listed`, for a native store); `None` at
    /// the end. Blocks not stored are skipped: the caller sees which were not read.
    fn next_block(&mut self, listed: &mut std::vec::IntoIter<u64>, got: &mut Vec<u8>) -> Result<Option<u64>> {
        match self {
            Store::Rocks { export, .. } => export.next(got),
            Store::Native(r) => {
                for n in listed.by_ref() {
                    if r.get(n, got)? {
                        return Ok(Some(n));
                    }
                }
                Ok(None)
            }
        }
    }
}

/// Blocks verified between two looks for SIGINT/SIGTERM (a few milliseconds of work).
const SIGNAL_CHECK_EVERY: usize = 64;
/// Largest `--acked` file read: one number per line, ~10 bytes each.
const ACKED_MAX_BYTES: u64 = 256 << 20;

/// Takes a shared lock on the data directory for the check: refused (exit 2) while a
/// run holds it — a store being written reads as corrupt or incomplete — and no run
/// can claim it while it is read.
fn lock_data_dir(dir: &Path) -> Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(dir).map_err(|e| input(format!("--data {}: {e}", dir.display())))?;
    // SAFETY: flock(2) on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        let why = if e.kind() == std::io::ErrorKind::WouldBlock {
            "in use by a running syncbench run (its node is writing it); verify it after the run".to_owned()
        } else {
            e.to_string()
        };
        return Err(input(format!("--data {}: {why}", dir.display())));
    }
    Ok(file)
}

/// Reads one block number per line; blank lines are ignored.
fn read_acked(path: &Path) -> Result<Vec<u64>> {
    let text = crate::util::fsx::read_bounded(path, ACKED_MAX_BYTES, "--acked block list")?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            l.trim().parse().map_err(|_| {
                input(format!(
                    "{}:{}:1: field `block`: expected a block number, got {}",
                    path.display(),
                    i + 1,
                    crate::util::text::quote_token(l.trim())
                ))
            })
        })
        .collect()
}

/// The read-back check after a run (`--verify-sample`): acknowledged blocks read from
/// the node's store through the same reader as `syncbench verify`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SampleCheck {
    /// Blocks read back and compared.
    pub blocks: u64,
    /// What went wrong, at most [`MAX_LISTED`] entries.
    pub problems: Vec<String>,
    /// Problems beyond those listed.
    pub problems_unlisted: u64,
    /// Sampled blocks whose shard the node deleted on purpose (`--retain-shards`, a
    /// tombstone on disk): not read, not a problem.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expired: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SampleCheck {
    /// Every problem found, listed or not.
    pub fn problem_count(&self) -> u64 {
        self.problems.len() as u64 + self.problems_unlisted
    }

    fn problem(&mut self, p: String) {
        if self.problems.len() < MAX_LISTED {
            self.problems.push(p);
        } else {
            self.problems_unlisted += 1;
        }
    }
}

/// Reads each of `numbers` (acknowledged blocks) from the store in `data` (a RocksDB
/// one through the run's node binary `node_bin`) and compares it with the generator.
/// A node that acknowledged without storing fails here.
pub fn check_sample(
    data: &Path,
    node_bin: &Path,
    spec: &syncbench_workloads::WorkloadSpec,
    numbers: &[u64],
) -> SampleCheck {
    let mut check = SampleCheck { blocks: numbers.len() as u64, ..SampleCheck::default() };
    if numbers.is_empty() {
        return check;
    }
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut reader = match Store::open(data, Some(node_bin), Some(&sorted)) {
        Ok(r) => r,
        Err(e) => {
            check.problem(format!("the store holding {} acknowledged blocks cannot be opened: {e}", numbers.len()));
            return check;
        }
    };
    let (mut gen, mut want, mut got) = (Generator::new(spec), Vec::new(), Vec::new());
    let mut listed = sorted.clone().into_iter();
    let mut read = std::collections::BTreeSet::new();
    loop {
        match reader.next_block(&mut listed, &mut got) {
            Ok(Some(n)) => {
                read.insert(n);
                gen.block(n, &mut want);
                if got != want {
                    check.problem(format!("acknowledged block {n} differs from the generator"));
                }
            }
            Ok(None) => break,
            Err(e) => {
                check.problem(format!("the store cannot be read: {e}"));
                return check;
            }
        }
    }
    for &n in sorted.iter().filter(|n| !read.contains(n)) {
        if reader.is_expired(n, spec.shard_size) {
            check.expired += 1;
        } else {
            check.problem(format!("acknowledged block {n} is not in the store"));
        }
    }
    check
}

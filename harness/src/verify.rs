//! `syncbench verify`: re-reads every block a node stored and compares it byte for byte
//! with the generator; optionally checks that every acknowledged block is present.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use syncbench_node::store::Reader;
use syncbench_workloads::Generator;

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
    let started = Instant::now();
    let mut reader = Reader::open(&args.data)?;
    let stored = reader.stored_numbers()?;
    let range = spec.start_height..spec.start_height + spec.blocks;
    let mut gen = Generator::new(&spec);
    let (mut want, mut got) = (Vec::new(), Vec::new());
    let mut problems = Vec::new();
    let mut bytes = 0u64;
    for &n in &stored {
        if !range.contains(&n) {
            problems.push(format!("block {n} is stored but outside the workload's range {range:?}"));
            continue;
        }
        if !reader.get(n, &mut got)? {
            problems.push(format!("block {n} is listed but cannot be read"));
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
    let stored_set: BTreeSet<u64> = stored.iter().copied().collect();
    let mut missing = 0;
    if let Some(acked) = &acked {
        for n in acked.iter().filter(|n| !stored_set.contains(n)) {
            missing += 1;
            problems.push(format!("acknowledged block {n} is missing"));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "verified {} stored blocks ({}) in {secs:.1} s{}",
        stored.len(),
        fmt_bytes(bytes as f64),
        acked
            .as_ref()
            .map_or(String::new(), |a| format!("; {} acknowledged blocks checked, {missing} missing", a.len()))
    );
    if problems.is_empty() {
        println!("all stored blocks are byte-identical to the generator");
        return Ok(());
    }
    for p in problems.iter().take(MAX_LISTED) {
        eprintln!("syncbench: verify: {p}");
    }
    Err(RunFailed(format!("{} problem(s) found in {}", problems.len(), args.data.display())).into())
}

/// Reads one block number per line; blank lines are ignored.
fn read_acked(path: &Path) -> Result<Vec<u64>> {
    let text = std::fs::read_to_string(path).map_err(|e| input(format!("--acked {}: {e}", path.display())))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            l.trim().parse().map_err(|_| {
                input(format!(
                    "{}:{}:1: field `block`: expected a block number, got `{}`",
                    path.display(),
                    i + 1,
                    l.trim()
                ))
            })
        })
        .collect()
}

//! Embeds the rustc version, the versions of the crates that shape measurements
//! (allocators, histogram, hashing, checksums) from Cargo.lock, and the commit the
//! harness is built from into the binary, for the environment snapshot in every run's
//! config.json.

use std::process::Command;

include!("../node/build_info.rs");

const CRATES: &[&str] = &[
    "tikv-jemallocator",
    "tikv-jemalloc-sys",
    "tikv-jemalloc-ctl",
    "mimalloc",
    "libmimalloc-sys",
    "hdrhistogram",
    "tiny-keccak",
    "crc32c",
    "plotters",
];

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    println!("cargo:rustc-env=SYNCBENCH_RUSTC={version}");
    let lock = std::fs::read_to_string("../Cargo.lock").unwrap_or_default();
    let mut found = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_owned());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            if CRATES.contains(&n.as_str()) {
                found.push(format!("{n}={}", v.trim_matches('"')));
            }
        }
    }
    println!("cargo:rustc-env=SYNCBENCH_CRATE_VERSIONS={}", found.join(","));
    println!("cargo:rerun-if-changed=../Cargo.lock");
    emit_build_info();
}

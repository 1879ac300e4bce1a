//! Every malformed spec fixture gives a located error naming the field, and never a panic.
//! Fixtures live in `tests/fixtures/bad/`; each row pins file, line, column and field.

use std::path::PathBuf;

use syncbench_workloads::spec::{load_file, SpecError};

fn fixture(dir: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir).join(name)
}

/// (fixture, line, column, field, a fragment of the message)
const CASES: &[(&str, usize, usize, &str, &str)] = &[
    ("wrong_type_blocks.toml", 2, 10, "blocks", "expected u64"),
    ("unknown_top_key.toml", 5, 1, "shards", "unknown field `shards`"),
    ("unknown_dist_key.toml", 7, 47, "block.header_bytes.mean", "unknown field `mean`"),
    ("missing_shard_size.toml", 1, 1, "(document)", "missing field `shard_size`"),
    ("missing_seed.toml", 1, 1, "(document)", "missing field `seed`"),
    ("negative_header.toml", 7, 42, "block.header_bytes.value", "expected a value >= 0, got -5"),
    ("zero_shard_size.toml", 3, 14, "shard_size", "expected 1..=10000000, got 0"),
    ("sigma_zero.toml", 9, 56, "block.tx_bytes.sigma", "expected 0 < sigma <= 10, got 0"),
    ("sigma_negative.toml", 9, 56, "block.tx_bytes.sigma", "got -1.5"),
    ("empty_quantiles.toml", 10, 52, "block.logs_per_block.quantiles", "got 0"),
    ("quantiles_not_to_one.toml", 10, 52, "block.logs_per_block.quantiles", "from 0.0 to 1.0"),
    ("quantiles_decreasing.toml", 10, 52, "block.logs_per_block.quantiles", "non-decreasing"),
    ("truncated_file.toml", 11, 4, "(document)", "expected `.`, `=`"),
    ("unknown_dist_kind.toml", 7, 25, "block.header_bytes.dist", "unknown variant `poisson`"),
    ("uniform_max_below_min.toml", 8, 53, "block.txs_per_block.max", "expected max >= min"),
    ("missing_dist_param.toml", 9, 12, "block.tx_bytes.sigma", "expected `sigma`"),
    ("too_many_topics.toml", 11, 18, "block.topics_per_log", "expected values <= 4"),
    ("missing_block_model.toml", 1, 1, "block", "got neither"),
    ("zero_blocks.toml", 2, 10, "blocks", "expected 1..="),
    ("window_zero.toml", 15, 10, "arrival.window", "got 0"),
    ("rate_negative.toml", 15, 24, "arrival.rate_limit_mib_per_s", "got -3"),
    ("forbidden_param.toml", 12, 56, "block.log_data_bytes.sigma", "expected no `sigma`"),
    ("trace_missing_file.toml", 8, 8, "trace.path", "expected a readable trace file"),
    ("model_and_trace.toml", 6, 1, "block", "got both"),
    ("not_toml.toml", 1, 6, "(document)", ""),
    // Regression: each field within its cap, blocks of 31.8 MiB; ingest stalled.
    ("blocks_exceed_frame.toml", 8, 1, "block", "got blocks of at least 31.8 MiB"),
    // Regression: a rate of 1e-300 MiB/s panicked the sender (Duration overflow).
    ("rate_too_slow.toml", 15, 24, "arrival.rate_limit_mib_per_s", "expected a finite rate >= 0.01 MiB/s, got 1e-300"),
    // Regression: the field was reported as "(document)".
    ("start_height_too_large.toml", 4, 16, "start_height", "number too large"),
    // Regression: /dev/zero as a trace grew memory to 3 GB; a FIFO hung forever.
    ("trace_is_a_device.toml", 8, 8, "trace.path", "expected a regular file, got a device"),
];

#[test]
fn every_bad_fixture_is_located_and_named() {
    let mut failures = Vec::new();
    for &(name, line, col, field, fragment) in CASES {
        let err = load_file(&fixture("bad", name)).expect_err(name);
        let text = err.to_string();
        match err {
            SpecError::Invalid { file, line: l, col: c, field: f, message }
                if file.ends_with(name) && (l, c) == (line, col) && f == field && message.contains(fragment) => {}
            _ => failures.push(format!("{name}: want {line}:{col} `{field}` ~ {fragment:?}\n   got {text}")),
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_fixture_in_the_directory_is_covered() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixture("bad", ""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| c.0.to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
    assert!(listed.len() >= 15);
}

#[test]
fn minimal_good_spec_loads() {
    let spec = load_file(&fixture("good", "minimal.toml")).unwrap();
    assert_eq!((spec.blocks, spec.shard_size, spec.arrival.window), (100, 10, 1));
}

#[test]
fn error_message_reads_file_line_col_field() {
    let err = load_file(&fixture("bad", "zero_shard_size.toml")).unwrap_err().to_string();
    assert!(err.contains("zero_shard_size.toml:3:14: field `shard_size`: expected 1..=10000000, got 0"), "{err}");
}

//! Recorded traces of per-block sizes, replayed instead of a statistical model.
//!
//! ## Format
//! CSV (`.csv`) with this header line, or JSON Lines (`.jsonl`) with these keys:
//! ```text
//! block,header_bytes,tx_count,body_bytes,receipts_bytes,log_count
//! 23283452,612,171,84213,190334,640
//! ```
//! - `block`: block number; rows must be consecutive and ascending.
//! - `header_bytes`: encoded header size.
//! - `tx_count`, `body_bytes`: number of transactions and their total size.
//! - `receipts_bytes`, `log_count`: approximate total receipts size and number of logs;
//!   the generator sizes log data so the block's receipts come close to `receipts_bytes`.
//!
//! At most [`MAX_TRACE_ROWS`] rows; sizes are bounded like spec distributions.

use std::path::Path;

use serde::Deserialize;

use crate::spec::{display_path, limits, Located, SpecError};

/// Most rows a trace may hold (one row is ~48 bytes in memory).
pub const MAX_TRACE_ROWS: usize = 20_000_000;

/// One block's recorded sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceRow {
    pub block: u64,
    pub header_bytes: u32,
    pub tx_count: u32,
    pub body_bytes: u64,
    pub receipts_bytes: u64,
    pub log_count: u32,
}

/// A loaded trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Display name of the trace file (relative where possible).
    pub file: String,
    pub rows: Vec<TraceRow>,
}

const CSV_HEADER: &str = "block,header_bytes,tx_count,body_bytes,receipts_bytes,log_count";

/// Largest trace file read: ~5 million CSV rows, more than any workload on this box.
pub const MAX_TRACE_FILE_BYTES: u64 = 256 << 20;

impl Trace {
    /// Loads a `.csv` or `.jsonl` trace, validating every row.
    pub fn load(path: &Path) -> Result<Trace, SpecError> {
        let file = display_path(path);
        let text = crate::spec::read_regular_file(path, MAX_TRACE_FILE_BYTES)?;
        let loc = Located { file: &file, text: &text };
        let jsonl = path.extension().is_some_and(|e| e == "jsonl");
        let rows = if jsonl { parse_jsonl(&loc)? } else { parse_csv(&loc)? };
        if rows.is_empty() {
            return Err(loc.error(0..0, "(trace)", "expected at least one row, got none".into()));
        }
        Ok(Trace { file, rows })
    }
}

/// Byte offset of each line's start, paired with the line (without its newline).
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut at = 0;
    text.split_inclusive('\n').map(move |l| {
        let start = at;
        at += l.len();
        (start, l.trim_end_matches(['\n', '\r']))
    })
}

fn parse_csv(loc: &Located) -> Result<Vec<TraceRow>, SpecError> {
    let mut it = lines(loc.text).filter(|(_, l)| !l.trim().is_empty());
    match it.next() {
        Some((_, h)) if h.trim() == CSV_HEADER => {}
        Some((at, h)) => {
            return Err(loc.error(at..at, "(header)", format!("expected `{CSV_HEADER}`, got `{h}`")));
        }
        None => return Err(loc.error(0..0, "(header)", "expected a CSV header, got an empty file".into())),
    }
    let mut rows = Vec::new();
    for (at, line) in it {
        let mut cells = [0u64; 6];
        let mut count = 0;
        let mut col_at = at;
        for (i, cell) in line.split(',').enumerate() {
            let name = CSV_HEADER.split(',').nth(i).unwrap_or("(extra column)");
            if i >= 6 {
                return Err(loc.error(
                    col_at..col_at,
                    name,
                    format!("expected 6 columns, got {}", line.split(',').count()),
                ));
            }
            cells[i] = cell.trim().parse().map_err(|_| {
                loc.error(col_at..col_at, name, format!("expected a non-negative integer, got `{cell}`"))
            })?;
            col_at += cell.len() + 1;
            count += 1;
        }
        if count != 6 {
            return Err(loc.error(at..at, "(row)", format!("expected 6 columns, got {count}")));
        }
        let row = TraceRow {
            block: cells[0],
            header_bytes: narrow(cells[1], loc, at, "header_bytes")?,
            tx_count: narrow(cells[2], loc, at, "tx_count")?,
            body_bytes: cells[3],
            receipts_bytes: cells[4],
            log_count: narrow(cells[5], loc, at, "log_count")?,
        };
        push_row(&mut rows, row, loc, at)?;
    }
    Ok(rows)
}

fn narrow(v: u64, loc: &Located, at: usize, field: &str) -> Result<u32, SpecError> {
    u32::try_from(v).map_err(|_| loc.error(at..at, field, format!("expected a value < 2^32, got {v}")))
}

fn parse_jsonl(loc: &Located) -> Result<Vec<TraceRow>, SpecError> {
    let mut rows = Vec::new();
    for (at, line) in lines(loc.text).filter(|(_, l)| !l.trim().is_empty()) {
        let mut de = serde_json::Deserializer::from_str(line);
        let row: TraceRow = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let col = inner.column().saturating_sub(1);
            loc.error(at + col..at + col, &field, inner.to_string())
        })?;
        push_row(&mut rows, row, loc, at)?;
    }
    Ok(rows)
}

fn push_row(rows: &mut Vec<TraceRow>, row: TraceRow, loc: &Located, at: usize) -> Result<(), SpecError> {
    if rows.len() >= MAX_TRACE_ROWS {
        return Err(loc.error(at..at, "(trace)", format!("expected at most {MAX_TRACE_ROWS} rows, got more")));
    }
    if let Some(prev) = rows.last() {
        if prev.block.checked_add(1) != Some(row.block) {
            let msg = format!(
                "expected block {} (rows must be consecutive), got {}",
                prev.block.saturating_add(1),
                row.block
            );
            return Err(loc.error(at..at, "block", msg));
        }
    }
    let checks: [(&str, f64, f64); 5] = [
        ("header_bytes", f64::from(row.header_bytes), limits::MAX_HEADER_BYTES),
        ("tx_count", f64::from(row.tx_count), limits::MAX_TXS_PER_BLOCK),
        ("body_bytes", row.body_bytes as f64, limits::MAX_TX_BYTES * 8.0),
        ("receipts_bytes", row.receipts_bytes as f64, limits::MAX_LOG_DATA_BYTES * 8.0),
        ("log_count", f64::from(row.log_count), limits::MAX_LOGS_PER_BLOCK),
    ];
    for (field, v, cap) in checks {
        if v > cap {
            return Err(loc.error(at..at, field, format!("expected at most {cap}, got {v}")));
        }
    }
    rows.push(row);
    Ok(())
}

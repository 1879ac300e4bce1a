//! Recorded traces of per-block sizes, replayed instead of a statistical model.
//!
//! ## Format
//! CSV (`.csv`) with these columns (in any order; fields may be quoted), or JSON Lines
//! (`.jsonl`) with these keys:
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

use crate::quote::quote_token;
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

/// Reads CSV with the `csv` crate: columns in any order, fields may be quoted or padded
/// with spaces, blank lines skipped. Errors name line:column and the column's field.
fn parse_csv(loc: &Located) -> Result<Vec<TraceRow>, SpecError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(loc.text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) if !h.is_empty() => h.clone(),
        Ok(_) => return Err(loc.error(0..0, "(header)", "expected a CSV header, got an empty file".into())),
        Err(e) => return Err(loc.error(0..0, "(header)", e.to_string())),
    };
    check_header(loc, &headers)?;
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = reader.read_record(&mut record).map_err(|e| {
            let at = e.position().map_or(0, |p| p.byte() as usize);
            let msg = match e.kind() {
                csv::ErrorKind::UnequalLengths { len, .. } => format!("expected {} columns, got {len}", headers.len()),
                _ => e.to_string(),
            };
            loc.error(at..at, "(row)", msg)
        })?;
        if !more {
            return Ok(rows);
        }
        let at = record.position().map_or(0, |p| p.byte() as usize);
        let row: TraceRow =
            record.deserialize(Some(&headers)).map_err(|e| field_error(loc, &record, &headers, at, &e))?;
        push_row(&mut rows, row, loc, at)?;
    }
}

/// Every column of [`CSV_HEADER`] once, nothing else, in any order.
fn check_header(loc: &Located, headers: &csv::StringRecord) -> Result<(), SpecError> {
    let expected: Vec<&str> = CSV_HEADER.split(',').collect();
    let got: Vec<&str> = headers.iter().collect();
    let unknown = got.iter().find(|h| !expected.contains(h));
    let missing = expected.iter().find(|e| !got.contains(e));
    let repeated = got.iter().enumerate().find(|(i, h)| got[..*i].contains(h)).map(|(_, h)| h);
    let problem = match (unknown, missing, repeated) {
        (Some(u), _, _) => format!("unknown column {}", quote_token(u)),
        (_, Some(m), _) => format!("missing column `{m}`"),
        (_, _, Some(r)) => format!("column `{r}` twice"),
        _ => return Ok(()),
    };
    // The header is not echoed: a file that is not a trace (a path pointing at a
    // secret) must not be printed back.
    let msg = format!("expected the columns {CSV_HEADER} (any order), got {} columns: {problem}", got.len());
    Err(loc.error(0..0, "(header)", msg))
}

/// A row whose field did not parse: located at that field's column.
fn field_error(
    loc: &Located,
    record: &csv::StringRecord,
    headers: &csv::StringRecord,
    at: usize,
    e: &csv::Error,
) -> SpecError {
    let index = match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => err.field().map(|f| f as usize),
        _ => None,
    };
    let Some(i) = index else { return loc.error(at..at, "(row)", e.to_string()) };
    let field = headers.get(i).unwrap_or("(column)");
    let value = record.get(i).unwrap_or_default();
    let bound = if ["header_bytes", "tx_count", "log_count"].contains(&field) { " below 2^32" } else { "" };
    let col = at + field_offset(&loc.text[at..], i);
    loc.error(col..col, field, format!("expected a non-negative integer{bound}, got {}", quote_token(value)))
}

/// Byte offset of the `index`-th field in `line` (commas inside quotes do not count).
fn field_offset(line: &str, index: usize) -> usize {
    let (mut field, mut quoted) = (0, false);
    for (i, c) in line.char_indices() {
        if field == index {
            return i;
        }
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => field += 1,
            '\n' => break,
            _ => {}
        }
    }
    0
}

fn parse_jsonl(loc: &Located) -> Result<Vec<TraceRow>, SpecError> {
    let mut rows = Vec::new();
    for (at, line) in lines(loc.text).filter(|(_, l)| !l.trim().is_empty()) {
        // A byte-order mark before the first row, as the CSV reader accepts one.
        let (at, line) = match line.strip_prefix('\u{feff}') {
            Some(rest) => (at + '\u{feff}'.len_utf8(), rest),
            None => (at, line),
        };
        let mut de = serde_json::Deserializer::from_str(line);
        let row: TraceRow = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let col = inner.column().saturating_sub(1);
            loc.error(at + col..at + col, &quote_field(&field), jsonl_message(&inner))
        })?;
        push_row(&mut rows, row, loc, at)?;
    }
    Ok(rows)
}

/// What was wrong with a JSON Lines row, without quoting its content: serde_json's own
/// messages repeat the offending string or key.
fn jsonl_message(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => format!("expected the keys {CSV_HEADER}, each a non-negative integer"),
        Category::Syntax | Category::Eof => "expected one JSON object per line".into(),
        Category::Io => "cannot read the line".into(),
    }
}

/// A JSON path as a field name, quoted only if it is a plain token.
fn quote_field(path: &str) -> String {
    let plain = path.chars().all(|c| c.is_ascii_alphanumeric() || "._?".contains(c)) && path.len() <= 24;
    if plain {
        path.to_owned()
    } else {
        "(key)".into()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Result<Vec<TraceRow>, SpecError> {
        parse_csv(&Located { file: "t.csv", text })
    }

    #[test]
    fn columns_in_any_order_and_quoted_fields_read_alike() {
        let ordered =
            "block,header_bytes,tx_count,body_bytes,receipts_bytes,log_count\n7,600,3,900,800,4\n8,601,0,0,0,0\n";
        let shuffled = "log_count, block ,\"tx_count\",body_bytes,receipts_bytes,header_bytes\n\n4,\"7\",3,900,800,600\n0,8,0,0,0,601\n";
        assert_eq!(csv(shuffled).unwrap(), csv(ordered).unwrap());
        assert_eq!(csv(ordered).unwrap().len(), 2);
    }

    #[test]
    fn bad_headers_and_fields_are_named() {
        let unknown =
            csv("block,header_bytes,tx_count,body_bytes,receipts_bytes,log_count,gas\n").unwrap_err().to_string();
        assert!(unknown.contains("unknown column `gas`"), "{unknown}");
        let missing = csv("block,header_bytes,tx_count,body_bytes,receipts_bytes\n").unwrap_err().to_string();
        assert!(missing.contains("missing column `log_count`"), "{missing}");
        let short =
            csv("block,header_bytes,tx_count,body_bytes,receipts_bytes,log_count\n7,600,3\n").unwrap_err().to_string();
        assert!(short.contains(":2:1: field `(row)`: expected 6 columns, got 3"), "{short}");
        let quoted = "log_count,block,tx_count,body_bytes,receipts_bytes,header_bytes\n4,\"7,5\",3,900,800,-1\n";
        let bad = csv(quoted).unwrap_err().to_string();
        assert!(bad.contains(":2:3: field `block`"), "{bad}");
    }
}

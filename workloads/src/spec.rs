//! Workload spec files (`workloads/specs/*.toml`): parsing, validation and located errors.
//!
//! Parsing happens in two steps: serde reads the TOML into `Raw*` structs that keep the
//! byte span of every value that validation may reject, then [`validate`] turns them
//! into the typed [`WorkloadSpec`]. Every error names file, line:column, the field path,
//! and what was expected versus what was found.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::dist::Dist;

/// Upper bounds on every quantity a spec can ask for (the node and generator rely on them).
pub mod limits {
    pub const MAX_BLOCKS: u64 = 100_000_000;
    pub const MAX_SHARD_SIZE: u64 = 10_000_000;
    pub const MAX_WINDOW: u64 = 65_536;
    pub const MAX_HEADER_BYTES: f64 = 1_048_576.0;
    pub const MAX_TXS_PER_BLOCK: f64 = 100_000.0;
    pub const MAX_TX_BYTES: f64 = 1_048_576.0;
    pub const MAX_LOGS_PER_BLOCK: f64 = 200_000.0;
    pub const MAX_TOPICS_PER_LOG: f64 = 4.0;
    pub const MAX_LOG_DATA_BYTES: f64 = 1_048_576.0;
    pub const MAX_BATCH_LATENCY_MS: f64 = 60_000.0;
    pub const MAX_QUANTILES: usize = 1_000;
    /// Slowest send rate: 10 KiB/s (one mainnet block every ~27 s). Slower rates turn a
    /// benchmark into a wait, and sleeps computed from them overflow.
    pub const MIN_RATE_MIB_PER_S: f64 = 0.01;
}

/// A validated workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadSpec {
    pub name: String,
    pub description: String,
    pub blocks: u64,
    pub start_height: u64,
    pub shard_size: u64,
    pub seed: u64,
    pub content: Content,
    pub arrival: Arrival,
}

impl WorkloadSpec {
    /// A fingerprint of everything that determines the block stream: Keccak-256 (first
    /// 16 hex digits) of the spec's resolved fields — block range, shard size, seed,
    /// model or trace rows, arrival — after command-line overrides. The name and
    /// description are labels and are left out, so two specs that generate the same
    /// blocks the same way match, and a different spec under a familiar name does not.
    /// A test pins the built-in workloads' fingerprints: changing this encoding shows.
    pub fn fingerprint(&self) -> String {
        use tiny_keccak::Hasher;
        let (b, h, sh, seed) = (self.blocks, self.start_height, self.shard_size, self.seed);
        let mut k = tiny_keccak::Keccak::v256();
        match &self.content {
            Content::Model(_) => {
                let text = format!(
                    "syncbench-workload/1 blocks={b} start={h} shard={sh} seed={seed} content={:?} arrival={:?}",
                    self.content, self.arrival
                );
                k.update(text.as_bytes());
            }
            // Trace rows by value, streamed: not the file's name (the same trace read
            // from another directory is the same workload), and no giant string.
            Content::Trace(t) => {
                let text = format!("syncbench-workload/1 blocks={b} start={h} shard={sh} seed={seed} trace");
                k.update(text.as_bytes());
                for r in &t.rows {
                    let fields = [r.block, r.header_bytes.into(), r.tx_count.into(), r.body_bytes, r.receipts_bytes];
                    fields.iter().chain([u64::from(r.log_count)].iter()).for_each(|v| k.update(&v.to_le_bytes()));
                }
                k.update(format!(" arrival={:?}", self.arrival).as_bytes());
            }
        }
        let mut out = [0u8; 32];
        k.finalize(&mut out);
        out[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Where per-block sizes come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Model(BlockModel),
    /// Per-block sizes replayed from a recorded trace (see [`crate::trace`]).
    Trace(crate::trace::Trace),
}

/// The statistical model of one block.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockModel {
    pub header_bytes: Dist,
    pub txs_per_block: Dist,
    pub tx_bytes: Dist,
    pub logs_per_block: Dist,
    pub topics_per_log: Dist,
    pub log_data_bytes: Dist,
}

/// How blocks reach the node: parallel fetch reorders blocks inside an in-flight window.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// Blocks fetched in parallel; arrival order is shuffled within each window.
    pub window: u64,
    /// Cap on the driver's send rate, if any.
    pub rate_limit_mib_per_s: Option<f64>,
    /// Extra delay before each window is released (emulates fetch latency), if any.
    pub batch_latency_ms: Option<Dist>,
}

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Not a `#[source]`: the message already carries it (printed once, not twice).
    #[error("{path}: cannot read workload spec: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("unknown workload `{name}`: not a built-in name ({known}) and no such file")]
    UnknownName { name: String, known: String },
    #[error("{file}:{line}:{col}: field `{field}`: {message}")]
    Invalid { file: String, line: usize, col: usize, field: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: Option<Spanned<String>>,
    description: Option<Spanned<String>>,
    blocks: Option<Spanned<u64>>,
    start_height: Option<u64>,
    shard_size: Spanned<u64>,
    seed: u64,
    block: Option<Spanned<RawBlockModel>>,
    trace: Option<Spanned<RawTrace>>,
    #[serde(default)]
    arrival: RawArrival,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlockModel {
    header_bytes: Spanned<RawDist>,
    txs_per_block: Spanned<RawDist>,
    tx_bytes: Spanned<RawDist>,
    logs_per_block: Spanned<RawDist>,
    topics_per_log: Spanned<RawDist>,
    log_data_bytes: Spanned<RawDist>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrace {
    path: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawArrival {
    window: Option<Spanned<u64>>,
    rate_limit_mib_per_s: Option<Spanned<f64>>,
    batch_latency_ms: Option<Spanned<RawDist>>,
}

#[derive(Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
enum DistKind {
    Const,
    Uniform,
    Lognormal,
    Empirical,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDist {
    dist: DistKind,
    value: Option<Spanned<f64>>,
    min: Option<Spanned<f64>>,
    max: Option<Spanned<f64>>,
    median: Option<Spanned<f64>>,
    sigma: Option<Spanned<f64>>,
    quantiles: Option<Spanned<Vec<[f64; 2]>>>,
}

/// Drops the private segments `toml::Spanned` adds to serde paths; `.` becomes `(document)`.
fn clean_path(path: &str) -> String {
    let cleaned: Vec<&str> = path.split('.').filter(|s| !s.is_empty() && !s.starts_with("$__")).collect();
    if cleaned.is_empty() {
        "(document)".to_owned()
    } else {
        cleaned.join(".")
    }
}

/// The `key` of a `key = value` line, when byte offset `at` lies in its value.
fn key_before(text: &str, at: usize) -> Option<String> {
    let line_start = text.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let (key, _) = text.get(line_start..at)?.split_once('=')?;
    let key = key.trim();
    let valid = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then(|| key.to_owned())
}

/// Source text plus its display name, used to turn byte spans into line:column.
pub(crate) struct Located<'a> {
    pub(crate) file: &'a str,
    pub(crate) text: &'a str,
}

impl Located<'_> {
    pub(crate) fn error(&self, span: Range<usize>, field: &str, message: String) -> SpecError {
        let (line, col) = line_col(self.text, span.start);
        SpecError::Invalid { file: self.file.to_owned(), line, col, field: field.to_owned(), message }
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Parses and validates spec `text`; `file` is the name used in errors and `dir` the
/// directory relative trace paths resolve against.
pub fn parse(text: &str, file: &str, dir: &Path) -> Result<WorkloadSpec, SpecError> {
    let loc = Located { file, text };
    let de = toml::Deserializer::new(text);
    let raw: RawSpec = serde_path_to_error::deserialize(de).map_err(|e| {
        let mut field = clean_path(&e.path().to_string());
        let inner = e.into_inner();
        let span = inner.span().unwrap_or(0..0);
        if field == "(document)" {
            // A value the TOML reader itself rejects (e.g. an integer beyond i64) comes
            // without a path: name the key written before it on its line instead.
            field = key_before(text, span.start).unwrap_or(field);
        }
        loc.error(span, &field, inner.message().to_owned())
    })?;
    validate(raw, &loc, dir)
}

/// Longest workload name: it names run and suite directories and chart titles.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest description (a line in `describe` and config.json).
const MAX_DESCRIPTION_CHARS: usize = 500;

/// A workload's name: letters, digits, `.`, `_` and `-`, at most [`MAX_NAME_CHARS`],
/// not starting with `.` (it becomes part of directory names: no `/`, no `..`, no
/// control characters to print into a terminal).
fn check_name(n: Spanned<String>, loc: &Located) -> Result<String, SpecError> {
    let s = n.get_ref();
    let ok = !s.is_empty()
        && s.chars().count() <= MAX_NAME_CHARS
        && !s.starts_with('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        return Ok(n.into_inner());
    }
    let msg = format!(
        "expected 1..={MAX_NAME_CHARS} letters, digits, `.`, `_` or `-` (not starting with `.`), got {}",
        crate::quote::quote_token(s)
    );
    Err(loc.error(n.span(), "name", msg))
}

/// The name of a spec without one: its file's stem, kept to the characters a name may
/// have.
fn name_from_file(file: &str) -> String {
    let stem = Path::new(file).file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let clean: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' })
        .take(MAX_NAME_CHARS)
        .collect();
    let clean = clean.trim_start_matches('.').to_owned();
    if clean.is_empty() {
        "unnamed".into()
    } else {
        clean
    }
}

fn validate(raw: RawSpec, loc: &Located, dir: &Path) -> Result<WorkloadSpec, SpecError> {
    let shard_size = *raw.shard_size.get_ref();
    if !(1..=limits::MAX_SHARD_SIZE).contains(&shard_size) {
        let msg = format!("expected 1..={}, got {shard_size}", limits::MAX_SHARD_SIZE);
        return Err(loc.error(raw.shard_size.span(), "shard_size", msg));
    }
    let (content, blocks, start_height) = match (raw.block, raw.trace) {
        (Some(model), None) => {
            let blocks = raw.blocks.ok_or_else(|| {
                loc.error(0..0, "blocks", "expected a block count for a model workload, got nothing".into())
            })?;
            let span = model.span();
            let model = validate_model(model.into_inner(), loc)?;
            check_block_fits(&model, span, loc)?;
            (Content::Model(model), blocks, raw.start_height.unwrap_or(0))
        }
        (None, Some(trace)) => validate_trace(trace.into_inner(), raw.blocks, loc, dir)?,
        (Some(m), Some(_)) => {
            return Err(loc.error(m.span(), "block", "expected either [block] or [trace], got both".into()))
        }
        (None, None) => {
            return Err(loc.error(0..0, "block", "expected a [block] model or a [trace], got neither".into()))
        }
    };
    let n = *blocks.get_ref();
    if !(1..=limits::MAX_BLOCKS).contains(&n) {
        return Err(loc.error(blocks.span(), "blocks", format!("expected 1..={}, got {n}", limits::MAX_BLOCKS)));
    }
    if start_height.checked_add(n).is_none() {
        return Err(loc.error(0..0, "start_height", "expected start_height + blocks to fit in u64".into()));
    }
    let name = match raw.name {
        Some(n) => check_name(n, loc)?,
        None => name_from_file(loc.file),
    };
    let description = match raw.description {
        Some(d) if d.get_ref().chars().count() > MAX_DESCRIPTION_CHARS || d.get_ref().chars().any(char::is_control) => {
            let msg = format!("expected at most {MAX_DESCRIPTION_CHARS} characters without control characters");
            return Err(loc.error(d.span(), "description", msg));
        }
        Some(d) => d.into_inner(),
        None => String::new(),
    };
    Ok(WorkloadSpec {
        name,
        description,
        blocks: n,
        start_height,
        shard_size,
        seed: raw.seed,
        content,
        arrival: validate_arrival(raw.arrival, loc)?,
    })
}

/// A trace workload's content, its block count (the trace's length unless `blocks`
/// asks for fewer) and its first block number.
fn validate_trace(
    trace: RawTrace,
    blocks: Option<Spanned<u64>>,
    loc: &Located,
    dir: &Path,
) -> Result<(Content, Spanned<u64>, u64), SpecError> {
    let path = trace.path;
    let resolved = dir.join(path.get_ref());
    let trace = crate::trace::Trace::load(&resolved).map_err(|e| match e {
        SpecError::Io { error: source, .. } => loc.error(
            path.span(),
            "trace.path",
            format!("expected a readable trace file, got `{}`: {source}", crate::quote::quote_line(path.get_ref())),
        ),
        other => other,
    })?;
    check_trace_fits(&trace, path.span(), loc)?;
    let available = trace.rows.len() as u64;
    let blocks = match blocks {
        Some(b) if *b.get_ref() > available => {
            let msg = format!("expected at most the trace's {available} blocks, got {}", b.get_ref());
            return Err(loc.error(b.span(), "blocks", msg));
        }
        Some(b) => b,
        None => Spanned::new(0..0, available),
    };
    let start = trace.rows.first().map_or(0, |r| r.block);
    Ok((Content::Trace(trace), blocks, start))
}

fn validate_model(m: RawBlockModel, loc: &Located) -> Result<BlockModel, SpecError> {
    use limits::*;
    Ok(BlockModel {
        header_bytes: validate_dist(m.header_bytes, "block.header_bytes", MAX_HEADER_BYTES, loc)?,
        txs_per_block: validate_dist(m.txs_per_block, "block.txs_per_block", MAX_TXS_PER_BLOCK, loc)?,
        tx_bytes: validate_dist(m.tx_bytes, "block.tx_bytes", MAX_TX_BYTES, loc)?,
        logs_per_block: validate_dist(m.logs_per_block, "block.logs_per_block", MAX_LOGS_PER_BLOCK, loc)?,
        topics_per_log: validate_dist(m.topics_per_log, "block.topics_per_log", MAX_TOPICS_PER_LOG, loc)?,
        log_data_bytes: validate_dist(m.log_data_bytes, "block.log_data_bytes", MAX_LOG_DATA_BYTES, loc)?,
    })
}

/// Refuses a model whose largest blocks cannot be sent: every field may be within its
/// cap while header + per-transaction and per-log overheads at their maxima exceed what
/// one frame holds (the generator can shrink payload bytes to fit, not counts).
fn check_block_fits(m: &BlockModel, span: Range<usize>, loc: &Located) -> Result<(), SpecError> {
    let (header, txs) = (m.header_bytes.max(), m.txs_per_block.max());
    let (logs, topics) = (m.logs_per_block.max(), m.topics_per_log.max());
    let least = crate::generator::least_block_bytes(header, txs, logs, topics);
    let limit = crate::generator::BLOCK_BUDGET;
    if least > limit {
        let mib = |b: f64| b / (1024.0 * 1024.0);
        let msg = format!(
            "expected blocks that fit in a frame ({:.1} MiB after payload bytes are trimmed), got blocks of at least \
             {:.1} MiB at the distributions' maxima (header {header:.0} B, {txs:.0} transactions, {logs:.0} logs × \
             {topics:.0} topics): lower header_bytes, txs_per_block, logs_per_block or topics_per_log",
            mib(limit),
            mib(least)
        );
        return Err(loc.error(span, "block", msg));
    }
    Ok(())
}

/// The same for a trace: a row whose counts cannot fit in a frame (with up to four
/// topics per log, as the generator may draw) is refused, naming the row.
fn check_trace_fits(t: &crate::trace::Trace, span: Range<usize>, loc: &Located) -> Result<(), SpecError> {
    let limit = crate::generator::BLOCK_BUDGET;
    let least = |r: &crate::trace::TraceRow| {
        let (h, txs, logs) = (f64::from(r.header_bytes), f64::from(r.tx_count), f64::from(r.log_count));
        crate::generator::least_block_bytes(h, txs, logs, limits::MAX_TOPICS_PER_LOG)
    };
    match t.rows.iter().enumerate().find(|(_, r)| least(r) > limit) {
        None => Ok(()),
        Some((i, r)) => Err(loc.error(
            span,
            "trace.path",
            format!(
                "expected rows that fit in a frame ({:.1} MiB), got row {} (block {}) needing at least {:.1} MiB",
                limit / (1024.0 * 1024.0),
                i + 1,
                r.block,
                least(r) / (1024.0 * 1024.0)
            ),
        )),
    }
}

fn validate_arrival(a: RawArrival, loc: &Located) -> Result<Arrival, SpecError> {
    let window = match a.window {
        None => 1,
        Some(w) if (1..=limits::MAX_WINDOW).contains(w.get_ref()) => *w.get_ref(),
        Some(w) => {
            let msg = format!("expected 1..={}, got {}", limits::MAX_WINDOW, w.get_ref());
            return Err(loc.error(w.span(), "arrival.window", msg));
        }
    };
    let rate_limit_mib_per_s = match a.rate_limit_mib_per_s {
        None => None,
        Some(r) if *r.get_ref() >= limits::MIN_RATE_MIB_PER_S && r.get_ref().is_finite() => Some(*r.get_ref()),
        Some(r) => {
            let msg = format!("expected a finite rate >= {} MiB/s, got {:?}", limits::MIN_RATE_MIB_PER_S, r.get_ref());
            return Err(loc.error(r.span(), "arrival.rate_limit_mib_per_s", msg));
        }
    };
    let batch_latency_ms = a
        .batch_latency_ms
        .map(|d| validate_dist(d, "arrival.batch_latency_ms", limits::MAX_BATCH_LATENCY_MS, loc))
        .transpose()?;
    Ok(Arrival { window, rate_limit_mib_per_s, batch_latency_ms })
}

/// Checks a distribution's parameters for its kind and that it never exceeds `cap`.
fn validate_dist(raw: Spanned<RawDist>, field: &str, cap: f64, loc: &Located) -> Result<Dist, SpecError> {
    let span = raw.span();
    let r = raw.into_inner();
    let v = DistFields { r: &r, field, span: span.clone(), loc };
    let dist = match r.dist {
        DistKind::Const => {
            v.forbid(&["min", "max", "median", "sigma", "quantiles"])?;
            Dist::Const { value: v.size("value")? }
        }
        DistKind::Uniform => {
            v.forbid(&["value", "median", "sigma", "quantiles"])?;
            let (min, max) = (v.size("min")?, v.size("max")?);
            v.check(max >= min, "max", format!("expected max >= min ({min}), got {max}"))?;
            Dist::Uniform { min, max }
        }
        DistKind::Lognormal => {
            v.forbid(&["value", "quantiles"])?;
            let median = v.size("median")?;
            v.check(median > 0.0, "median", format!("expected median > 0, got {median}"))?;
            let sigma = v.number("sigma")?;
            v.check(sigma > 0.0 && sigma <= 10.0, "sigma", format!("expected 0 < sigma <= 10, got {sigma}"))?;
            let min = v.optional_size("min")?.unwrap_or(0.0);
            let max = v.optional_size("max")?.unwrap_or(cap);
            v.check(max >= min, "max", format!("expected max >= min ({min}), got {max}"))?;
            Dist::Lognormal { median, sigma, min, max }
        }
        DistKind::Empirical => {
            v.forbid(&["value", "min", "max", "median", "sigma"])?;
            Dist::Empirical { quantiles: v.quantiles()? }
        }
    };
    let top = dist.quantile(1.0);
    if top > cap {
        return Err(loc.error(span, field, format!("expected values <= {cap}, got a maximum of {top}")));
    }
    Ok(dist)
}

/// Accessors for one raw distribution table that produce located errors.
struct DistFields<'a> {
    r: &'a RawDist,
    field: &'a str,
    span: Range<usize>,
    loc: &'a Located<'a>,
}

impl DistFields<'_> {
    fn get(&self, name: &str) -> Option<&Spanned<f64>> {
        match name {
            "value" => self.r.value.as_ref(),
            "min" => self.r.min.as_ref(),
            "max" => self.r.max.as_ref(),
            "median" => self.r.median.as_ref(),
            "sigma" => self.r.sigma.as_ref(),
            _ => None,
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}.{name}", self.field)
    }

    fn forbid(&self, names: &[&str]) -> Result<(), SpecError> {
        for &n in names {
            let span = if n == "quantiles" {
                self.r.quantiles.as_ref().map(Spanned::span)
            } else {
                self.get(n).map(Spanned::span)
            };
            if let Some(span) = span {
                let msg = format!("expected no `{n}` for dist = \"{:?}\", got one", self.r.dist).to_lowercase();
                return Err(self.loc.error(span, &self.path(n), msg));
            }
        }
        Ok(())
    }

    fn number(&self, name: &str) -> Result<f64, SpecError> {
        let s = self.get(name).ok_or_else(|| {
            let kind = format!("{:?}", self.r.dist).to_lowercase();
            self.loc.error(
                self.span.clone(),
                &self.path(name),
                format!("expected `{name}` for dist = \"{kind}\", got nothing"),
            )
        })?;
        let v = *s.get_ref();
        if !v.is_finite() {
            return Err(self.loc.error(s.span(), &self.path(name), format!("expected a finite number, got {v}")));
        }
        Ok(v)
    }

    fn size(&self, name: &str) -> Result<f64, SpecError> {
        let v = self.number(name)?;
        if v < 0.0 {
            let span = self.get(name).map_or(self.span.clone(), Spanned::span);
            return Err(self.loc.error(span, &self.path(name), format!("expected a value >= 0, got {v}")));
        }
        Ok(v)
    }

    fn optional_size(&self, name: &str) -> Result<Option<f64>, SpecError> {
        self.get(name).map(|_| self.size(name)).transpose()
    }

    fn check(&self, ok: bool, name: &str, message: String) -> Result<(), SpecError> {
        if ok {
            return Ok(());
        }
        let span = self.get(name).map_or(self.span.clone(), Spanned::span);
        Err(self.loc.error(span, &self.path(name), message))
    }

    fn quantiles(&self) -> Result<Vec<(f64, f64)>, SpecError> {
        let path = self.path("quantiles");
        let q = self.r.quantiles.as_ref().ok_or_else(|| {
            self.loc.error(
                self.span.clone(),
                &path,
                "expected `quantiles` for dist = \"empirical\", got nothing".into(),
            )
        })?;
        let (span, points) = (q.span(), q.get_ref());
        let err = |m: String| Err(self.loc.error(span.clone(), &path, m));
        if points.len() < 2 || points.len() > limits::MAX_QUANTILES {
            return err(format!(
                "expected 2..={} [probability, value] points, got {}",
                limits::MAX_QUANTILES,
                points.len()
            ));
        }
        if points[0][0] != 0.0 || points[points.len() - 1][0] != 1.0 {
            return err(format!(
                "expected probabilities from 0.0 to 1.0, got {} to {}",
                points[0][0],
                points[points.len() - 1][0]
            ));
        }
        for w in points.windows(2) {
            if w[1][0] <= w[0][0] || w[1][1] < w[0][1] {
                return err(format!(
                    "expected strictly increasing probabilities and non-decreasing values, got {:?} then {:?}",
                    w[0], w[1]
                ));
            }
        }
        if points.iter().any(|p| p[1] < 0.0 || !p[1].is_finite()) {
            return err("expected finite values >= 0, got a negative or non-finite value".into());
        }
        Ok(points.iter().map(|p| (p[0], p[1])).collect())
    }
}

/// Display name for a spec path: relative to the current directory when possible, so
/// that errors and committed configs never carry this machine's absolute paths.
pub fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}

/// Reads and parses the spec file at `path`.
pub fn load_file(path: &Path) -> Result<WorkloadSpec, SpecError> {
    let text = read_regular_file(path, MAX_SPEC_FILE_BYTES)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    parse(&text, &display_path(path), &dir)
}

/// Largest spec file read (a spec is a few KiB; empirical quantiles add ~30 B each).
pub const MAX_SPEC_FILE_BYTES: u64 = 1 << 20;

/// Reads a regular file of at most `max` bytes as text. Devices (`/dev/zero`), FIFOs
/// and directories are refused before anything is opened or allocated.
pub fn read_regular_file(path: &Path, max: u64) -> Result<String, SpecError> {
    let shown = display_path(path);
    let io = |error| SpecError::Io { path: shown.clone(), error };
    let meta = std::fs::metadata(path).map_err(io)?;
    let kind = meta.file_type();
    let what = if kind.is_dir() { "a directory" } else { "a device, FIFO or socket" };
    if !kind.is_file() {
        let message = format!("expected a regular file, got {what}");
        return Err(io(std::io::Error::new(std::io::ErrorKind::InvalidInput, message)));
    }
    if meta.len() > max {
        let message = format!("expected at most {max} bytes, got {}", meta.len());
        return Err(io(std::io::Error::new(std::io::ErrorKind::InvalidInput, message)));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(std::fs::File::open(path).map_err(io)?, max), &mut text)
        .map_err(io)?;
    Ok(text)
}

//! Gate thresholds: how much each gated metric may grow over the baseline.
//!
//! ## Format
//! TOML, every key optional (defaults below, also in `results/baselines/thresholds.toml`):
//! ```toml
//! [limits_pct]              # allowed increase over the baseline's centre, percent
//! alloc_count = 1.0
//! alloc_bytes_total = 1.0
//! heap_live_end_bytes = 1.0
//! store_bytes_written = 1.0
//! heap_live_peak_bytes = 3.0
//! rss_peak_bytes = 5.0
//! rss_p50_bytes = 3.5
//!
//! [ab]                      # interleaved base-vs-head (`syncbench ab`)
//! floor_pct = 5.0           # a slowdown is called only when its whole 95 % interval is beyond this
//! ```
//! Errors name file, line:column and field (exit 2).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde::Deserialize;
use toml::Spanned;

use crate::error::input;

/// Gated metrics (keys of `summary.json`) and their default allowed increase, percent,
/// for the gate's workload (`gate`: 8,000 mainnet blocks at 80 MiB/s), comparing
/// geometric means (medians for the peak live heap, `baseline::MEDIAN_CENTRED`). From
/// the calibration suite `results/20261207T020320Z_gate_calibration` (host vm,
/// 2026-12-07; its READING.md and `calibrate --out` directories): 6 base runs beside 6
/// head runs (`ab --judge memory`, as CI ran it until 2026-12-08) failed 1.8 % of 2,000 A/A draws from
/// 15 clean runs and caught a retained allocation of 5.2 % of peak RSS on
/// `rss_p50_bytes` in 94.6 %; a 10-run baseline against 5 runs, 1.1 % and 96.9 %. The
/// counts and bytes are near-deterministic (≤ 0.5 % between clean runs): 1 %. Peak live
/// heap: within 1 % in most runs: 3 %. RSS p50 (2.7 % CV) 3.5 % (at 3 % 6-vs-6 draws
/// failed it in 2.8 %); peak RSS (3.9 % CV) 5 %. CI runs 10 base beside 10 head runs
/// since `results/20261208T023512Z_gate_calibration-rounds` (2026-12-08): under a normal
/// model RSS p50's 3.5 % fails under 2 % of clean comparisons at 10 vs 10 up to an sd
/// of 3.75 % between runs (6 vs 6: 2.90 %; the committed sets measured 1.9–3.3 %).
pub const DEFAULT_LIMITS_PCT: &[(&str, f64)] = &[
    ("alloc_count", 1.0),
    ("alloc_bytes_total", 1.0),
    ("heap_live_end_bytes", 1.0),
    ("store_bytes_written", 1.0),
    ("heap_live_peak_bytes", 3.0),
    ("rss_peak_bytes", 5.0),
    ("rss_p50_bytes", 3.5),
];
pub const DEFAULT_AB_FLOOR_PCT: f64 = 5.0;
/// Largest thresholds file read (a few hundred bytes in practice).
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Largest limit accepted: beyond this a gate gates nothing.
const MAX_PCT: f64 = 1_000.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub limits_pct: BTreeMap<String, f64>,
    pub ab_floor_pct: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            limits_pct: DEFAULT_LIMITS_PCT.iter().map(|&(k, v)| (k.to_owned(), v)).collect(),
            ab_floor_pct: DEFAULT_AB_FLOOR_PCT,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    limits_pct: Option<RawLimits>,
    ab: Option<RawAb>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    alloc_count: Option<Spanned<f64>>,
    alloc_bytes_total: Option<Spanned<f64>>,
    heap_live_end_bytes: Option<Spanned<f64>>,
    heap_live_peak_bytes: Option<Spanned<f64>>,
    store_bytes_written: Option<Spanned<f64>>,
    rss_peak_bytes: Option<Spanned<f64>>,
    rss_p50_bytes: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAb {
    floor_pct: Option<Spanned<f64>>,
}

impl Thresholds {
    pub fn load(path: &Path) -> Result<Thresholds> {
        let text = crate::util::fsx::read_bounded(path, MAX_FILE_BYTES, "thresholds")?;
        Thresholds::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, file: &str) -> Result<Thresholds> {
        let at = |span: std::ops::Range<usize>, field: &str, msg: String| {
            let (line, col) = syncbench_workloads::spec::line_col(text, span.start);
            input(format!("{file}:{line}:{col}: field `{field}`: {msg}"))
        };
        let raw: Raw = serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(|e| {
            let field: Vec<String> = e
                .path()
                .to_string()
                .split('.')
                .filter(|s| !s.is_empty() && *s != "?" && !s.starts_with("$__"))
                .map(str::to_owned)
                .collect();
            let field = if field.is_empty() { "(document)".to_owned() } else { field.join(".") };
            let inner = e.into_inner();
            at(inner.span().unwrap_or(0..0), &field, inner.message().trim().replace('\n', " "))
        })?;
        let mut t = Thresholds::default();
        let check = |v: &Spanned<f64>, field: &str| -> Result<f64> {
            let x = *v.get_ref();
            if !(0.0..=MAX_PCT).contains(&x) {
                return Err(at(v.span(), field, format!("expected a percentage in 0..={MAX_PCT}, got {x}")));
            }
            Ok(x)
        };
        if let Some(l) = raw.limits_pct {
            let given = [
                ("alloc_count", l.alloc_count),
                ("alloc_bytes_total", l.alloc_bytes_total),
                ("heap_live_end_bytes", l.heap_live_end_bytes),
                ("heap_live_peak_bytes", l.heap_live_peak_bytes),
                ("store_bytes_written", l.store_bytes_written),
                ("rss_peak_bytes", l.rss_peak_bytes),
                ("rss_p50_bytes", l.rss_p50_bytes),
            ];
            for (key, v) in given {
                if let Some(v) = v {
                    t.limits_pct.insert(key.to_owned(), check(&v, &format!("limits_pct.{key}"))?);
                }
            }
        }
        if let Some(v) = raw.ab.and_then(|a| a.floor_pct) {
            // The same bound as `ab --floor-pct`: a floor of 100 % calls nothing.
            if !(0.0..100.0).contains(v.get_ref()) {
                return Err(at(
                    v.span(),
                    "ab.floor_pct",
                    format!("expected a percentage in 0..100, got {}", v.get_ref()),
                ));
            }
            t.ab_floor_pct = *v.get_ref();
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        format!("{:#}", Thresholds::parse(text, "t.toml").unwrap_err())
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(Thresholds::parse("", "t.toml").unwrap(), Thresholds::default());
        let t = Thresholds::parse("[limits_pct]\nrss_peak_bytes = 15\n[ab]\nfloor_pct = 2.5\n", "t.toml").unwrap();
        assert_eq!(t.limits_pct.len(), DEFAULT_LIMITS_PCT.len());
        assert_eq!((t.limits_pct["rss_peak_bytes"], t.limits_pct["alloc_count"], t.ab_floor_pct), (15.0, 1.0, 2.5));
    }

    #[test]
    fn bad_files_name_line_column_and_field() {
        assert_eq!(
            err("[limits_pct]\nalloc_count = -1.0\n"),
            "t.toml:2:15: field `limits_pct.alloc_count`: expected a percentage in 0..=1000, got -1"
        );
        assert!(err("[limits_pct]\nrss_peak = 3\n")
            .starts_with("t.toml:2:1: field `limits_pct.rss_peak`: unknown field `rss_peak`"));
        assert!(err("[limits_pct]\nalloc_count = \"3%\"\n").starts_with("t.toml:2:15: field `limits_pct.alloc_count`"));
        assert!(err("[ab]\nfloor_pct = 5.0\nfloor_pct = 6.0\n").starts_with("t.toml:3:1"));
        assert!(
            err("[speed]\n").starts_with("t.toml:1:2: field `speed`: unknown field `speed`"),
            "{}",
            err("[speed]\n")
        );
        assert_eq!(err("[limits_pct\n"), "t.toml:1:12: field `(document)`: invalid table header expected `.`, `]`");
    }
}

//! A tuning suite's files: `tuning.md` (the table and the recommendation),
//! `tuning.json` ([`Tuning`]) and `charts/pareto.svg`, and the lines `tune` prints.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use super::{Change, Figure, Recommendation, SettingRow, Tuning, COST, MEMORY};
use crate::charts::pareto::{ParetoData, ParetoSetting, Point};
use crate::matrix::comparison::MetricKey;
use crate::stats::{Direction, Verdict};

/// Column titles of the table, in [`MEMORY`] then [`COST`] order.
fn column(key: MetricKey) -> &'static str {
    match key {
        MetricKey::RssP50 => "RSS p50 (MiB)",
        MetricKey::RssMibSPerGib => "RSS × time (MiB·s/GiB)",
        MetricKey::Throughput => "throughput (MiB/s)",
        MetricKey::IngestP99 => "ingest p99 (ms)",
        MetricKey::Cpu => "node CPU (s)",
        MetricKey::CpuSysShare => "kernel share of node CPU (%)",
        _ => "",
    }
}

/// A value with the digits its size deserves.
pub fn num(v: f64) -> String {
    match v.abs() {
        a if a >= 1000.0 => {
            let s = format!("{v:.0}");
            let (sign, digits) = s.split_at(usize::from(s.starts_with('-')));
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            format!("{sign}{out}")
        }
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

/// `×0.82 [0.75–0.90] **better**` (`=` when not called).
pub fn change(c: &Change, bold: bool) -> String {
    let verdict = match c.verdict {
        Verdict::Better if bold => "**better**",
        Verdict::Worse if bold => "**worse**",
        Verdict::Better => "better",
        Verdict::Worse => "worse",
        Verdict::TooFewRuns => "too few runs",
        Verdict::NoClearDifference | Verdict::Baseline => "=",
    };
    format!("×{:.2} [{:.2}–{:.2}] {verdict}", c.ratio, c.ci[0], c.ci[1])
}

fn cell_text(f: Option<&Figure>) -> String {
    match f {
        None => "–".into(),
        Some(f) => match &f.vs_default {
            Some(c) => format!("{}; {}", num(f.center), change(c, true)),
            None => num(f.center),
        },
    }
}

/// The recommendation as a sentence, with every figure's change and interval.
pub fn recommendation(t: &Tuning) -> String {
    match &t.recommendation {
        Recommendation::Setting { cell, setting, why } => {
            let row = t.settings.iter().find(|r| &r.cell == cell);
            let figures = row.map(changes).unwrap_or_default();
            let mut text = format!("**Recommendation: `{setting}`** ({why}): {figures} against the default.");
            let near = row.map(|r| near_costs(r, t.floor_pct)).unwrap_or_default();
            if !near.is_empty() {
                let _ = write!(
                    text,
                    " Not called after the suite's correction, yet past the ±{} % floor across its whole \
                     interval: {}.",
                    t.floor_pct,
                    near.join(", ")
                );
            }
            text
        }
        Recommendation::KeepDefault { why, closest } => {
            match closest.as_ref().and_then(|c| t.settings.iter().find(|r| &r.cell == c)) {
                Some(row) => {
                    format!("**Keep the default**: {why}. {}: {} against the default.", row.setting, changes(row))
                }
                None => format!("**Keep the default**: {why}."),
            }
        }
    }
}

/// The costs of `row` not called worse whose whole 95 % interval lies past the floor on
/// the worse side: the multiple-comparison correction spared them, a reader should not.
fn near_costs(row: &SettingRow, floor_pct: f64) -> Vec<String> {
    let floor = floor_pct / 100.0;
    COST.iter()
        .filter_map(|&k| {
            let f = row.figures.iter().find(|f| f.key == k)?;
            let c = f.vs_default.as_ref()?;
            let past = match f.direction {
                Direction::LowerIsBetter => c.ci[0] > 1.0 + floor,
                Direction::HigherIsBetter => c.ci[1] < 1.0 - floor,
            };
            (past && c.verdict == Verdict::NoClearDifference)
                .then(|| format!("{} {} (adjusted p {:.3})", short(k), change(c, false), c.p_adjusted))
        })
        .collect()
}

/// `RSS p50 ×0.82 [0.75–0.90] better, …` for every figure of `row`.
fn changes(row: &SettingRow) -> String {
    let parts: Vec<String> = MEMORY
        .iter()
        .chain(&COST)
        .filter_map(|k| {
            let f = row.figures.iter().find(|f| f.key == *k)?;
            Some(format!("{} {}", short(*k), change(f.vs_default.as_ref()?, false)))
        })
        .collect();
    parts.join(", ")
}

fn short(key: MetricKey) -> &'static str {
    match key {
        MetricKey::RssP50 => "RSS p50",
        MetricKey::RssMibSPerGib => "RSS × time",
        MetricKey::Throughput => "throughput",
        MetricKey::IngestP99 => "ingest p99",
        MetricKey::Cpu => "node CPU",
        MetricKey::CpuSysShare => "kernel CPU share",
        _ => "",
    }
}

/// `tuning.md`.
pub fn markdown(t: &Tuning, title: &str) -> String {
    let mut md = format!("# {title}\n\n");
    let _ = writeln!(
        md,
        "Each setting against the untuned allocator (`{}`): the geometric mean of its runs, and \
         the ratio to the default paired by round with its 95 % t interval on logs, called \
         **better** or **worse** only beyond ±{} % at α 0.05 after Benjamini–Hochberg over the \
         suite's {} comparisons (`comparison.md` has every metric, the p-values and the MDEs); \
         `=` is not called. ◆ marks the Pareto-optimal settings: no other setting is at least as \
         good on every point estimate of the table and better on one (point estimates: the \
         intervals say which differences are real).\n",
        t.baseline, t.floor_pct, t.family_size
    );
    let keys: Vec<MetricKey> = MEMORY.iter().chain(&COST).copied().collect();
    let heads: Vec<&str> = keys.iter().map(|k| column(*k)).collect();
    let _ = writeln!(md, "| # | setting | n | {} | Pareto |", heads.join(" | "));
    let _ = writeln!(md, "|---|---|---|{}---|", "---|".repeat(keys.len()));
    for (i, r) in t.settings.iter().enumerate() {
        let cells: Vec<String> = keys.iter().map(|k| cell_text(r.figures.iter().find(|f| f.key == *k))).collect();
        let mark = if r.pareto_optimal { "◆" } else { "" };
        let _ = writeln!(md, "| {} | `{}` | {} | {} | {mark} |", i + 1, r.setting, r.n, cells.join(" | "));
    }
    let _ = writeln!(md, "\n{}\n", recommendation(t));
    md.push_str("## The settings\n\n");
    for (i, r) in t.settings.iter().enumerate() {
        let why = r.why.as_deref().unwrap_or("given with --setting");
        let _ = writeln!(md, "{}. `{}` (cell `{}`): {why}.", i + 1, r.setting, r.cell);
    }
    md
}

/// What `tune` prints at the end: the recommendation and one line per setting.
pub fn terminal(t: &Tuning) -> String {
    let mut out = String::new();
    for (i, r) in t.settings.iter().enumerate() {
        let mark = if r.pareto_optimal { "◆" } else { " " };
        let memory = cell_text(r.figures.iter().find(|f| f.key == MetricKey::RssP50));
        let _ = writeln!(out, "{mark} {:>2}. {:<44} RSS p50 {}", i + 1, r.setting, memory.replace("**", ""));
    }
    let _ = write!(out, "{}", recommendation(t).replace("**", "").replace('`', ""));
    out
}

/// Writes `tuning.json`, `tuning.md` and `charts/pareto.svg` (and `.png`) into `dir`.
pub fn write(dir: &Path, t: &Tuning, title: &str, png: bool) -> Result<()> {
    crate::results::write_json(&dir.join("tuning.json"), t)?;
    crate::util::fsx::write_atomic(&dir.join("tuning.md"), markdown(t, title).as_bytes())?;
    crate::charts::render(&crate::charts::pareto::Pareto(&chart_data(t, title)), &dir.join("charts"), png)
}

/// The Pareto chart's figures: each setting's geometric means with their 95 % t
/// intervals (the range below 3 runs).
pub fn chart_data(t: &Tuning, title: &str) -> ParetoData {
    let point = |r: &SettingRow, k: MetricKey| {
        r.figures.iter().find(|f| f.key == k).map(|f| Point { center: f.center, interval: f.ci.unwrap_or(f.range) })
    };
    let settings = t
        .settings
        .iter()
        .map(|r| ParetoSetting {
            label: r.setting.clone(),
            optimal: r.pareto_optimal,
            memory: MEMORY.iter().map(|&k| point(r, k)).collect(),
            cost: COST.iter().map(|&k| point(r, k)).collect(),
        })
        .collect();
    let few = t.settings.iter().any(|r| r.n < 3);
    ParetoData {
        title: format!("{title} — memory against cost per setting"),
        memory: MEMORY.iter().map(|&k| column(k).to_owned()).collect(),
        cost: COST.iter().map(|&k| column(k).to_owned()).collect(),
        settings,
        bars: if few { "bars: 95 % t intervals on logs (n < 3: min–max)" } else { "bars: 95 % t intervals on logs" }
            .to_owned(),
    }
}

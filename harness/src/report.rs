//! `syncbench report`: everything a run or suite shows, re-derived from its files
//! without re-running anything, byte for byte as the run or matrix wrote it.
//!
//! - `report RUN_DIR|SUITE_DIR…`: re-render each in place (a suite: its runs' charts,
//!   comparison and suite charts).
//! - `report DIR… --out MERGED`: one comparison over runs from several directories or
//!   hosts; cells are named `<host>/<cell>` when more than one host took part.
//! - `report --index results/`: regenerate `results/README.md` (the index of committed
//!   runs and suites), prefixed with `results/README.header.md` when present.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::charts::CellRuns;
use crate::charts::{self, RunChartData};
use crate::cli::ReportArgs;
use crate::error::input;
use crate::results::load::RunFiles;
use crate::results::suite::{self, is_suite, ok_runs};
use crate::run::crash::Outcome;
use crate::units::MIB;

pub fn run(a: &ReportArgs) -> Result<()> {
    if a.dirs.is_empty() && a.index.is_none() {
        return Err(input("report: expected at least one run or suite directory, or --index DIR"));
    }
    match &a.out {
        Some(out) => {
            merge(&a.dirs, out, a.floor_pct, a.png)?;
            crate::say!("report: wrote the merged comparison to {}/comparison.md", out.display());
        }
        None => {
            for d in &a.dirs {
                crate::signals::check()?;
                render_dir(d, a.png)?;
                crate::say!("report: re-rendered {}", d.display());
            }
        }
    }
    if let Some(dir) = &a.index {
        let path = write_index(dir)?;
        crate::say!("report: wrote {}", path.display());
    }
    Ok(())
}

fn render_dir(dir: &Path, png: bool) -> Result<()> {
    if is_suite(dir) {
        let _lock = crate::run::dirs::lock_existing(dir, "report")?;
        let file = suite::read(dir)?;
        for run in file.runs(dir)? {
            crate::signals::check()?;
            if run.dir.join("summary.json").is_file() {
                render_run(&run.dir, png)?;
            }
        }
        if file.definition.kind == Some(suite::SuiteKind::Tune) {
            crate::tune::write_for_suite(dir, png).map(drop)
        } else {
            crate::matrix::render::render_file(dir, &file, png).map(drop)
        }
    } else if dir.join("summary.json").is_file() {
        let _lock = crate::run::dirs::lock_existing(dir, "report")?;
        render_run(dir, png)
    } else {
        let odd = ["summary.json", "suite.json"].into_iter().find(|f| fs::symlink_metadata(dir.join(f)).is_ok());
        let found = match odd {
            Some(f) => format!("its {f} is not a regular file"),
            None if dir.exists() => "it has neither".into(),
            None => "it does not exist".into(),
        };
        Err(input(format!(
            "{}: expected a run directory (summary.json) or a suite (suite.json); {found}",
            dir.display()
        )))
    }
}

/// Redraws a run's charts from its files.
pub fn render_run(dir: &Path, png: bool) -> Result<()> {
    let r = RunFiles::load(dir)?;
    charts::render_run(&RunChartData::from_files(&r), &dir.join("charts"), png)
}

/// One comparison over the successful runs found in `dirs` (runs or suites).
fn merge(dirs: &[PathBuf], out: &Path, floor: f64, png: bool) -> Result<()> {
    let mut runs: Vec<RunFiles> = Vec::new();
    let mut seen = BTreeSet::new();
    for d in dirs {
        crate::signals::check()?;
        for r in ok_runs(d)? {
            // The same run named twice (a suite and one of its runs, `dir` and `dir/.`)
            // counts once.
            if seen.insert(fs::canonicalize(&r.dir).unwrap_or_else(|_| r.dir.clone())) {
                runs.push(r);
            }
        }
        if runs.len() > crate::results::suite::MAX_SUITE_RUNS {
            return Err(input(format!("report --out: at most {} runs merged", crate::results::suite::MAX_SUITE_RUNS)));
        }
    }
    if runs.is_empty() {
        return Err(input("report --out: no successful runs in the given directories"));
    }
    // A previous merge is replaced; anything else in the way is not ours to overwrite
    // (a suite or a run has a comparison or charts of its own, which a merge would
    // silently replace).
    let occupied = fs::read_dir(out).is_ok_and(|mut d| d.next().is_some());
    let earlier_merge =
        out.join("comparison.json").is_file() && !out.join("suite.json").exists() && !out.join("summary.json").exists();
    if occupied && !earlier_merge {
        return Err(input(format!(
            "--out {}: expected a new or empty directory, or an earlier merge (comparison.json, no suite.json \
             or summary.json) to replace",
            out.display()
        )));
    }
    let warnings = mixed_settings(&runs);
    for w in &warnings {
        crate::note!("syncbench: report: warning: {w}");
    }
    let hosts: BTreeSet<String> = runs.iter().map(RunFiles::host).collect();
    let label = |r: &RunFiles| if hosts.len() > 1 { format!("{}/{}", r.host(), r.cell()) } else { r.cell() };
    let mut grouped: Vec<CellRuns> = Vec::new();
    for r in runs {
        let cell = label(&r);
        match grouped.iter_mut().find(|g| g.cell == cell) {
            Some(g) => g.runs.push(r),
            None => grouped.push(CellRuns { cell, runs: vec![r], rounds: Vec::new() }),
        }
    }
    fs::create_dir_all(out).map_err(|e| input(format!("--out {}: {e}", out.display())))?;
    let _lock = crate::run::dirs::lock_existing(out, "--out")?;
    let baseline = grouped[0].cell.clone();
    let title = format!("merged comparison — {} cells from {} host(s)", grouped.len(), hosts.len());
    // Runs from several suites or hosts were not taken in shared rounds: groups.
    let framing = crate::matrix::render::Framing {
        baseline: &baseline,
        floor_pct: floor,
        title: &title,
        failed: &[],
        paired: false,
    };
    crate::matrix::render::write_comparison(out, &grouped, &framing, png).map(drop)
}

/// What differs between merged runs besides their configuration: a comparison across
/// these mixes different measurements. One line per setting that is not the same in
/// every run.
pub fn mixed_settings(runs: &[RunFiles]) -> Vec<String> {
    type Setting = (&'static str, fn(&RunFiles) -> String);
    let settings: [Setting; 4] = [
        ("workloads", |r| r.workload()),
        ("workload spec hashes", |r| r.config.workload.spec_hash.clone().unwrap_or_else(|| "(not recorded)".into())),
        ("ceiling settings", |r| if r.config.ceilings.is_none() { "--no-ceilings" } else { "ceilings on" }.to_owned()),
        ("block counts", |r| r.config.workload.blocks.to_string()),
    ];
    settings
        .iter()
        .filter_map(|(what, get)| {
            let seen: BTreeSet<String> = runs.iter().map(get).collect();
            (seen.len() > 1).then(|| {
                let list = seen.into_iter().collect::<Vec<_>>().join(", ");
                format!(
                    "merging runs with different {what} ({list}): their differences are not only the configurations'"
                )
            })
        })
        .collect()
}

/// The last line of every index `report --index` writes: how it recognises a README.md
/// it may replace.
const INDEX_MARK: &str = "\n_This index is generated by `syncbench report --index results/`._";

/// Most bytes of an existing README.md read to look for [`INDEX_MARK`].
const INDEX_MAX_BYTES: u64 = 16 << 20;

/// Refuses (exit 2) to replace a README.md this command did not write: one without
/// [`INDEX_MARK`] is somebody's own text (the header belongs in README.header.md).
fn check_generated_index(path: &Path) -> Result<()> {
    if fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    let text = crate::util::fsx::read_bounded(path, INDEX_MAX_BYTES, "results index")?;
    if text.contains(INDEX_MARK.trim_start()) {
        return Ok(());
    }
    Err(input(format!(
        "--index: {} was not written by `syncbench report --index` (it lacks the line it ends with); \
         move it to README.header.md (kept as the index's header) or elsewhere",
        path.display()
    )))
}

/// Writes `<dir>/README.md`: the optional header, then suites and runs found in `dir`.
fn write_index(dir: &Path) -> Result<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| input(format!("--index {}: {e}", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    let header = dir.join("README.header.md");
    let mut out = match fs::symlink_metadata(&header) {
        Ok(_) => crate::util::fsx::read_bounded(&header, INDEX_MAX_BYTES, "results index header")?,
        Err(_) => "# Results\n".into(),
    };
    let suites: Vec<&PathBuf> = entries.iter().filter(|p| is_suite(p)).collect();
    if !suites.is_empty() {
        out.push_str("\n## Suites\n\n| suite | workload | cells | runs ok | comparison | headline chart |\n|---|---|---|---|---|---|\n");
        for s in suites {
            let file = suite::read(s)?;
            let (def, runs) = (&file.definition, file.runs(s)?);
            let name = s.file_name().unwrap_or_default().to_string_lossy();
            let ok = runs.iter().filter(|r| r.outcome == Outcome::Ok).count();
            // A tuning suite's headline is its trade-off, not one metric.
            let (tables, chart) = if def.kind == Some(suite::SuiteKind::Tune) {
                (
                    format!("[comparison.md]({name}/comparison.md), [tuning.md]({name}/tuning.md)"),
                    format!("[Pareto front]({name}/charts/pareto.svg)"),
                )
            } else {
                (format!("[comparison.md]({name}/comparison.md)"), format!("[peak RSS]({name}/charts/rss_peak.svg)"))
            };
            let _ = writeln!(
                out,
                "| [{name}]({name}/) | {} | {} | {ok} of {} | {tables} | {chart} |",
                def.workload,
                def.cells.len(),
                runs.len()
            );
        }
    }
    let runs: Vec<RunFiles> = entries
        .iter()
        .filter(|p| p.join("summary.json").is_file())
        .map(|p| RunFiles::load(p))
        .collect::<Result<_>>()?;
    if !runs.is_empty() {
        out.push_str("\n## Runs\n\n| run | outcome | blocks | throughput MiB/s | peak RSS MiB (VmHWM) | peak live heap MiB | ingest p50 / p99 ms | compactions |\n|---|---|---|---|---|---|---|---|\n");
        for r in &runs {
            let s = &r.summary;
            let name = r.dir.file_name().unwrap_or_default().to_string_lossy();
            let mib = |v: Option<f64>| v.map_or("–".into(), |v| format!("{:.1}", v / MIB));
            let ingest = s.latency_us.get("ingest");
            let ms = |p: Option<u64>| p.map_or("–".into(), |v| format!("{:.0}", v as f64 / 1e3));
            let _ = writeln!(
                out,
                "| [{name}]({name}/) | {} | {} | {:.1} | {} | {} | {} / {} | {} |",
                s.outcome,
                s.blocks,
                s.throughput_mib_per_s,
                mib(Some(s.rss_peak_bytes as f64)),
                mib(s.heap_live_peak_bytes.map(|b| b as f64)),
                ms(ingest.map(|l| l.p50)),
                ms(ingest.map(|l| l.p99)),
                s.compactions
            );
        }
    }
    out.push_str(INDEX_MARK);
    out.push('\n');
    let path = dir.join("README.md");
    check_generated_index(&path)?;
    crate::util::fsx::write_atomic(&path, out.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(workload: &str, hash: &str, ceilings: bool) -> RunFiles {
        let ceilings = if ceilings { serde_json::json!({"errors": []}) } else { serde_json::Value::Null };
        let config = serde_json::json!({
            "workload": {"name": workload, "spec_hash": hash, "blocks": 10, "shard_size": 1, "seed": 1},
            "node": {"alloc": "glibc", "compaction": "streaming", "compaction_concurrency": 1, "writer_batch": 1},
            "ceilings": ceilings,
        });
        RunFiles::for_test(serde_json::json!({}), config)
    }

    #[test]
    fn merging_runs_measured_differently_warns() {
        assert!(mixed_settings(&[run("smoke", "a", true), run("smoke", "a", true)]).is_empty());
        let w = mixed_settings(&[run("smoke", "a", true), run("smoke", "b", false)]);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("workload spec hashes (a, b)") && w[1].contains("ceiling settings"), "{w:?}");
    }
}

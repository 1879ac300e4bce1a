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

use anyhow::{Context, Result};

use crate::charts::suite::{CellRuns, SuiteChartData};
use crate::charts::{self, RunChartData};
use crate::cli::ReportArgs;
use crate::error::input;
use crate::matrix::comparison::{self, Comparison, RunRecord};
use crate::results::load::{read_json, RunFiles};

pub fn run(a: &ReportArgs) -> Result<()> {
    if a.dirs.is_empty() && a.index.is_none() {
        return Err(input("report: expected at least one run or suite directory, or --index DIR"));
    }
    match &a.out {
        Some(out) => {
            merge(&a.dirs, out, a.floor_pct, a.png)?;
            println!("report: wrote the merged comparison to {}/comparison.md", out.display());
        }
        None => {
            for d in &a.dirs {
                render_dir(d, a.png)?;
                println!("report: re-rendered {}", d.display());
            }
        }
    }
    if let Some(dir) = &a.index {
        let path = write_index(dir)?;
        println!("report: wrote {}", path.display());
    }
    Ok(())
}

fn is_suite(dir: &Path) -> bool {
    dir.join("suite.json").is_file()
}

fn render_dir(dir: &Path, png: bool) -> Result<()> {
    if is_suite(dir) {
        for (_, run_dir, _) in suite_entries(dir)? {
            if run_dir.join("summary.json").is_file() {
                render_run(&run_dir, png)?;
            }
        }
        render_suite(dir, png).map(drop)
    } else if dir.join("summary.json").is_file() {
        render_run(dir, png)
    } else {
        Err(input(format!("{}: expected a run directory (summary.json) or a suite (suite.json)", dir.display())))
    }
}

/// Redraws a run's charts from its files.
pub fn render_run(dir: &Path, png: bool) -> Result<()> {
    let r = RunFiles::load(dir)?;
    charts::render_run(&RunChartData::from_files(&r), &dir.join("charts"), png)
}

/// (cell, run directory, outcome) for every run recorded in a suite's order.
pub fn suite_entries(suite: &Path) -> Result<Vec<(String, PathBuf, String)>> {
    let s = read_json(&suite.join("suite.json"))?;
    let order = s["order"]
        .as_array()
        .ok_or_else(|| input(format!("{}: field `order`: expected an array", suite.join("suite.json").display())))?;
    order
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let field = |k: &str| e[k].as_str().unwrap_or("").to_owned();
            let run_dir = inside(suite, &field("run_dir"), i)?;
            Ok((field("cell"), run_dir, field("outcome")))
        })
        .collect()
}

/// `suite/<rel>` if `rel` is a relative path that stays inside the suite; `report`
/// writes charts into run directories and must never write outside the ones given.
fn inside(suite: &Path, rel: &str, i: usize) -> Result<PathBuf> {
    use std::path::Component;
    let p = Path::new(rel);
    let stays = !rel.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !stays {
        return Err(input(format!(
            "{}: field `order[{i}].run_dir`: expected a relative path inside the suite, got `{rel}`",
            suite.join("suite.json").display()
        )));
    }
    let dir = suite.join(p);
    // A symlink inside the suite could still lead out of it.
    let escapes = match (fs::canonicalize(&dir), fs::canonicalize(suite)) {
        (Ok(real), Ok(root)) => !real.starts_with(root),
        _ => false,
    };
    if escapes {
        return Err(input(format!(
            "{}: field `order[{i}].run_dir`: `{rel}` leads outside the suite through a symlink",
            suite.join("suite.json").display()
        )));
    }
    Ok(dir)
}

/// Re-derives a suite's comparison and charts from suite.json and its runs.
pub fn render_suite(suite: &Path, png: bool) -> Result<Comparison> {
    let def = read_json(&suite.join("suite.json"))?;
    let d = &def["definition"];
    let cells: Vec<String> =
        d["cells"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str().map(str::to_owned)).collect();
    let baseline = d["baseline_cell"].as_str().unwrap_or_default().to_owned();
    let floor = d["floor_pct"].as_f64().unwrap_or(5.0);
    let mut failed = Vec::new();
    let mut grouped: Vec<CellRuns> = cells.iter().map(|c| CellRuns { cell: c.clone(), runs: Vec::new() }).collect();
    for (cell, dir, outcome) in suite_entries(suite)? {
        if outcome != "ok" {
            failed.push(format!(
                "{} ({outcome})",
                dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or(cell)
            ));
            continue;
        }
        if let Some(g) = grouped.iter_mut().find(|g| g.cell == cell) {
            g.runs.push(RunFiles::load(&dir)?);
        }
    }
    let repeat = d["repeat"].as_u64().unwrap_or(0);
    let title = format!("{} — {} cells × {repeat} repetitions", d["workload"].as_str().unwrap_or("?"), cells.len());
    write_comparison(suite, &grouped, &baseline, floor, &title, &failed, png)
}

fn write_comparison(
    dir: &Path,
    grouped: &[CellRuns],
    baseline: &str,
    floor: f64,
    title: &str,
    failed: &[String],
    png: bool,
) -> Result<Comparison> {
    let records: Vec<RunRecord> = grouped
        .iter()
        .flat_map(|g| g.runs.iter().map(|r| RunRecord { cell: g.cell.clone(), summary: r.summary.clone() }))
        .collect();
    let names: Vec<String> = grouped.iter().map(|g| g.cell.clone()).collect();
    let cmp = comparison::compare(&names, &records, baseline, floor);
    crate::results::write_json(&dir.join("comparison.json"), &cmp)?;
    fs::write(dir.join("comparison.md"), comparison::markdown(&cmp, title, failed)).context("writing comparison.md")?;
    let hosts: BTreeSet<String> = grouped.iter().flat_map(|g| g.runs.iter().map(RunFiles::host)).collect();
    let workloads: BTreeSet<String> = grouped.iter().flat_map(|g| g.runs.iter().map(RunFiles::workload)).collect();
    let subtitle = format!(
        "{} · {}",
        workloads.into_iter().collect::<Vec<_>>().join(", "),
        hosts.into_iter().collect::<Vec<_>>().join(", ")
    );
    let data = SuiteChartData {
        subtitle,
        rss_peak_mib: intervals(&cmp, "rss_peak"),
        throughput_mib_s: intervals(&cmp, "throughput"),
        cells: grouped.iter().map(|g| CellRuns { cell: g.cell.clone(), runs: g.runs.clone() }).collect(),
    };
    charts::suite::render_suite(&data, &dir.join("charts"), png)?;
    Ok(cmp)
}

fn intervals(c: &Comparison, key: &str) -> Vec<charts::suite::Interval> {
    c.metrics
        .iter()
        .find(|m| m.key == key)
        .map(|m| m.cells.iter().map(|s| (s.cell.clone(), s.median, s.ci[0], s.ci[1])).collect())
        .unwrap_or_default()
}

/// Every recorded run in `dir` (a suite's runs with a summary, or the run itself).
pub fn all_runs(dir: &Path) -> Result<Vec<RunFiles>> {
    if !is_suite(dir) {
        return Ok(vec![RunFiles::load(dir)?]);
    }
    suite_entries(dir)?
        .into_iter()
        .filter(|(_, d, _)| d.join("summary.json").is_file())
        .map(|(_, d, _)| RunFiles::load(&d))
        .collect()
}

/// The successful runs in `dir`: a suite's runs recorded `ok`, or the run itself.
pub fn ok_runs(dir: &Path) -> Result<Vec<RunFiles>> {
    let runs: Vec<RunFiles> = if is_suite(dir) {
        suite_entries(dir)?
            .into_iter()
            .filter(|(_, _, outcome)| outcome == "ok")
            .map(|(_, d, _)| RunFiles::load(&d))
            .collect::<Result<_>>()?
    } else {
        vec![RunFiles::load(dir)?]
    };
    Ok(runs.into_iter().filter(|r| r.summary["outcome"] == "ok").collect())
}

/// One comparison over the successful runs found in `dirs` (runs or suites).
fn merge(dirs: &[PathBuf], out: &Path, floor: f64, png: bool) -> Result<()> {
    let mut runs = Vec::new();
    for d in dirs {
        runs.extend(ok_runs(d)?);
    }
    if runs.is_empty() {
        return Err(input("report --out: no successful runs in the given directories"));
    }
    let warnings = mixed_settings(&runs);
    for w in &warnings {
        eprintln!("syncbench: report: warning: {w}");
    }
    let hosts: BTreeSet<String> = runs.iter().map(RunFiles::host).collect();
    let label = |r: &RunFiles| if hosts.len() > 1 { format!("{}/{}", r.host(), r.cell()) } else { r.cell() };
    let mut grouped: Vec<CellRuns> = Vec::new();
    for r in runs {
        let cell = label(&r);
        match grouped.iter_mut().find(|g| g.cell == cell) {
            Some(g) => g.runs.push(r),
            None => grouped.push(CellRuns { cell, runs: vec![r] }),
        }
    }
    fs::create_dir_all(out).map_err(|e| input(format!("--out {}: {e}", out.display())))?;
    let baseline = grouped[0].cell.clone();
    let title = format!("merged comparison — {} cells from {} host(s)", grouped.len(), hosts.len());
    write_comparison(out, &grouped, &baseline, floor, &title, &[], png).map(drop)
}

/// What differs between merged runs besides their configuration: a comparison across
/// these mixes different measurements. One line per setting that is not the same in
/// every run.
pub fn mixed_settings(runs: &[RunFiles]) -> Vec<String> {
    type Setting = (&'static str, fn(&RunFiles) -> String);
    let settings: [Setting; 4] = [
        ("workloads", |r| r.workload()),
        ("workload spec hashes", |r| r.config["workload"]["spec_hash"].as_str().unwrap_or("(not recorded)").to_owned()),
        ("ceiling settings", |r| {
            if r.config["ceilings"].is_null() { "--no-ceilings" } else { "ceilings on" }.to_owned()
        }),
        ("block counts", |r| r.config["workload"]["blocks"].to_string()),
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

/// Writes `<dir>/README.md`: the optional header, then suites and runs found in `dir`.
fn write_index(dir: &Path) -> Result<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| input(format!("--index {}: {e}", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    let mut out = fs::read_to_string(dir.join("README.header.md")).unwrap_or_else(|_| "# Results\n".into());
    let suites: Vec<&PathBuf> = entries.iter().filter(|p| is_suite(p)).collect();
    if !suites.is_empty() {
        out.push_str("\n## Suites\n\n| suite | workload | cells | runs ok | comparison | headline chart |\n|---|---|---|---|---|---|\n");
        for s in suites {
            let def = read_json(&s.join("suite.json"))?;
            let name = s.file_name().unwrap_or_default().to_string_lossy();
            let entries = suite_entries(s)?;
            let ok = entries.iter().filter(|e| e.2 == "ok").count();
            let cells = def["definition"]["cells"].as_array().map_or(0, Vec::len);
            let _ = writeln!(
                out,
                "| [{name}]({name}/) | {} | {cells} | {ok} of {} | [comparison.md]({name}/comparison.md) | [peak RSS]({name}/charts/rss_peak.svg) |",
                def["definition"]["workload"].as_str().unwrap_or("?"),
                entries.len()
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
            let mib = |k: &str| s[k].as_f64().map_or("–".into(), |v| format!("{:.1}", v / 1_048_576.0));
            let ms =
                |p: &str| s["latency_us"]["ingest"][p].as_f64().map_or("–".into(), |v| format!("{:.0}", v / 1e3));
            let _ = writeln!(
                out,
                "| [{name}]({name}/) | {} | {} | {:.1} | {} | {} | {} / {} | {} |",
                s["outcome"].as_str().unwrap_or("?"),
                s["blocks"],
                s["throughput_mib_per_s"].as_f64().unwrap_or(0.0),
                mib("rss_peak_bytes"),
                mib("heap_live_peak_bytes"),
                ms("p50"),
                ms("p99"),
                s["compactions"]
            );
        }
    }
    out.push_str("\n_This index is generated by `syncbench report --index results/`._\n");
    let path = dir.join("README.md");
    fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(workload: &str, hash: &str, ceilings: bool) -> RunFiles {
        let ceilings = if ceilings { serde_json::json!({"cpu": {}}) } else { serde_json::Value::Null };
        RunFiles {
            dir: PathBuf::from("r"),
            summary: serde_json::json!({}),
            config: serde_json::json!({"workload": {"name": workload, "spec_hash": hash, "blocks": 10}, "ceilings": ceilings}),
            samples: Vec::new(),
            compactions: Vec::new(),
            flushes: Vec::new(),
            latency: Vec::new(),
        }
    }

    #[test]
    fn merging_runs_measured_differently_warns() {
        assert!(mixed_settings(&[run("smoke", "a", true), run("smoke", "a", true)]).is_empty());
        let w = mixed_settings(&[run("smoke", "a", true), run("smoke", "b", false)]);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("workload spec hashes (a, b)") && w[1].contains("ceiling settings"), "{w:?}");
    }
}

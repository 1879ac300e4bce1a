//! `syncbench matrix`: many configurations, repeated and interleaved, compared with
//! confidence intervals (docs/comparing.md).
//!
//! # Layout
//! - this module: the plan (cells, skipped cells, order) and the runner.
//! - [`order`]: interleaved run order (seeded rounds; two cells take turns running first).
//! - [`comparison`]: `comparison.json` / `comparison.md` from the runs' summaries.
//!
//! The suite directory and `suite.json` are `results::suite`'s; medians, intervals and
//! verdicts are `crate::stats`'.

pub mod comparison;
pub mod order;
pub mod render;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Result;

use crate::cli::MatrixArgs;
use crate::error::{input, InputError, RunFailed};
use crate::options::{resolve_workload, IngestOptions, RunSettings};
use crate::results::suite::{Cell, RunEntry, Skipped, SuiteDefinition, SuiteFile, SuiteKind};
use crate::run::crash::Outcome;
use crate::run::dirs::Claimed;
use crate::settings::{cell_label, conf_suffix, shape_suffix, Allocator, ArenaMax};
use syncbench_node::config::StoreKind;

/// Largest matrix accepted (cells × repetitions): bounded like everything else.
const MAX_RUNS: usize = 2_000;

/// The cartesian product of the axes; cells that cannot differ from another are
/// returned separately with the reason (unless `no_skip`).
pub fn cells(a: &MatrixArgs) -> Result<(Vec<Cell>, Vec<Skipped>)> {
    let arenas = a
        .arena_max
        .iter()
        .map(|s| ArenaMax::parse(s).map_err(|e| input(format!("--arena-max: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    let confs = conf_axis(a)?;
    let max = syncbench_node::config::INJECT_RETAINED_MIB_MAX;
    if let Some(n) = a.inject_retained_mib.iter().find(|&&n| n > max) {
        return Err(input(format!("--inject-retained-mib: expected 0..={max}, got {n}")));
    }
    // The axes' product is bounded before any cell is built (3,000 × 3,000 values
    // would otherwise be planned, unstoppably, for minutes).
    let confs_per_alloc = a.alloc.iter().map(|&al| confs_of(&confs, al).len()).max().unwrap_or(1);
    let axes = [
        a.alloc.len(),
        confs_per_alloc,
        arenas.len(),
        a.store.len(),
        a.engine_malloc.len(),
        a.compaction.len(),
        a.compaction_concurrency.len(),
        a.shard_size.len().max(1),
        a.peers.len(),
        a.worker_threads.len(),
        a.duration.len(),
        a.inject_retained_mib.len(),
    ];
    let product = axes.iter().try_fold(1usize, |p, &n| p.checked_mul(n)).unwrap_or(usize::MAX);
    if product > MAX_RUNS {
        return Err(input(format!("expected at most {MAX_RUNS} cells (the product of the axes), got {product}")));
    }
    let (mut kept, mut skipped) = (Vec::new(), Vec::new());
    for base in product_cells(a, &arenas, &confs)? {
        crate::signals::check()?;
        match keep_cell(a, base, &kept) {
            Some(Ok(cell)) => kept.push(cell),
            Some(Err(skip)) => skipped.push(skip),
            None => {}
        }
    }
    exclude(&a.exclude_cell, kept, skipped)
}

/// The reason recorded for a cell `--exclude-cell` named.
const EXCLUDED: &str = "excluded by --exclude-cell";

/// Moves the cells `--exclude-cell` names from `kept` to `skipped`; a name that is
/// neither kept nor skipped is a typo, refused rather than silently running everything.
fn exclude(names: &[String], kept: Vec<Cell>, mut skipped: Vec<Skipped>) -> Result<(Vec<Cell>, Vec<Skipped>)> {
    if let Some(unknown) =
        names.iter().find(|n| !kept.iter().any(|c| &c.name == *n) && !skipped.iter().any(|s| &s.cell == *n))
    {
        let all: Vec<&str> = kept.iter().map(|c| c.name.as_str()).collect();
        return Err(input(format!("--exclude-cell: expected one of {}, got `{unknown}`", all.join(", "))));
    }
    let (out, kept): (Vec<Cell>, Vec<Cell>) = kept.into_iter().partition(|c| names.contains(&c.name));
    skipped.extend(out.into_iter().map(|c| Skipped { cell: c.name, reason: EXCLUDED.into() }));
    Ok((kept, skipped))
}

/// `--alloc-conf ALLOC:SETTING` values as (allocator, setting; `None` = untuned), in
/// the order given. Refused: an allocator not in `--alloc`, and two values that would
/// name the same cell (the second would otherwise vanish as a duplicate). The settings
/// themselves are checked per cell, as `ingest --alloc-conf` is.
fn conf_axis(a: &MatrixArgs) -> Result<Vec<(Allocator, Option<String>)>> {
    let mut out: Vec<(Allocator, Option<String>)> = Vec::new();
    for value in &a.alloc_conf {
        let bad = |why: String| input(format!("--alloc-conf {value}: {why}"));
        let Some((name, setting)) = value.split_once(':') else {
            return Err(bad("expected ALLOC:SETTING (e.g. jemalloc:dirty_decay_ms:1000, or jemalloc:default)".into()));
        };
        let alloc = <Allocator as clap::ValueEnum>::from_str(name, false)
            .map_err(|_| bad(format!("expected glibc, jemalloc or mimalloc before the first `:`, got `{name}`")))?;
        if !a.alloc.contains(&alloc) {
            return Err(bad(format!("{alloc} is not in --alloc")));
        }
        let setting = (setting != "default").then(|| setting.to_owned());
        let suffix = conf_suffix(setting.as_deref());
        if let Some((_, twin)) = out.iter().find(|(al, s)| *al == alloc && conf_suffix(s.as_deref()) == suffix) {
            return Err(bad(format!("names the same cell as {alloc}:{}", twin.as_deref().unwrap_or("default"))));
        }
        out.push((alloc, setting));
    }
    Ok(out)
}

/// The settings `alloc`'s cells run with: the `--alloc-conf` values naming it, or
/// untuned if none does.
fn confs_of(confs: &[(Allocator, Option<String>)], alloc: Allocator) -> Vec<Option<String>> {
    let named: Vec<Option<String>> = confs.iter().filter(|c| c.0 == alloc).map(|c| c.1.clone()).collect();
    if named.is_empty() {
        vec![None]
    } else {
        named
    }
}

/// Every combination of the axes as an unnamed cell, in the axes' order (allocator
/// outermost, then its settings).
fn product_cells(a: &MatrixArgs, arenas: &[ArenaMax], confs: &[(Allocator, Option<String>)]) -> Result<Vec<Cell>> {
    // One size overrides the workload's; several are an axis.
    let shard_axis: Vec<Option<u64>> =
        if a.shard_size.len() > 1 { a.shard_size.iter().map(|&s| Some(s)).collect() } else { vec![None] };
    let shapes = shapes(a)?;
    let mut out = Vec::new();
    let tuned = a.alloc.iter().flat_map(|&al| confs_of(confs, al).into_iter().map(move |c| (al, c)));
    for ((alloc, alloc_conf), &arena_max) in tuned.flat_map(|ac| arenas.iter().map(move |ar| (ac.clone(), ar))) {
        for (&store, &engine_malloc) in a.store.iter().flat_map(|s| a.engine_malloc.iter().map(move |e| (s, e))) {
            for &compaction in &a.compaction {
                for (&cc, &shard_size, &shape, &inject) in a
                    .compaction_concurrency
                    .iter()
                    .flat_map(|c| shard_axis.iter().map(move |s| (c, s)))
                    .flat_map(|(c, s)| shapes.iter().map(move |shape| (c, s, shape)))
                    .flat_map(|(c, s, shape)| a.inject_retained_mib.iter().map(move |i| (c, s, shape, i)))
                {
                    out.push(Cell {
                        name: String::new(),
                        alloc,
                        arena_max,
                        alloc_conf: alloc_conf.clone(),
                        compaction,
                        compaction_concurrency: cc,
                        store,
                        engine_malloc,
                        shard_size,
                        node_bin: None,
                        unprofiled: false,
                        peers: Some(shape.0),
                        worker_threads: shape.1,
                        duration_s: shape.2.map(|d| d.as_secs()),
                        inject_retained_mib: (inject > 0).then_some(inject),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// `cell` named, or the reason it is skipped (`None`: a duplicate of a kept cell).
fn keep_cell(a: &MatrixArgs, mut cell: Cell, kept: &[Cell]) -> Option<std::result::Result<Cell, Skipped>> {
    let mut name = cell_label(crate::settings::Cell {
        alloc: cell.alloc,
        arena_max: cell.arena_max,
        store: cell.store,
        engine_malloc: cell.engine_malloc,
        compaction: cell.compaction,
        compaction_concurrency: cell.compaction_concurrency,
    });
    name.push_str(&conf_suffix(cell.alloc_conf.as_deref()));
    name.push_str(&shape_suffix(
        cell.peers.unwrap_or(crate::settings::DEFAULT_PEERS),
        cell.worker_threads,
        cell.duration_s.map(std::time::Duration::from_secs),
    ));
    if let Some(s) = cell.shard_size {
        name = format!("{name}_shard{s}");
    }
    if let Some(n) = cell.inject_retained_mib {
        name = format!("{name}_inj{n}mib");
    }
    if kept.iter().any(|c| c.name == name) {
        return None;
    }
    if cell.arena_max.ignored_by(cell.alloc) && !a.no_skip {
        let reason = format!("{} does not read MALLOC_ARENA_MAX: same as its default-arena cell", cell.alloc);
        return Some(Err(Skipped { cell: name, reason }));
    }
    if cell.engine_malloc.ignored_by(cell.alloc, cell.store) && !a.no_skip {
        let reason = match cell.store {
            StoreKind::Native => "a native-store node has no engine malloc: same as its --engine-malloc allocator cell",
            StoreKind::Rocksdb => "glibc's engine is on glibc already: same as its --engine-malloc allocator cell",
        };
        return Some(Err(Skipped { cell: name, reason: reason.into() }));
    }
    if a.settings.heap_profile && cell.alloc == Allocator::Jemalloc {
        name = format!("{name}{}", crate::settings::PROFILED_SUFFIX);
    }
    cell.name = name;
    Some(Ok(cell))
}

/// The `--peers` × `--worker-threads` × `--duration` axes' combinations.
type Shape = (u64, Option<u64>, Option<std::time::Duration>);

fn shapes(a: &MatrixArgs) -> Result<Vec<Shape>> {
    let threads = a
        .worker_threads
        .iter()
        .map(|t| match t.as_str() {
            "default" => Ok(None),
            n => n
                .parse()
                .map(Some)
                .map_err(|_| input(format!("--worker-threads: expected a number or `default`, got `{n}`"))),
        })
        .collect::<Result<Vec<Option<u64>>>>()?;
    let durations = a
        .duration
        .iter()
        .map(|d| if d == "full" { Ok(None) } else { crate::options::parse_run_duration(d).map(Some) })
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for &p in &a.peers {
        for &t in &threads {
            out.extend(durations.iter().map(|&d| (p, t, d)));
        }
    }
    Ok(out)
}

/// Everything a suite needs besides its runs.
#[derive(Clone)]
pub struct SuitePlan {
    pub cells: Vec<Cell>,
    pub skipped: Vec<Skipped>,
    /// Options every run starts from; each cell overrides its own axes.
    pub base: IngestOptions,
    pub dir: PathBuf,
    /// `dir` is a default name (it gets a `-2`… suffix if taken), not the user's `--out`.
    pub default_dir: bool,
    pub repeat: u32,
    pub order_seed: u64,
    pub fail_fast: bool,
    /// Cells that cannot differ were kept as controls (`--no-skip`).
    pub keep_controls: bool,
    /// `suite.json`'s `definition` (the cells are added).
    pub definition: SuiteDefinition,
}

pub fn run(a: &MatrixArgs) -> Result<()> {
    let start = SystemTime::now();
    execute(&plan(a, start, "matrix")?, start).map(drop)
}

/// The suite `a` asks for, checked (its directory is not created yet): its default
/// directory is `results/<UTC>_<workload>_<kind>`.
pub fn plan(a: &MatrixArgs, start: SystemTime, kind: &str) -> Result<SuitePlan> {
    let (cells, skipped) = cells(a)?;
    if cells.is_empty() {
        let why: Vec<String> = skipped.iter().map(|s| format!("{} ({})", s.cell, s.reason)).collect();
        return Err(input(format!(
            "every cell was skipped: {}; --no-skip keeps cells that cannot differ as controls",
            why.join("; ")
        )));
    }
    let single_shard_size = if a.shard_size.len() == 1 { a.shard_size.first().copied() } else { None };
    let workload = resolve_workload(&a.workload, &a.overrides, single_shard_size)?;
    let baseline = a.baseline_cell.clone().unwrap_or_else(|| cells.first().map(|c| c.name.clone()).unwrap_or_default());
    if !cells.iter().any(|c| c.name == baseline) {
        let names: Vec<_> = cells.iter().map(|c| c.name.as_str()).collect();
        return Err(input(format!("--baseline-cell: expected one of {}, got `{baseline}`", names.join(", "))));
    }
    let settings = RunSettings::from_args(&a.settings)?;
    let base = IngestOptions::base(a.workload.clone(), workload, settings);
    let default_dir = a.out.is_none();
    let dir = a.out.clone().unwrap_or_else(|| default_suite_dir(start, &base.workload.name, kind));
    let definition = SuiteDefinition {
        kind: None,
        workload: crate::units::portable_arg(&a.workload),
        blocks: a.overrides.blocks,
        seed: a.overrides.seed,
        shard_size: a.shard_size.clone(),
        repeat: a.repeat,
        order_seed: a.order_seed,
        floor_pct: a.floor_pct,
        baseline_cell: baseline,
        cells: Vec::new(),
    };
    let plan = SuitePlan {
        cells,
        skipped,
        base,
        dir,
        default_dir,
        repeat: a.repeat,
        order_seed: a.order_seed,
        fail_fast: a.fail_fast,
        keep_controls: a.no_skip,
        definition,
    };
    Ok(plan)
}

/// `results/<UTC timestamp>_<workload>_<kind>` (a suite claims it with a `-2`, `-3`, …
/// suffix if two suites start in the same second).
pub fn default_suite_dir(start: SystemTime, workload: &str, kind: &str) -> PathBuf {
    let name = crate::settings::sanitize(&format!("{}_{workload}_{kind}", crate::time::stamp(start)));
    Path::new(crate::results::RESULTS_DIR).join(name)
}

/// Runs every (cell, repetition) in interleaved order, writes suite.json after each
/// run and the comparison at the end; returns the suite directory (a default name may
/// have been suffixed); `Err(RunFailed)` naming failed runs.
pub fn execute(plan: &SuitePlan, start: SystemTime) -> Result<PathBuf> {
    let (cells, suite) = (&plan.cells, &plan.dir);
    check_plan(plan)?;
    let claimed = create_suite_dir(suite, plan.default_dir)?;
    let plan = &SuitePlan { dir: claimed.shown.clone(), ..plan.clone() };
    let suite = &plan.dir;
    for s in &plan.skipped {
        let hint = if s.reason == EXCLUDED { "" } else { " (--no-skip keeps it as a control)" };
        crate::note!("syncbench: matrix: skipping {}: {}{hint}", s.cell, s.reason);
    }
    let order = order::interleaved(cells.len(), plan.repeat, plan.order_seed);
    crate::note!(
        "syncbench: matrix: {} cells × {} repetitions = {} runs, interleaved; {}",
        cells.len(),
        plan.repeat,
        order.len(),
        time_estimate(plan, order.len())
    );
    let mut done: Vec<RunEntry> = Vec::new();
    let began = std::time::Instant::now();
    for (i, &(ci, rep)) in order.iter().enumerate() {
        let cell = &cells[ci];
        let dir = suite.join("runs").join(format!("{}-r{}", cell.name, rep + 1));
        crate::note!(
            "syncbench: matrix: run {}/{}: {} r{}{}",
            i + 1,
            order.len(),
            cell.name,
            rep + 1,
            eta(began, i, order.len())
        );
        let opts = IngestOptions { out: Some(dir.clone()), ..cell.apply(&plan.base) };
        let entry = match run_one(&opts, cell, rep, suite, &dir) {
            Ok(entry) => entry,
            Err(e) => {
                // Refused before any run was recorded: leave no empty suite behind.
                if done.is_empty() {
                    claimed.clear();
                }
                return Err(e);
            }
        };
        let failed = entry.outcome != Outcome::Ok;
        done.push(entry);
        write_suite_json(plan, start, &done)?;
        if crate::signals::received().is_some() {
            crate::note!(
                "syncbench: matrix: interrupted; suite.json records the runs done, the comparison covers them"
            );
            break;
        }
        if failed && plan.fail_fast {
            crate::note!("syncbench: matrix: stopping at the first failure (--fail-fast)");
            break;
        }
    }
    let finished = finish(plan, &done);
    match crate::signals::received() {
        // Stopped: the comparison of the runs done is written and the interrupted run
        // recorded as such (not a failure to report); the exit says why.
        Some(sig) => match finished {
            Err(e) if !e.is::<RunFailed>() => Err(e),
            _ => Err(crate::signals::Interrupted(sig).into()),
        },
        None => finished,
    }
}

/// The suite's size is bounded and every cell's options are checked before the first
/// run (or the suite directory).
fn check_plan(plan: &SuitePlan) -> Result<()> {
    let cells = &plan.cells;
    if cells.is_empty() || plan.repeat == 0 || cells.len() * plan.repeat as usize > MAX_RUNS {
        return Err(input(format!(
            "expected 1..={MAX_RUNS} runs (cells × --repeat), got {} × {}",
            cells.len(),
            plan.repeat
        )));
    }
    let mut checked_nodes = Vec::new();
    for cell in cells {
        let opts = cell.apply(&plan.base);
        let checked = if plan.keep_controls { opts.validate_control() } else { opts.validate() };
        checked.map_err(|e| e.context(format!("cell {}", cell.name)))?;
        // Each distinct node (binary, allocator, settings) is found, built and checked
        // once, before the suite directory exists: a wrong --node-bin or --alloc-conf
        // is refused up front, not after the first runs.
        // The binary's name covers the allocator, the store and who serves the
        // engine's malloc (regression: keyed by allocator alone, a suite's
        // `--engine-malloc system` node was never preflighted, so it was built in the
        // middle of the suite, while other cells' runs were being measured).
        let bin = crate::node_bin::NodeKind::of(&opts).bin_name();
        let key = (bin, opts.node_bin.clone(), opts.heap_profile.is_some(), opts.alloc_conf.clone());
        if !checked_nodes.contains(&key) {
            crate::run::preflight(&opts).map_err(|e| e.context(format!("cell {}", cell.name)))?;
            checked_nodes.push(key);
        }
    }
    Ok(())
}

/// Renders the comparison, prints its table (for a matrix) and fails naming failed runs.
fn finish(plan: &SuitePlan, done: &[RunEntry]) -> Result<PathBuf> {
    let suite = &plan.dir;
    let failed: Vec<String> = done
        .iter()
        .filter(|r| r.outcome != Outcome::Ok)
        .map(|r| format!("{}-r{} ({})", r.cell, r.rep, r.outcome))
        .collect();
    let cmp = render::render(suite, plan.base.png)?;
    if plan.definition.kind != Some(SuiteKind::Ab) {
        // `ab` prints its own paired verdicts instead: two tables with different
        // ratios (of medians here, median of paired ratios there) would confuse.
        crate::say!("{}", comparison::terminal_table(&cmp));
        crate::say!(
            "matrix: {} runs, {} failed; comparison in {}/comparison.md",
            done.len(),
            failed.len(),
            suite.display()
        );
    }
    if !failed.is_empty() {
        return Err(RunFailed(format!("failed runs: {}", failed.join(", "))).into());
    }
    Ok(suite.clone())
}

/// Throughput assumed for the estimate printed before the first run (this project's
/// node on its 2-core development VM does 100–150 MiB/s; a guess until a run ends).
const ASSUMED_MIB_PER_S: f64 = 100.0;
/// Seconds a run spends outside ingest (spawn, read-back, files, charts), and with the
/// ceiling probes (disk before and after, three CPU probes).
const RUN_SETUP_S: (f64, f64) = (5.0, 30.0);

/// "about 1 h 40 min (…)": the suite's length before it starts, from each cell's
/// `--duration` or its workload's size at [`ASSUMED_MIB_PER_S`].
fn time_estimate(plan: &SuitePlan, runs: usize) -> String {
    let bytes = syncbench_workloads::Description::of(&plan.base.workload).total_bytes_estimate as f64;
    // A rate-limited workload goes no faster than its limit.
    let rate = plan.base.workload.arrival.rate_limit_mib_per_s.map_or(ASSUMED_MIB_PER_S, |r| r.min(ASSUMED_MIB_PER_S));
    let per_cell: Vec<f64> = plan
        .cells
        .iter()
        .map(|c| {
            let ingest = c.duration_s.map_or(bytes / (rate * 1024.0 * 1024.0), |d| d as f64);
            ingest + if plan.base.ceilings { RUN_SETUP_S.1 } else { RUN_SETUP_S.0 }
        })
        .collect();
    let total = per_cell.iter().sum::<f64>() * runs as f64 / per_cell.len().max(1) as f64;
    let (h, m) = ((total / 3600.0) as u64, ((total % 3600.0) / 60.0).ceil() as u64);
    let when = if h > 0 { format!("{h} h {m} min") } else { format!("{m} min") };
    format!("about {when} (at ~{rate:.0} MiB/s a run; each run's end gives a better estimate)")
}

/// ` — 2m10s elapsed, about 4m30s left` after `done` of `total` runs (nothing before
/// the first run ended: no estimate from nothing).
fn eta(began: std::time::Instant, done: usize, total: usize) -> String {
    if done == 0 {
        return String::new();
    }
    let elapsed = began.elapsed().as_secs_f64();
    let left = elapsed / done as f64 * (total - done) as f64;
    let clock = |s: f64| format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64);
    format!(" — {} elapsed, about {} left", clock(elapsed), clock(left))
}

/// One run; a node failure or harness error is recorded, an input error stops the suite.
fn run_one(opts: &IngestOptions, cell: &Cell, rep: u32, suite: &Path, dir: &Path) -> Result<RunEntry> {
    let entry = |outcome: Outcome, wall_s| RunEntry {
        cell: cell.name.clone(),
        rep: rep + 1,
        run_dir: relative(suite, dir),
        outcome,
        wall_s,
    };
    Ok(match crate::run::ingest(opts) {
        Ok(report) => entry(report.summary.outcome, Some(report.summary.wall_s)),
        Err(e) if e.chain().any(|c| c.is::<InputError>()) => return Err(e),
        Err(e) if e.chain().any(|c| c.is::<crate::signals::Interrupted>()) => entry(Outcome::Interrupted, None),
        Err(e) => {
            crate::note!("syncbench: matrix: {} r{} failed in the harness: {e:#}", cell.name, rep + 1);
            entry(Outcome::HarnessError, None)
        }
    })
}

/// Claims the suite directory (exclusively, locked while the suite runs) and its runs/.
fn create_suite_dir(dir: &Path, default: bool) -> Result<Claimed> {
    let claimed =
        if default { Claimed::fresh(dir, "the default suite directory")? } else { Claimed::given(dir, "out")? };
    fs::create_dir(dir.join("runs"))
        .map_err(|e| input(format!("--out {}: cannot create runs/: {e}", dir.display())))?;
    Ok(claimed)
}

fn relative(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}

fn write_suite_json(plan: &SuitePlan, start: SystemTime, done: &[RunEntry]) -> Result<()> {
    let file = SuiteFile {
        suite: plan.dir.file_name().map(|n| n.to_string_lossy().into_owned()),
        started_at: crate::time::iso8601(start),
        command: crate::units::command_line(),
        definition: SuiteDefinition { cells: plan.cells.clone(), ..plan.definition.clone() },
        skipped: plan.skipped.clone(),
        environment: serde_json::to_value(crate::run::envinfo::snapshot())?,
        order: done.to_vec(),
        interrupted: crate::signals::received().map(crate::signals::signal_name),
    };
    let path: PathBuf = plan.dir.join("suite.json");
    crate::results::write_json(&path, &file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(argv: &[&str]) -> MatrixArgs {
        let argv = ["syncbench", "matrix"].iter().chain(argv);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Matrix(a) => *a,
            _ => unreachable!("parsed a matrix command"),
        }
    }

    fn matrix_args(extra: &[&str]) -> MatrixArgs {
        let argv = ["--alloc", "glibc,jemalloc,mimalloc", "--store", "rocksdb", "--engine-malloc", "allocator,system"];
        parse(&argv.iter().chain(extra).copied().collect::<Vec<_>>())
    }

    #[test]
    fn alloc_conf_is_an_axis_of_the_allocator_it_names() {
        let a = parse(&[
            "--alloc",
            "glibc,jemalloc",
            "--alloc-conf",
            "jemalloc:default",
            "--alloc-conf",
            "jemalloc:background_thread:true,dirty_decay_ms:1000",
            "--alloc-conf",
            "glibc:glibc.malloc.trim_threshold=131072",
        ]);
        let (kept, _) = cells(&a).unwrap();
        assert_eq!(
            names(&kept),
            [
                "glibc_streaming_cc1_conf-trim_threshold-131072",
                "jemalloc_streaming_cc1",
                "jemalloc_streaming_cc1_conf-background_thread-true-dirty_decay_ms-1000",
            ]
        );
        assert_eq!(kept[0].alloc_conf.as_deref(), Some("glibc.malloc.trim_threshold=131072"));
        assert_eq!(kept[1].alloc_conf, None, "`default` is the untuned allocator");
        assert_eq!(kept[2].apply(&base()).alloc_conf, kept[2].alloc_conf, "each run gets its cell's setting");
        let untouched = cells(&parse(&["--alloc", "glibc,mimalloc", "--alloc-conf", "glibc:default"])).unwrap().0;
        assert_eq!(names(&untouched), ["glibc_streaming_cc1", "mimalloc_streaming_cc1"], "mimalloc: untuned");
    }

    #[test]
    fn alloc_conf_values_that_cannot_be_cells_are_refused_naming_them() {
        for (argv, says) in [
            (["--alloc", "jemalloc", "--alloc-conf", "mimalloc:purge_delay=0"], "mimalloc is not in --alloc"),
            (["--alloc", "jemalloc", "--alloc-conf", "tcmalloc:x"], "got `tcmalloc`"),
            (["--alloc", "jemalloc", "--alloc-conf", "dirty_decay_ms"], "expected ALLOC:SETTING"),
        ] {
            let e = cells(&parse(&argv)).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("--alloc-conf"), "{e}");
        }
        let twins = parse(&["--alloc", "jemalloc", "--alloc-conf", "jemalloc:a:1", "--alloc-conf", "jemalloc:a=1"]);
        let e = cells(&twins).unwrap_err().to_string();
        assert!(e.contains("names the same cell as jemalloc:a:1"), "{e}");
    }

    fn base() -> IngestOptions {
        let settings = RunSettings::from_args(&parse(&[]).settings).unwrap();
        let workload = resolve_workload("smoke", &Default::default(), None).unwrap();
        IngestOptions::base("smoke".into(), workload, settings)
    }

    fn names(cells: &[Cell]) -> Vec<&str> {
        cells.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn exclude_cell_moves_the_named_cells_to_skipped_and_keeps_the_order() {
        let (all, _) = cells(&matrix_args(&[])).unwrap();
        assert_eq!(all.len(), 5, "{:?}", names(&all));
        let (kept, skipped) = cells(&matrix_args(&["--exclude-cell", "mimalloc_rocksdb-sysmalloc_cc1"])).unwrap();
        let expected: Vec<&str> = names(&all).into_iter().filter(|n| *n != "mimalloc_rocksdb-sysmalloc_cc1").collect();
        assert_eq!(names(&kept), expected);
        let excluded = skipped.iter().find(|s| s.cell == "mimalloc_rocksdb-sysmalloc_cc1").unwrap();
        assert_eq!(excluded.reason, EXCLUDED);
    }

    #[test]
    fn exclude_cell_refuses_a_name_the_product_does_not_have() {
        let err = cells(&matrix_args(&["--exclude-cell", "mimalloc_rocksdb_sysmalloc"])).unwrap_err().to_string();
        assert!(err.contains("--exclude-cell") && err.contains("`mimalloc_rocksdb_sysmalloc`"), "{err}");
    }
}

//! Heap attribution: the profiles a `--heap-profile` run took, turned into files
//! anyone can open and into the run's top allocation sites.
//!
//! # Layout
//! - this module: after the node exits, convert each raw profile it announced
//!   (`heap_profile` events) with the node binary's own converter, make its paths
//!   portable, keep `heap/<kind>.pb.gz` (+ `heap/peak.svg`), and summarize.
//! - [`pprof`]: the pprof format, read and written by the harness's own code.
//! - [`sites`]: which code holds the live bytes of a profile.
//! - [`diff`]: the sites of two sets of runs side by side (suites, `ab`).
//!
//! Only `node-jemalloc-prof` takes profiles. glibc and mimalloc have no sampling
//! profiler to build in; their own statistics are charted instead (`allocator.svg`).

pub mod diff;
pub mod pprof;
pub mod sites;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use syncbench_node::heap_profile::{HeapProfileTaken, ProfileKind};

/// Heap profiles' directory inside a run directory.
pub const HEAP_DIR: &str = "heap";

/// Longest one conversion (symbolizing a profile) may take before it is abandoned.
const CONVERT_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest all of a run's conversions may take (about 0.2 s each here; up to 1,002
/// profiles a run).
const CONVERT_BUDGET: Duration = Duration::from_secs(600);

pub use crate::record::heap_profile::{HeapProfileSummary, PeakProfile, ProfileFile};

/// What [`convert_all`] needs to know about the run.
pub struct RunProfiles<'a> {
    pub node_bin: &'a Path,
    pub run_dir: &'a Path,
    pub taken: &'a [HeapProfileTaken],
    pub heap_live_peak_bytes: Option<i64>,
    pub zero_unix_ms: u64,
}

/// Converts every announced profile (the node has exited) and summarizes them. Raw
/// dumps are never kept, converted or not: their memory map names this machine's paths.
pub fn convert_all(r: &RunProfiles) -> HeapProfileSummary {
    let dir = r.run_dir.join(HEAP_DIR);
    let mut s = HeapProfileSummary {
        sample_interval_bytes: r.taken.first().map_or(0, |t| t.sample_interval_bytes),
        peak: None,
        files: Vec::new(),
        errors: Vec::new(),
    };
    let budget_end = Instant::now() + CONVERT_BUDGET;
    for t in r.taken {
        let outcome = if crate::signals::received().is_some() {
            Err("not converted: interrupted".to_owned())
        } else if Instant::now() > budget_end {
            Err(format!("not converted: the {} s for all conversions were spent", CONVERT_BUDGET.as_secs()))
        } else {
            convert_one(r, &dir, t)
        };
        match outcome {
            Ok((file, profile)) => {
                if t.kind == ProfileKind::Peak {
                    s.peak = Some(peak_of(t, &profile, r.heap_live_peak_bytes));
                }
                s.files.push(file);
            }
            Err(e) => s.errors.push(format!("{}: {}", t.file, e.replace(&format!("{}/", dir.display()), ""))),
        }
    }
    remove_raw(&dir);
    let node_named = |p: &PeakProfile| p.top_sites.iter().any(|x| sites::is_ours(&x.function));
    if s.peak.as_ref().is_some_and(|p| !node_named(p)) {
        s.errors.push(format!(
            "no site of the peak profile is named in the node's crates: {} lacks function-level debug info \
             (build it with `--profile=profiling`)",
            r.node_bin.file_name().unwrap_or_default().to_string_lossy()
        ));
    }
    s
}

/// Removes raw dumps (`*.heap`, `*.tmp`) left in `dir`, and `dir` itself if then empty.
fn remove_raw(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().extension().is_some_and(|x| x == "heap" || x == "tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let _ = std::fs::remove_dir(dir);
}

fn peak_of(t: &HeapProfileTaken, profile: &pprof::Profile, run_peak: Option<i64>) -> PeakProfile {
    let (mut top, total) = sites::sites(profile);
    top.truncate(sites::TOP_SITES);
    let share = run_peak.filter(|&p| p > 0).map(|p| (t.heap_live_bytes as f64 / p as f64 * 1e4).round() / 1e4);
    PeakProfile {
        heap_live_bytes: t.heap_live_bytes,
        share_of_run_peak: share,
        profiled_live_bytes: total,
        top_sites: top,
    }
}

/// `<kind>.heap` → `<kind>.pb.gz` (+ `peak.svg`); the raw file is removed once converted.
fn convert_one(r: &RunProfiles, dir: &Path, t: &HeapProfileTaken) -> Result<(ProfileFile, pprof::Profile), String> {
    // The name comes from the node's output: only a plain file name inside heap/ is used.
    let raw_name = Path::new(&t.file);
    if raw_name.components().count() != 1 || raw_name.extension().is_none_or(|e| e != "heap") {
        return Err("not a profile file name".into());
    }
    let stem = raw_name.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let raw = dir.join(raw_name);
    let pb = dir.join(format!("{stem}.pb.gz"));
    let svg = (t.kind == ProfileKind::Peak).then(|| dir.join(format!("{stem}.svg")));
    let title = format!(
        "Live heap at the run's peak: {} (jemalloc heap profile)",
        crate::units::fmt_bytes(t.heap_live_bytes as f64)
    );
    run_converter(r.node_bin, dir, &raw, &pb, svg.as_deref().map(|p| (p, title.as_str())))?;
    let mut profile = pprof::read(&pb).map_err(|e| e.to_string())?;
    profile.make_paths_portable(crate::node_bin::workspace_root().as_deref());
    pprof::write(&pb, &profile).map_err(|e| format!("{stem}.pb.gz: {e}"))?;
    let _ = std::fs::remove_file(&raw);
    let rel = |p: &Path| format!("{}/{}", HEAP_DIR, p.file_name().unwrap_or_default().to_string_lossy());
    let file = ProfileFile {
        kind: t.kind,
        pprof: rel(&pb),
        flamegraph: svg.as_deref().map(rel),
        heap_live_bytes: t.heap_live_bytes,
        t_s: t.taken_unix_ms.saturating_sub(r.zero_unix_ms) as f64 / 1e3,
    };
    Ok((file, profile))
}

/// `<node_bin> convert-heap RAW PPROF [SVG TITLE]` run inside `dir` on file names (its
/// messages then name no directory), bounded by [`CONVERT_TIMEOUT`] and stopped by
/// SIGINT/SIGTERM; its stderr goes to a file read afterwards (a pipe could fill).
fn run_converter(node_bin: &Path, dir: &Path, raw: &Path, pb: &Path, svg: Option<(&Path, &str)>) -> Result<(), String> {
    let name = |p: &Path| p.file_name().unwrap_or_default().to_owned();
    let err_path = dir.join("convert.err.tmp");
    let _ = std::fs::remove_file(&err_path);
    let err_file = crate::util::fsx::create_new(&err_path).map_err(|e| format!("convert.err.tmp: {e}"))?;
    // Absolute: the converter runs inside `dir`, where a relative `--node-bin` (as `ab
    // --head-node target/…` passes it) would not be found.
    let node_bin = std::path::absolute(node_bin).map_err(|e| format!("{}: {e}", node_bin.display()))?;
    let mut cmd = crate::node_bin::node_command(&node_bin, &[]);
    cmd.current_dir(dir).arg("convert-heap").arg(name(raw)).arg(name(pb));
    if let Some((svg, title)) = svg {
        cmd.arg(name(svg)).arg(title);
    }
    // The converter is the profiling binary: no profiling of the conversion itself.
    cmd.env("_RJEM_MALLOC_CONF", "prof:false").stdout(Stdio::null()).stderr(err_file);
    let bin = node_bin.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let mut child = cmd.spawn().map_err(|e| format!("running {bin} convert-heap: {e}"))?;
    let status = wait_bounded(&mut child);
    let mut err = String::new();
    if let Ok(f) = std::fs::File::open(&err_path) {
        let _ = std::io::Read::read_to_string(&mut std::io::Read::take(f, 4096), &mut err);
    }
    let _ = std::fs::remove_file(&err_path);
    match status? {
        s if s.success() => Ok(()),
        s => Err(format!("converter failed ({s}): {}", err.trim())),
    }
}

fn wait_bounded(child: &mut std::process::Child) -> Result<std::process::ExitStatus, String> {
    let deadline = Instant::now() + CONVERT_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Ok(s),
            Ok(None) if Instant::now() < deadline && crate::signals::received().is_none() => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                let why = if crate::signals::received().is_some() {
                    "interrupted".to_owned()
                } else {
                    format!("took longer than {} s", CONVERT_TIMEOUT.as_secs())
                };
                return Err(format!("conversion {why}"));
            }
            Err(e) => return Err(format!("waiting for the converter: {e}")),
        }
    }
}

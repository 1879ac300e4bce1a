//! jemalloc's sampling heap profiler (feature `profiling`, binary `node-jemalloc-prof`).
//!
//! Two halves, in two processes:
//! - **In the measured node**, [`JemallocProfiler`] only asks jemalloc to write its raw
//!   heap profile (`prof.dump`: the sampled stacks as addresses plus the process's
//!   memory map). That takes milliseconds and allocates nothing of note.
//! - **After the node has exited**, the harness runs the same binary as
//!   `node-jemalloc-prof convert-heap RAW PPROF [SVG TITLE]` ([`convert_main`]): it reads
//!   the raw profile, moves each address from the dead process's layout to its own (the
//!   same executable and libraries, mapped elsewhere by ASLR), symbolizes in-process
//!   (function names and inlined frames from the debug info of the `profiling` build) and
//!   writes gzipped pprof and an SVG flame graph of live bytes. Symbolizing costs tens of
//!   MiB and a second or so, which the measured process must not spend.
//!
//! The conversion itself is `pprof_util`'s (the library under the `jemalloc_pprof`
//! crate). Mapping file names are kept without their directories, so profiles carry no
//! path of the machine they were taken on in their mappings (source file names of
//! functions still do; the harness rewrites those).

use std::ffi::{CString, OsString};
use std::io::{self, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use syncbench_node::heap_profile::HeapProfiler;

use crate::maps;

/// Sampling on, every 512 KiB allocated on average: the setting production Rust nodes
/// ship for always-on profiling (reported at ~1–2 % cost). `_RJEM_MALLOC_CONF` (the
/// harness's `--alloc-conf`) is read after this and overrides it. The node turns
/// sampling off at start when it is given no profile directory.
pub const DEFAULT_CONF: &[u8] = b"prof:true,prof_active:true,lg_prof_sample:19\0";

/// Largest raw profile the converter reads (a run's profile is tens of KiB).
pub const RAW_PROFILE_MAX_BYTES: u64 = 256 << 20;

/// jemalloc's profiler, through `mallctl`.
pub struct JemallocProfiler;

static PROFILER: JemallocProfiler = JemallocProfiler;

impl JemallocProfiler {
    /// The profiler if jemalloc was started with it on (`opt.prof`); `None` if it was
    /// turned off (e.g. `--alloc-conf prof:false`).
    pub fn enabled() -> Option<&'static dyn HeapProfiler> {
        // SAFETY: "opt.prof" is a documented read-only bool.
        let on: bool = unsafe { tikv_jemalloc_ctl::raw::read(b"opt.prof\0") }.unwrap_or(false);
        on.then_some(&PROFILER as &dyn HeapProfiler)
    }
}

impl HeapProfiler for JemallocProfiler {
    fn dump(&self, path: &Path) -> io::Result<()> {
        let c =
            CString::new(path.as_os_str().as_bytes()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: "prof.dump" is a documented write-only `const char *` (a file name).
        unsafe { tikv_jemalloc_ctl::raw::write(b"prof.dump\0", c.as_ptr()) }
            .map_err(|e| io::Error::other(format!("prof.dump: {e}")))
    }

    fn set_active(&self, on: bool) -> io::Result<()> {
        // SAFETY: "prof.active" is a documented read-write bool.
        unsafe { tikv_jemalloc_ctl::raw::write(b"prof.active\0", on) }
            .map_err(|e| io::Error::other(format!("prof.active: {e}")))
    }

    fn sample_interval_bytes(&self) -> u64 {
        // SAFETY: "prof.lg_sample" is a documented read-only size_t.
        let lg: usize = unsafe { tikv_jemalloc_ctl::raw::read(b"prof.lg_sample\0") }.unwrap_or(19);
        1u64 << lg.min(63)
    }
}

/// What a conversion found.
#[derive(Debug)]
pub struct Converted {
    pub stacks: usize,
    /// Addresses that fell in no mapping shared by both processes (left unsymbolized).
    pub unrelocated: usize,
}

/// Raw jemalloc profile → gzipped pprof (+ flame graph), symbolized in this process.
pub fn convert(raw: &Path, pprof: &Path, flamegraph: Option<(&Path, &str)>) -> Result<Converted, String> {
    let len = std::fs::metadata(raw).map_err(|e| format!("{}: {e}", raw.display()))?.len();
    if len > RAW_PROFILE_MAX_BYTES {
        return Err(format!(
            "{}: {len} bytes, more than the {RAW_PROFILE_MAX_BYTES} a profile may have",
            raw.display()
        ));
    }
    let text = std::fs::read_to_string(raw).map_err(|e| format!("{}: {e}", raw.display()))?;
    let theirs = text.split_once("MAPPED_LIBRARIES:").map(|(_, m)| maps::parse(m)).unwrap_or_default();
    let ours = maps::parse(&std::fs::read_to_string("/proc/self/maps").map_err(|e| format!("/proc/self/maps: {e}"))?);
    let mut profile = pprof_util::parse_jeheap(BufReader::new(text.as_bytes()), None)
        .map_err(|e| format!("{}: not a jemalloc heap profile: {e}", raw.display()))?;
    let mut unrelocated = 0;
    for (stack, _) in &mut profile.stacks {
        for a in &mut stack.addrs {
            // 1, not 0: the converter subtracts one (return address → call) before lookup.
            *a = maps::relocate(*a as u64, &theirs, &ours).map_or_else(
                || {
                    unrelocated += 1;
                    1
                },
                |r| r as usize,
            );
        }
    }
    for m in mappings::MAPPINGS.as_deref().unwrap_or_default() {
        let name = m.pathname.file_name().map_or_else(PathBuf::new, PathBuf::from);
        profile.push_mapping(pprof_util::Mapping { pathname: name, ..m.clone() });
    }
    let bytes = profile.to_pprof(("inuse_space", "bytes"), ("space", "bytes"), None);
    std::fs::write(pprof, bytes).map_err(|e| format!("{}: {e}", pprof.display()))?;
    if let Some((svg, title)) = flamegraph {
        let mut opts = pprof_util::FlamegraphOptions::default();
        opts.title = title.to_owned();
        opts.count_name = "bytes".into();
        let image = profile.to_flamegraph(&mut opts).map_err(|e| format!("flame graph: {e}"))?;
        std::fs::write(svg, image).map_err(|e| format!("{}: {e}", svg.display()))?;
    }
    Ok(Converted { stacks: profile.stacks.len(), unrelocated })
}

/// `convert-heap RAW PPROF [SVG TITLE]`: exit 0 done, 1 failed, 2 usage. Prints
/// `stacks=N unrelocated=M` on success.
pub fn convert_main(args: impl Iterator<Item = OsString>) -> ExitCode {
    let args: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let (raw, pprof, flamegraph) = match args.as_slice() {
        [raw, pprof] => (raw, pprof, None),
        [raw, pprof, svg, title] => (raw, pprof, Some((svg.as_path(), title.to_str().unwrap_or("heap")))),
        _ => {
            eprintln!("usage: node-jemalloc-prof convert-heap RAW PPROF [SVG TITLE]");
            return ExitCode::from(2);
        }
    };
    match convert(raw, pprof, flamegraph) {
        Ok(c) => {
            println!("stacks={} unrelocated={}", c.stacks, c.unrelocated);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("convert-heap: {e}");
            ExitCode::FAILURE
        }
    }
}

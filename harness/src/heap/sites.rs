//! Allocation sites: which code holds the live bytes of a heap profile.
//!
//! A stack's bytes go to its **site**: the innermost frame of the node's own code
//! (a function in a `syncbench_*` crate other than `syncbench_allocators`, which is only
//! the counting wrapper), with the next different function of the node's code outside
//! it as **via** (e.g. `direct_io::read_file` via `compaction::buffered::compact`). A
//! stack without such a frame goes to its innermost frame that is not allocator or
//! standard-library machinery. Inlined frames count as frames (the profile keeps them).

use std::collections::HashMap;

use super::pprof::Profile;

/// How many sites `summary.json` keeps per profile.
pub const TOP_SITES: usize = 10;

pub use crate::record::heap_profile::Site;

/// A frame: function name and source position.
struct Frame<'a> {
    function: &'a str,
    file: &'a str,
    line: i64,
}

/// The sites of `profile`, largest first, and the profile's total live bytes.
pub fn sites(profile: &Profile) -> (Vec<Site>, u64) {
    let frames = Frames::index(profile);
    let mut by_site: HashMap<(String, Option<String>), (u64, Option<String>)> = HashMap::new();
    let mut total = 0u64;
    for sample in &profile.sample {
        let bytes = sample.value.first().copied().unwrap_or(0).max(0) as u64;
        total += bytes;
        let stack = frames.stack(&sample.location_id);
        let (function, via, at) = attribute(&stack);
        let entry = by_site.entry((function, via)).or_insert((0, at));
        entry.0 += bytes;
    }
    let mut out: Vec<Site> = by_site
        .into_iter()
        .map(|((function, via), (bytes, at))| Site { function, via, at, bytes, share: share(bytes, total) })
        .collect();
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.function.cmp(&b.function)).then_with(|| a.via.cmp(&b.via)));
    (out, total)
}

fn share(bytes: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (bytes as f64 / total as f64 * 1e4).round() / 1e4
    }
}

/// Locations and functions by id.
struct Frames<'a> {
    profile: &'a Profile,
    locations: HashMap<u64, &'a super::pprof::Location>,
    functions: HashMap<u64, &'a super::pprof::Function>,
}

impl<'a> Frames<'a> {
    fn index(profile: &'a Profile) -> Frames<'a> {
        Frames {
            profile,
            locations: profile.location.iter().map(|l| (l.id, l)).collect(),
            functions: profile.function.iter().map(|f| (f.id, f)).collect(),
        }
    }

    /// The stack leaf first, inlined frames expanded (innermost first).
    fn stack(&self, ids: &[u64]) -> Vec<Frame<'a>> {
        let p = self.profile;
        let lines = ids.iter().filter_map(|id| self.locations.get(id)).flat_map(|l| l.line.iter());
        lines
            .filter_map(|line| {
                let f = self.functions.get(&line.function_id)?;
                Some(Frame { function: p.string(f.name), file: p.string(f.filename), line: line.line })
            })
            .collect()
    }
}

pub fn is_ours(function: &str) -> bool {
    let f = function.trim_start_matches('<');
    f.starts_with("syncbench_") && !f.starts_with("syncbench_allocators")
}

/// Allocator and standard-library frames, never a site of their own.
fn is_machinery(function: &str) -> bool {
    const PREFIXES: [&str; 10] = [
        "alloc::",
        "core::",
        "std::",
        "__rust",
        "_rjem",
        "je_",
        "tikv_jemalloc",
        "syncbench_allocators",
        "hashbrown::",
        "prof_",
    ];
    let f = function.trim_start_matches('<');
    function.is_empty() || PREFIXES.iter().any(|p| f.starts_with(p))
}

/// Rust's entry points into the global allocator: frames inside them (the allocator,
/// its profiler's own backtrace code) are never a site.
/// Exact names only (`scripts/pprof-top.cjs` keeps the same list): a prefix such as
/// `__rust_` would also match `__rust_begin_short_backtrace` at a thread's root.
pub const ALLOC_ENTRIES: [&str; 14] = [
    "__rust_alloc",
    "__rust_alloc_zeroed",
    "__rust_realloc",
    "__rg_alloc",
    "__rg_alloc_zeroed",
    "__rg_realloc",
    "__rdl_alloc",
    "__rdl_alloc_zeroed",
    "__rdl_realloc",
    // C's entry points, and `alloc::alloc::realloc` as a binary without function-level
    // debug info names it when inlined.
    "malloc",
    "calloc",
    "realloc",
    "posix_memalign",
    "aligned_alloc",
];

fn is_alloc_entry(function: &str) -> bool {
    // Recent compilers name them `__rustc::__rust_alloc`, older ones `__rust_alloc`.
    let f = function.strip_prefix("__rustc::").unwrap_or(function);
    ALLOC_ENTRIES.contains(&f) || f.contains(" as core::alloc::global::GlobalAlloc>::")
}

fn attribute(stack: &[Frame]) -> (String, Option<String>, Option<String>) {
    let at = |f: &Frame| (!f.file.is_empty()).then(|| format!("{}:{}", f.file, f.line));
    let outside = stack.iter().rposition(|f| is_alloc_entry(f.function)).map_or(0, |i| i + 1);
    let stack = &stack[outside..];
    if let Some(i) = stack.iter().position(|f| is_ours(f.function)) {
        let site = &stack[i];
        let via = stack[i + 1..].iter().find(|f| is_ours(f.function) && f.function != site.function);
        return (site.function.to_owned(), via.map(|f| f.function.to_owned()), at(site));
    }
    match stack.iter().find(|f| !is_machinery(f.function)) {
        Some(f) => (f.function.to_owned(), None, at(f)),
        None => ("(unsymbolized)".into(), None, None),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::pprof::{Function, Line, Location, Sample};
    use super::*;

    /// A profile of `stacks` (leaf first) with their bytes.
    pub(crate) fn profile_of(stacks: &[(&[&str], i64)]) -> Profile {
        let mut p = Profile { string_table: vec![String::new()], ..Default::default() };
        for (names, bytes) in stacks {
            let mut ids = Vec::new();
            for name in *names {
                let id = p.location.len() as u64 + 1;
                p.string_table.push((*name).to_owned());
                let fid = p.function.len() as u64 + 1;
                let name = p.string_table.len() as i64 - 1;
                p.function.push(Function { id: fid, name, ..Default::default() });
                p.location.push(Location { id, line: vec![Line { function_id: fid, line: 7 }], ..Default::default() });
                ids.push(id);
            }
            p.sample.push(Sample { location_id: ids, value: vec![*bytes], label: vec![] });
        }
        p
    }

    /// Regression: a profile of a binary without function-level debug info (inlined
    /// frames named `realloc`, `read_file`) attributed its bytes to jemalloc's own
    /// `imalloc_body`.
    #[test]
    fn allocator_internals_are_never_a_site() {
        let p = profile_of(&[
            (&["prof_backtrace_impl", "imalloc_body", "realloc", "read_file", "compact", "start_thread"], 10),
            (&["prof_backtrace_impl", "do_rallocx", "malloc", "parse_all", "compact"], 5),
        ]);
        let (s, _) = sites(&p);
        assert_eq!(s[0].function, "read_file");
        assert_eq!(s[1].function, "parse_all");
    }

    /// A thread's root frame `__rust_begin_short_backtrace` is not an allocator entry:
    /// treating every `__rust_` name as one discarded the node's frames below it.
    #[test]
    fn a_threads_root_frame_does_not_hide_the_node() {
        let p = profile_of(&[(
            &[
                "je_malloc",
                "__rustc::__rust_alloc",
                "syncbench_node::wal::reader::scan",
                "std::sys::backtrace::__rust_begin_short_backtrace",
            ],
            8,
        )]);
        assert_eq!(sites(&p).0[0].function, "syncbench_node::wal::reader::scan");
    }

    #[test]
    fn bytes_go_to_the_innermost_node_frame_with_its_caller() {
        let p = profile_of(&[
            (
                &[
                    "prof_backtrace_impl",
                    "imalloc_body",
                    "_rjem_malloc",
                    "<syncbench_allocators::counting::Counting<A> as core::alloc::global::GlobalAlloc>::alloc",
                    "__rustc::__rust_alloc",
                    "alloc::raw_vec::RawVec<T>::with_capacity",
                    "syncbench_node::direct_io::read_file",
                    "syncbench_node::compaction::buffered::compact",
                    "std::thread::main",
                ],
                300,
            ),
            (
                &[
                    "je_malloc",
                    "syncbench_node::segment::writer::SegmentWriter::new",
                    "syncbench_node::compaction::buffered::compact",
                ],
                100,
            ),
            (&["je_malloc", "alloc::vec::Vec::push", "tokio::runtime::task"], 50),
            (&["je_malloc"], 50),
        ]);
        let (s, total) = sites(&p);
        assert_eq!(total, 500);
        assert_eq!(s[0].function, "syncbench_node::direct_io::read_file");
        assert_eq!(s[0].via.as_deref(), Some("syncbench_node::compaction::buffered::compact"));
        assert_eq!((s[0].bytes, s[0].share), (300, 0.6));
        assert_eq!(s[0].short(), "read_file (via compact)");
        assert_eq!(s[1].function, "syncbench_node::segment::writer::SegmentWriter::new");
        assert!(s.iter().any(|x| x.function == "tokio::runtime::task" && x.via.is_none()));
        assert!(s.iter().any(|x| x.function == "(unsymbolized)" && x.bytes == 50));
    }
}

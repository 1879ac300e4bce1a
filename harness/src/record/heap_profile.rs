//! `summary.json` `heap_profile`: the profiles a run kept and the top allocation sites
//! of the one nearest its peak (the conversion that fills it is `heap/`'s).

use serde::{Deserialize, Serialize};
use syncbench_node::heap_profile::ProfileKind;

/// `summary.json` `heap_profile`: the run's profiles and what the peak one shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeapProfileSummary {
    /// Mean bytes allocated between two samples of the profiler.
    pub sample_interval_bytes: u64,
    /// The profile nearest the run's largest live heap, if one was taken and converted.
    pub peak: Option<PeakProfile>,
    /// Every profile file kept: in the order the node announced them (the peak's
    /// latest replacement where it came; the end last).
    pub files: Vec<ProfileFile>,
    /// Profiles the node announced but that could not be converted, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// The peak profile and its top allocation sites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeakProfile {
    /// The counting allocator's live heap when the profile was taken.
    pub heap_live_bytes: i64,
    /// That live heap as a share of the run's largest (how near the peak it is).
    pub share_of_run_peak: Option<f64>,
    /// Live bytes in the profile (the profiler's estimate from its samples).
    pub profiled_live_bytes: u64,
    /// Largest sites first, at most `heap::sites::TOP_SITES`.
    pub top_sites: Vec<Site>,
}

/// One kept profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileFile {
    pub kind: ProfileKind,
    /// Relative to the run directory.
    pub pprof: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flamegraph: Option<String>,
    pub heap_live_bytes: i64,
    /// Seconds since the run's time zero.
    pub t_s: f64,
}

/// One allocation site and the live bytes it holds in a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// The site's function (demangled, without hash).
    pub function: String,
    /// The node's next function outside it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Source file and line of the allocation in the site's function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Live bytes (the profiler's estimate, scaled up from its samples).
    pub bytes: u64,
    /// Share of all live bytes in the profile, 0..=1.
    pub share: f64,
}

impl Site {
    /// `read_file (via compact)`, each name without its module path: for tables.
    pub fn short(&self) -> String {
        let last = |f: &str| f.rsplit("::").find(|p| !p.starts_with('{')).unwrap_or(f).to_owned();
        match &self.via {
            Some(v) => format!("{} (via {})", last(&self.function), last(v)),
            None => last(&self.function),
        }
    }
}

//! The top allocation sites of groups of runs side by side: a suite's cells in its
//! comparison, the two sides of `ab`.
//!
//! A group's figure for a site is the mean, over the group's runs that have a peak
//! profile, of the bytes the site held at the peak (a run where the site is not among
//! its top ten counts 0). Sites are told apart by full function and caller; tables show
//! the short names.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::sites::Site;
use crate::results::summary::Summary;
use crate::units::MIB;

/// Sites shown per group.
pub const SHOWN: usize = 5;

/// One group's mean bytes per site at the peak.
#[derive(Debug, Clone)]
pub struct GroupSites {
    pub label: String,
    /// Runs with a peak profile.
    pub profiled: usize,
    /// Mean bytes by site (full `function` and `via`), and the site's mean share.
    pub sites: BTreeMap<String, (f64, f64)>,
    /// The short name of each site, for tables.
    names: BTreeMap<String, String>,
}

impl GroupSites {
    /// `None` if no run of the group has a peak profile.
    pub fn of(label: &str, runs: &[&Summary]) -> Option<GroupSites> {
        let peaks: Vec<&[Site]> =
            runs.iter().filter_map(|s| Some(s.heap_profile.as_ref()?.peak.as_ref()?.top_sites.as_slice())).collect();
        if peaks.is_empty() {
            return None;
        }
        let n = peaks.len() as f64;
        let (mut sites, mut names): (BTreeMap<String, (f64, f64)>, BTreeMap<String, String>) = Default::default();
        for site in peaks.iter().flat_map(|p| p.iter()) {
            let key = format!("{} via {}", site.function, site.via.as_deref().unwrap_or("-"));
            names.entry(key.clone()).or_insert_with(|| site.short());
            let e = sites.entry(key).or_default();
            e.0 += site.bytes as f64 / n;
            e.1 += site.share / n;
        }
        Some(GroupSites { label: label.to_owned(), profiled: peaks.len(), sites, names })
    }

    /// This group's largest sites, largest first.
    fn top(&self, k: usize) -> Vec<&String> {
        let mut v: Vec<(&String, f64)> = self.sites.iter().map(|(k, (b, _))| (k, *b)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v.into_iter().take(k).map(|(k, _)| k).collect()
    }
}

/// The union of every group's top sites, ordered by their largest figure in any group.
fn rows(groups: &[GroupSites]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for g in groups {
        for k in g.top(SHOWN) {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let best = |k: &String| groups.iter().filter_map(|g| g.sites.get(k)).map(|v| v.0).fold(0.0, f64::max);
    keys.sort_by(|a, b| best(b).total_cmp(&best(a)).then_with(|| a.cmp(b)));
    keys
}

/// A site's short name, from whichever group has it.
fn name(groups: &[GroupSites], key: &str) -> String {
    groups.iter().find_map(|g| g.names.get(key)).cloned().unwrap_or_else(|| key.to_owned())
}

fn cell(g: &GroupSites, key: &str) -> String {
    match g.sites.get(key) {
        Some((bytes, share)) => format!("{:.1} MiB ({:.0} %)", bytes / MIB, share * 100.0),
        None => "–".into(),
    }
}

/// A Markdown table: one row per site, one column per group.
pub fn markdown(groups: &[GroupSites]) -> String {
    let mut out = String::from("| site at the peak |");
    for g in groups {
        let _ = write!(out, " {} (n={}) |", g.label, g.profiled);
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(groups.len()));
    for key in rows(groups) {
        let _ = write!(out, "\n| `{}` |", name(groups, &key));
        for g in groups {
            let _ = write!(out, " {} |", cell(g, &key));
        }
    }
    out.push('\n');
    out
}

/// Base and head side by side with the change in MiB, largest changes first.
pub fn ab_markdown(base: &GroupSites, head: &GroupSites) -> String {
    let pair = [base.clone(), head.clone()];
    let mut keys = rows(&pair);
    let mib = |g: &GroupSites, k: &str| g.sites.get(k).map_or(0.0, |v| v.0) / MIB;
    let change = |k: &String| mib(head, k) - mib(base, k);
    keys.sort_by(|a, b| change(b).abs().total_cmp(&change(a).abs()).then_with(|| a.cmp(b)));
    let mut out = format!(
        "| site at the peak | base (n={}) | head (n={}) | head − base |\n|---|---:|---:|---:|",
        base.profiled, head.profiled
    );
    for k in keys {
        let shown = name(&pair, &k);
        let _ = write!(out, "\n| `{shown}` | {} | {} | {:+.1} MiB |", cell(base, &k), cell(head, &k), change(&k));
    }
    out.push('\n');
    out
}

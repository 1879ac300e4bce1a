//! What the allocator itself says over the run (`allocator.svg`), for each allocator
//! what it offers: glibc the bytes each arena holds from the system and how much of
//! them is free (`malloc_info`); jemalloc `stats.*` (allocated → active → resident →
//! mapped, retained, and the dirty and muzzy pages its decay purges); mimalloc
//! `mi_process_info` (RSS and committed). glibc and mimalloc have no heap profiler to
//! attribute bytes to code; this is their view.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use syncbench_node::alloc_stats::AllocatorInternal;

use super::{
    headroom, series, series_style, shade_compactions, time_chart, titled, with_legend, Chart, Legend, RunChartData,
    MIB,
};

pub struct AllocatorChart<'a>(pub &'a RunChartData);

/// One named line: (label, [(t_s, MiB)]).
type Line = (String, Vec<(f64, f64)>);

impl AllocatorChart<'_> {
    /// The lines this run's allocator offers, and what they are called.
    fn lines(&self) -> (&'static str, Vec<Line>) {
        let points = &self.0.allocator;
        match points.first().map(|p| &p.1) {
            Some(AllocatorInternal::Glibc(_)) => ("glibc arenas (malloc_info)", glibc_lines(points)),
            Some(AllocatorInternal::Jemalloc(_)) => ("jemalloc stats", jemalloc_lines(points)),
            Some(AllocatorInternal::Mimalloc(_)) => ("mimalloc process info", mimalloc_lines(points)),
            None => ("", Vec::new()),
        }
    }
}

fn mib(v: u64) -> f64 {
    v as f64 / MIB
}

/// Per arena: bytes from the system; all arenas together: free bytes inside them.
fn glibc_lines(points: &[(f64, AllocatorInternal)]) -> Vec<Line> {
    let glibc =
        || points.iter().filter_map(|(t, a)| if let AllocatorInternal::Glibc(g) = a { Some((*t, g)) } else { None });
    let mut nrs: Vec<u32> = glibc().flat_map(|(_, g)| g.arena_list.iter().map(|a| a.nr)).collect();
    nrs.sort_unstable();
    nrs.dedup();
    let mut lines: Vec<Line> = nrs
        .iter()
        .map(|&nr| {
            let pts =
                glibc().filter_map(|(t, g)| Some((t, mib(g.arena_list.iter().find(|a| a.nr == nr)?.system_bytes))));
            (format!("arena {nr}{}: from the system", if nr == 0 { " (main)" } else { "" }), pts.collect())
        })
        .collect();
    let free = glibc()
        .filter(|(_, g)| !g.arena_list.is_empty())
        .map(|(t, g)| (t, mib(g.arena_list.iter().map(|a| a.free_bytes).sum())));
    lines.push(("free inside all arenas".into(), free.collect()));
    lines.push(("mmapped chunks (outside arenas)".into(), glibc().map(|(t, g)| (t, mib(g.mmap_bytes))).collect()));
    lines.retain(|l| !l.1.is_empty());
    lines
}

fn jemalloc_lines(points: &[(f64, AllocatorInternal)]) -> Vec<Line> {
    type Field = fn(&syncbench_node::alloc_stats::JemallocStats) -> Option<u64>;
    // Dirty and muzzy: what the decay settings and background threads act on (a node
    // too old to report them draws neither).
    let fields: [(&str, Field); 7] = [
        ("allocated", |j| j.allocated_bytes),
        ("active (pages in use)", |j| j.active_bytes),
        ("resident", |j| j.resident_bytes),
        ("mapped", |j| j.mapped_bytes),
        ("retained (unmapped, kept)", |j| j.retained_bytes),
        ("dirty (freed, not yet purged)", |j| j.dirty_bytes),
        ("muzzy (purged lazily, may stay resident)", |j| j.muzzy_bytes),
    ];
    let lines = fields.iter().map(|(label, f)| {
        let pts = points.iter().filter_map(|(t, a)| {
            if let AllocatorInternal::Jemalloc(j) = a {
                Some((*t, mib(f(j)?)))
            } else {
                None
            }
        });
        ((*label).to_owned(), pts.collect::<Vec<_>>())
    });
    lines.filter(|l| !l.1.is_empty()).collect()
}

fn mimalloc_lines(points: &[(f64, AllocatorInternal)]) -> Vec<Line> {
    type Field = fn(&syncbench_node::alloc_stats::MimallocStats) -> u64;
    let fields: [(&str, Field); 2] = [("RSS (mimalloc's view)", |m| m.rss_bytes), ("committed", |m| m.commit_bytes)];
    let lines = fields.iter().map(|(label, f)| {
        let pts =
            points
                .iter()
                .filter_map(|(t, a)| if let AllocatorInternal::Mimalloc(m) = a { Some((*t, mib(f(m)))) } else { None });
        ((*label).to_owned(), pts.collect::<Vec<_>>())
    });
    lines.filter(|l| !l.1.is_empty()).collect()
}

impl Chart for AllocatorChart<'_> {
    fn file_stem(&self) -> &'static str {
        "allocator"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let d = self.0;
        let (what, lines) = self.lines();
        let (plot, key) = with_legend(&titled(root, &format!("Allocator's own statistics: {what} — {}", d.title))?);
        let x_max = d.rss.last().map_or(0.0, |r| r.0).max(d.allocator.last().map_or(0.0, |p| p.0));
        let y_max = headroom(lines.iter().flat_map(|l| l.1.iter().map(|p| p.1)).fold(0.0, f64::max));
        let mut chart = time_chart(&plot, "MiB", x_max, y_max)?;
        let mut legend = Legend::default();
        shade_compactions(&mut chart, &mut legend, &d.compactions, y_max)?;
        for (i, (label, pts)) in lines.into_iter().enumerate() {
            series(&mut chart, &mut legend, pts, label, series_style(i))?;
        }
        legend.draw(&key)
    }
}

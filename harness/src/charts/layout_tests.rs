//! Every chart kind, rendered from synthetic runs with long names, parsed back with
//! usvg (text laid out with the embedded font) and checked: no text runs outside the
//! canvas, and legend entries sit in the legend column, never over the plot.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::json;

use super::style::{LEGEND_WIDTH, WIDTH};
use super::suite::{Interval, SuiteChartData};
use super::{render, render_run, CellRuns, Chart, RunChartData};
use crate::results::load::{RunFiles, SampleRow};
use crate::results::ratchet::{Floor, WindowPeak};
use crate::results::summary::Summary;

const HOST: &str = "a-bare-metal-host-with-a-long-name.example.org";

fn run(alloc: &str, mode: &str, cc: u64, shard: u64, scale: f64) -> RunFiles {
    let config = json!({
        "workload": {"name": "mainnet-large", "blocks": 40000, "shard_size": shard, "seed": 1},
        "node": {"alloc": alloc, "compaction": mode, "compaction_concurrency": cc, "writer_batch": 512},
        "environment": {"host": HOST},
    });
    let samples = (0..300)
        .map(|i| {
            let t = f64::from(i) * 0.1;
            let rss = scale * (200.0 + 50.0 * (t * 0.7).sin().abs()) * super::MIB;
            SampleRow {
                t_s: t,
                rss,
                rss_anon: rss * 0.9,
                rss_file: rss * 0.1,
                hwm: rss,
                heap_live: Some(rss * 0.6),
                allocator_resident: Some(rss * 0.8),
                blocks_acked: f64::from(i) * 100.0,
                bytes_acked: f64::from(i) * 25.0 * super::MIB,
            }
        })
        .collect();
    let spectrum = vec![(0.0, 900.0), (0.5, 5e3), (0.9, 9e3), (0.99, 2e4), (0.999, 4e4), (0.99999, 9e4), (1.0, 1e5)];
    RunFiles {
        dir: format!("{alloc}-{mode}-{cc}-{shard}").into(),
        summary: Summary::for_test(json!({"rss_peak_bytes": (scale * 250.0 * super::MIB) as u64})),
        config: serde_json::from_value(config).unwrap(),
        samples,
        compactions: vec![(3.0, 6.5), (12.0, 15.0)],
        flushes: (0..30).map(f64::from).collect(),
        latency: ["ingest", "flush", "wal_append", "compaction"].map(|n| (n.to_owned(), spectrum.clone())).to_vec(),
        allocator: (0..300).map(|i| (f64::from(i) * 0.1, glibc_arenas(16, scale))).collect(),
        ratchet: [(7.0, 205.0), (16.0, 212.0), (24.0, 220.0)]
            .iter()
            .enumerate()
            .map(|(i, &(t, mib))| Floor {
                compaction: i as u64 + 1,
                shard: i as u64,
                t_ms: (t * 1e3) as u64,
                rss_floor_bytes: (scale * mib * super::MIB) as u64,
                bytes_acked: (t * 250.0 * super::MIB) as u64,
                peak: Some(WindowPeak {
                    t_ms: (t * 1e3) as u64 + 2000,
                    rss_bytes: (scale * 280.0 * super::MIB) as u64,
                }),
            })
            .collect(),
        engine_flushes: Vec::new(),
        engine: Vec::new(),
    }
}

/// glibc statistics with `n` arenas (16: what 8 × 2 cores allows, more lines than colours).
fn glibc_arenas(n: u32, scale: f64) -> syncbench_node::alloc_stats::AllocatorInternal {
    use syncbench_node::alloc_stats::{AllocatorInternal, GlibcArena, GlibcStats};
    let arena = |nr: u32| GlibcArena {
        nr,
        system_bytes: (scale * f64::from(nr + 1) * 4.0 * super::MIB) as u64,
        free_bytes: (scale * super::MIB) as u64,
    };
    AllocatorInternal::Glibc(GlibcStats {
        mmap_bytes: (scale * 30.0 * super::MIB) as u64,
        arenas: Some(u64::from(n)),
        arena_list: (0..n).map(arena).collect(),
        ..Default::default()
    })
}

/// 24 cells (small multiples), names as long as a real matrix makes them, 2 shard sizes.
fn suite() -> SuiteChartData {
    let mut cells = Vec::new();
    for alloc in ["glibc", "jemalloc", "mimalloc"] {
        for mode in ["buffered", "streaming"] {
            for cc in [1, 2] {
                for shard in [500, 2000] {
                    let arena = if alloc == "glibc" { "_arena2" } else { "" };
                    let cell = format!("{alloc}{arena}_{mode}_cc{cc}_shard{shard}");
                    let scale = if mode == "buffered" { 4.0 } else { 1.0 } * (1.0 + shard as f64 / 4000.0);
                    cells.push(CellRuns {
                        cell,
                        runs: vec![run(alloc, mode, cc, shard, scale), run(alloc, mode, cc, shard, scale * 1.05)],
                        rounds: vec![Some(1), Some(2)],
                    });
                }
            }
        }
    }
    let intervals = |unit: f64| -> Vec<Interval> {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let m = unit * (1.0 + i as f64 * 0.01);
                Interval {
                    cell: c.cell.clone(),
                    median: m,
                    lo: m * 0.98,
                    hi: m * 1.02,
                    n: if i % 2 == 0 { 2 } else { 5 },
                }
            })
            .collect()
    };
    SuiteChartData {
        subtitle: format!("mainnet-large · {HOST}, another-host-with-a-long-name.example.org"),
        rss_peak_mib: intervals(250.0),
        throughput_mib_s: intervals(300.0),
        cells,
    }
}

/// A tuning chart of 8 long settings, some Pareto-optimal, one figure missing.
fn pareto() -> super::pareto::ParetoData {
    use super::pareto::{ParetoData, ParetoSetting, Point};
    let p = |v: f64| Some(Point { center: v, interval: [v * 0.9, v * 1.1] });
    let settings = (0..8)
        .map(|i| {
            let s = 1.0 + f64::from(i) * 0.07;
            ParetoSetting {
                label: format!("background_thread:true,dirty_decay_ms:{i}000,muzzy_decay_ms:0,retain:false"),
                optimal: i % 3 == 0,
                memory: vec![p(300.0 / s), p(6000.0 / s)],
                cost: vec![p(50.0), if i == 7 { None } else { p(200.0 * s) }, p(100.0 * s), p(18.0 * s)],
            }
        })
        .collect();
    let axes = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
    ParetoData {
        title: format!("Tuning jemalloc — soak — 8 cells × 5 repetitions · {HOST} — memory against cost per setting"),
        memory: axes(&["RSS p50 (MiB)", "RSS × time (MiB·s/GiB)"]),
        cost: axes(&["throughput (MiB/s)", "ingest p99 (ms)", "node CPU (s)", "kernel share of node CPU (%)"]),
        settings,
        bars: "bars: 95 % t intervals on logs".into(),
    }
}

/// (text, left, top, right, bottom) of every text node, in canvas pixels.
fn texts(svg: &str) -> (f32, f32, Vec<(String, [f32; 4])>) {
    let mut db = resvg::usvg::fontdb::Database::new();
    db.load_font_data(dejavu::sans::regular().to_vec());
    db.load_font_data(dejavu::sans::bold().to_vec());
    db.set_sans_serif_family("DejaVu Sans");
    let opt = resvg::usvg::Options { fontdb: std::sync::Arc::new(db), ..Default::default() };
    let tree = resvg::usvg::Tree::from_str(svg, &opt).expect("valid SVG");
    let mut out = Vec::new();
    collect(tree.root(), &mut out);
    (tree.size().width(), tree.size().height(), out)
}

fn collect(group: &resvg::usvg::Group, out: &mut Vec<(String, [f32; 4])>) {
    for node in group.children() {
        match node {
            resvg::usvg::Node::Group(g) => collect(g, out),
            resvg::usvg::Node::Text(t) => {
                let text: String = t.chunks().iter().map(|c| c.text()).collect();
                let b = t.abs_bounding_box();
                out.push((text, [b.left(), b.top(), b.right(), b.bottom()]));
            }
            _ => {}
        }
    }
}

/// What is wrong with the layout of one SVG (empty: nothing).
fn problems(name: &str, svg: &str) -> Vec<String> {
    let (w, h, texts) = texts(svg);
    let mut out = Vec::new();
    for (text, [l, t, r, b]) in &texts {
        if *l < -1.0 || *t < -1.0 || *r > w + 1.0 || *b > h + 1.0 {
            out.push(format!("{name}: `{text}` at [{l:.0}, {t:.0}, {r:.0}, {b:.0}] leaves the {w}×{h} canvas"));
        }
        // Cell names and series labels appear only in legends here (the whisker
        // charts name their rows on the axis, on purpose).
        let legend_only = ["VmRSS (total)", "compaction running", "live heap (counting allocator)", "ingest: send"];
        let is_legend = text.contains("_cc") || legend_only.iter().any(|l| text.starts_with(l));
        let rows_on_axis = name == "rss_peak.svg" || name == "throughput.svg";
        if is_legend && !rows_on_axis && *l < (WIDTH - LEGEND_WIDTH) as f32 {
            out.push(format!(
                "{name}: legend entry `{text}` at x = {l:.0}, inside the plot (< {})",
                WIDTH - LEGEND_WIDTH
            ));
        }
    }
    if texts.is_empty() {
        out.push(format!("{name}: no text found (font not loaded?)"));
    }
    out
}

fn check_dir(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".svg") {
            out.extend(problems(&name, &std::fs::read_to_string(e.path()).unwrap()));
        }
    }
    out
}

#[test]
fn every_chart_keeps_text_on_the_canvas_and_legends_off_the_plot() {
    let t = tempfile::tempdir().unwrap();
    let r = run("glibc", "buffered", 2, 2000, 1.0);
    let mut data = RunChartData::from_files(&r);
    data.title = format!("mainnet-large · glibc · buffered cc2 · {HOST}");
    render_run(&data, t.path(), false).unwrap();
    super::suite::render_suite(&suite(), t.path(), false).unwrap();
    render(&super::pareto::Pareto(&pareto()), t.path(), false).unwrap();
    let kinds: Vec<String> =
        std::fs::read_dir(t.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    let run_kinds = ["rss", "heap_vs_rss", "allocator", "ratchet", "throughput", "latency"];
    for kind in run_kinds.into_iter().chain(["rss_overlay", "rss_peak", "scaling", "pareto"]) {
        assert!(kinds.contains(&format!("{kind}.svg")), "{kind}.svg not rendered: {kinds:?}");
    }
    let problems = check_dir(t.path());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The checker itself can fail: a chart that writes past the canvas and puts its
/// legend over the plot is caught.
struct Careless;

impl Chart for Careless {
    fn file_stem(&self) -> &'static str {
        "careless"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let style = (super::FONT, 14).into_font();
        root.draw(&Text::new("glibc_streaming_cc1 (legend over the plot)", (100, 100), style.clone()))
            .map_err(super::de)?;
        root.draw(&Text::new("a label running off the right edge", (WIDTH as i32 - 40, 200), style))
            .map_err(super::de)?;
        Ok(())
    }
}

#[test]
fn the_layout_check_catches_a_careless_chart() {
    let t = tempfile::tempdir().unwrap();
    render(&Careless, t.path(), false).unwrap();
    let found = check_dir(t.path());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("inside the plot") || found[1].contains("inside the plot"), "{found:?}");
    assert!(found.iter().any(|p| p.contains("leaves the")), "{found:?}");
}

#!/usr/bin/env python3
"""Recomputes every figure of READING.md from this suite's run files and the committed
gate baseline (results/baselines/gate.json). Usage: python3 recompute.py (from anywhere)."""
import json, math, pathlib

here = pathlib.Path(__file__).resolve().parent
baseline = json.loads((here.parent / "baselines" / "gate.json").read_text())
MIB = 2**20


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def side(name):
    runs = sorted(here.glob(f"runs/{name}-r*"), key=lambda p: int(p.name.rsplit("r", 1)[1]))
    summaries = [json.loads((r / "summary.json").read_text()) for r in runs]
    assert all(s["outcome"] == "ok" for s in summaries), name
    sha = {json.loads((r / "config.json").read_text())["node"]["reported"]["build"]["git_sha"][:7] for r in runs}
    return summaries, sha


b, b_sha = side("base")
h, h_sha = side("head")
print(f"base node {sorted(b_sha)}, head node {sorted(h_sha)}, {len(b)} and {len(h)} ok runs")
for key, label in [("rss_p50_bytes", "RSS p50"), ("rss_peak_bytes", "peak RSS")]:
    committed = baseline["metrics"][key]["geomean"]
    gb, gh = geomean([s[key] for s in b]), geomean([s[key] for s in h])
    print(
        f"{label}: committed baseline {committed / MIB:.1f} MiB; base now {gb / MIB:.1f} MiB "
        f"({(gb / committed - 1) * 100:+.1f} %); head {gh / MIB:.1f} MiB (x{gh / gb:.3f} of base); "
        f"base runs {[round(s[key] / MIB, 1) for s in b]}"
    )
import statistics

for key in ["alloc_count", "alloc_bytes_total", "heap_live_peak_bytes"]:
    committed = baseline["metrics"][key]
    gb, mb = geomean([s[key] for s in b]), statistics.median([s[key] for s in b])
    print(
        f"{key}: base now {(gb / committed['geomean'] - 1) * 100:+.2f} % over the committed baseline "
        f"(geometric means), {(mb / committed['median'] - 1) * 100:+.2f} % (medians)"
    )
env = lambda s: (s["environment"].get("kernel"), s["environment"].get("host"))
print("kernel, host: baseline", env(baseline), "; this suite", env(json.loads(next(here.glob("runs/base-r1/config.json")).read_text())))
low = min(range(len(h)), key=lambda i: h[i]["rss_p50_bytes"])
rest = [s["rss_p50_bytes"] for i, s in enumerate(h) if i != low]
print(
    f"head's lowest RSS p50 run r{low + 1} ({h[low]['rss_p50_bytes'] / MIB:.1f} MiB); without it head is "
    f"x{geomean(rest) / geomean([s['rss_p50_bytes'] for s in b]):.3f} of base"
)

# The peak live heap's rare spikes (why the gate compares it by medians): runs more than
# 5 % above their own cell's median, in this suite and in the gate's calibration suite.
import collections, statistics

cells = collections.defaultdict(list)
for suite in [here, here.parent / "20261207T020320Z_gate_calibration"]:
    for run in suite.glob("runs/*"):
        summary = json.loads((run / "summary.json").read_text())
        cells[(suite.name, run.name.rsplit("-r", 1)[0])].append(summary["heap_live_peak_bytes"])
spikes = [
    (v / statistics.median(vs) - 1) * 100 for vs in cells.values() for v in vs if v > 1.05 * statistics.median(vs)
]
others = [abs(v / statistics.median(vs) - 1) * 100 for vs in cells.values() for v in vs if v <= 1.05 * statistics.median(vs)]
total = sum(len(vs) for vs in cells.values())
print(
    f"peak live heap: {len(spikes)} of {total} runs more than 5 % above their cell's median "
    f"({', '.join(f'+{s:.1f} %' for s in sorted(spikes))}); {sum(o <= 1 for o in others)} of the other "
    f"{len(others)} within 1 %, all within {max(others):.1f} %"
)

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
for key in ["alloc_count", "alloc_bytes_total", "heap_live_peak_bytes"]:
    committed = baseline["metrics"][key]["geomean"]
    gb = geomean([s[key] for s in b])
    print(f"{key}: base now {(gb / committed - 1) * 100:+.2f} % over the committed baseline")
env = lambda s: (s["environment"].get("kernel"), s["environment"].get("host"))
print("kernel, host: baseline", env(baseline), "; this suite", env(json.loads(next(here.glob("runs/base-r1/config.json")).read_text())))
low = min(range(len(h)), key=lambda i: h[i]["rss_p50_bytes"])
rest = [s["rss_p50_bytes"] for i, s in enumerate(h) if i != low]
print(
    f"head's lowest RSS p50 run r{low + 1} ({h[low]['rss_p50_bytes'] / MIB:.1f} MiB); without it head is "
    f"x{geomean(rest) / geomean([s['rss_p50_bytes'] for s in b]):.3f} of base"
)

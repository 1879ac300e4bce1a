#!/usr/bin/env python3
"""Recomputes the noise figures of READING.md: per clean-run set, the spread of the two RSS
metrics between runs (sd of log values, as a %) and the false-alarm rate a fixed limit
gives at n base vs n head runs under a normal model of those logs (the geometric means'
log difference ~ N(0, sd^2 * 2 / n)). The sets are this suite's clean cell, the clean
cell of the first calibration (20261207T020320Z_gate_calibration), the runs of the
committed gate baseline (20261207T024007Z_gate_baseline) and the kernel-drift suite's two
sides (two nodes, each side its own set; 20261207T184025Z_gate_ab_kernel-drift), each read
from its committed summary.json files. The empirical rates (draws of real runs) are
`syncbench calibrate`'s, in the N-vs-N/ directories here; the script ends by drawing
them again with a second implementation of the gate's rule. Usage: python3 recompute.py (from anywhere)."""
import json, math, pathlib, random, statistics

here = pathlib.Path(__file__).resolve().parent
LIMITS_PCT = {"rss_p50_bytes": 3.5, "rss_peak_bytes": 5.0}  # results/baselines/thresholds.toml
SETS = [
    ("this suite, clean cell (2026-12-08)", here, "jemalloc_streaming_cc1-r*"),
    ("first calibration, clean cell (2026-12-07)", here.parent / "20261207T020320Z_gate_calibration",
     "jemalloc_streaming_cc1-r*"),
    ("committed gate baseline's runs (2026-12-07)", here.parent / "20261207T024007Z_gate_baseline",
     "jemalloc_streaming_cc1-r*"),
    ("kernel-drift suite, base side (2026-12-07)", here.parent / "20261207T184025Z_gate_ab_kernel-drift", "base-r*"),
    ("kernel-drift suite, head side (2026-12-07)", here.parent / "20261207T184025Z_gate_ab_kernel-drift", "head-r*"),
]


def values(suite, pattern, key):
    out = []
    for run in sorted(suite.glob(f"runs/{pattern}")):
        s = json.loads((run / "summary.json").read_text())
        assert s["outcome"] == "ok", run
        out.append(s[key])
    return out


def upper_tail(z):
    return 0.5 * math.erfc(z / math.sqrt(2))


def false_alarms(sd_log, limit_pct, n):
    return upper_tail(math.log1p(limit_pct / 100) / (sd_log * math.sqrt(2 / n)))


for key, limit in LIMITS_PCT.items():
    print(f"{key} (limit {limit} %): sd of log between runs; modelled false alarms at n vs n runs")
    for label, suite, pattern in SETS:
        v = values(suite, pattern, key)
        sd = statistics.stdev(math.log(x) for x in v)
        rates = ", ".join(f"{n} vs {n}: {false_alarms(sd, limit, n) * 100:.2f} %" for n in (6, 8, 10))
        print(f"  {label}: n = {len(v)}, sd {sd * 100:.2f} %; {rates}")
    # The spread at which the limit fails 2 % of A/A comparisons, per number of runs.
    z98 = 2.0537
    for n in (6, 10):
        sd = math.log1p(limit / 100) / (z98 * math.sqrt(2 / n))
        print(f"  {n} vs {n}: 2 % false alarms once the sd between runs reaches {sd * 100:.2f} %")

# A second implementation of the draws (Python's generator, 20,000 draws, not
# `syncbench calibrate`'s): the gate's rule (geometric means, the median for the peak
# live heap) and the committed limits, on this suite's runs.

GATE_LIMITS_PCT = {"alloc_count": 1, "alloc_bytes_total": 1, "heap_live_end_bytes": 1,
                   "store_bytes_written": 1, "heap_live_peak_bytes": 3, "rss_peak_bytes": 5,
                   "rss_p50_bytes": 3.5}


def summaries(pattern):
    return [json.loads((r / "summary.json").read_text()) for r in sorted(here.glob(f"runs/{pattern}"))]


def centre(runs, key):
    v = [r[key] for r in runs]
    if key == "heap_live_peak_bytes":
        return statistics.median(v)
    return math.exp(sum(map(math.log, v)) / len(v))


def failed(base, head):
    return [k for k, lim in GATE_LIMITS_PCT.items() if (centre(head, k) / centre(base, k) - 1) * 100 > lim]


clean, injected = summaries("jemalloc_streaming_cc1-r*"), summaries("jemalloc_streaming_cc1_inj9mib-r*")
rng, DRAWS = random.Random(7), 20_000
for n in (6, 10):
    aa = caught = 0
    for _ in range(DRAWS):
        idx = rng.sample(range(len(clean)), 2 * n)
        aa += bool(failed([clean[i] for i in idx[:n]], [clean[i] for i in idx[n:]]))
        caught += "rss_p50_bytes" in failed(rng.sample(clean, n), rng.sample(injected, n))
    print(f"re-simulated, {n} vs {n}, {DRAWS} draws: the gate fails {aa / DRAWS * 100:.2f} % of A/A draws; "
          f"rss_p50_bytes catches the 9 MiB cell in {caught / DRAWS * 100:.2f} %")

#!/usr/bin/env python3
"""Recomputes the noise figures of READING.md: per clean-run set, the spread of the two RSS
metrics between runs (sd of log values, as a %) and the false-alarm rate a fixed limit
gives at n base vs n head runs under a normal model of those logs (the geometric means'
log difference ~ N(0, sd^2 * 2 / n)). The sets are this suite's clean cell, the clean
cell of the first calibration (20261207T020320Z_gate_calibration) and the kernel-drift
suite's two sides (same node source, 20261207T184025Z_gate_ab_kernel-drift), each read
from its committed summary.json files. The empirical rates (draws of real runs) are
`syncbench calibrate`'s, in the N-vs-N/ directories here.
Usage: python3 recompute.py (from anywhere)."""
import json, math, pathlib, statistics

here = pathlib.Path(__file__).resolve().parent
LIMITS_PCT = {"rss_p50_bytes": 3.5, "rss_peak_bytes": 5.0}  # results/baselines/thresholds.toml
SETS = [
    ("this suite, clean cell (2026-12-08)", here, "jemalloc_streaming_cc1-r*"),
    ("first calibration, clean cell (2026-12-07)", here.parent / "20261207T020320Z_gate_calibration",
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

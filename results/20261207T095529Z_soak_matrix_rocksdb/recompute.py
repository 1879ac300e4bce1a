#!/usr/bin/env python3
"""Recomputes two of READING.md's figures from this suite's run files alone, without
the harness: each cell's RSS p50 (geometric mean over its runs) with its ratio to
glibc paired by round (95 % t interval on logs, n = 5, df = 4), and each cell's
median of RSS − live heap − RocksDB's account over its samples (samples.csv).

Usage: python3 recompute.py [SUITE_DIR]   (default: this file's directory)
"""
import csv
import json
import math
import os
import statistics
import sys

T_975_DF4 = 2.7764451051977987  # Student's t, 97.5th percentile, 4 degrees of freedom
MIB = 1024 * 1024
BASE = "glibc_rocksdb_cc1_d300s"


def runs(suite):
    for name in sorted(os.listdir(os.path.join(suite, "runs"))):
        cell, _, rep = name.rpartition("-r")
        d = os.path.join(suite, "runs", name)
        if not os.path.isfile(os.path.join(d, "summary.json")):
            continue
        with open(os.path.join(d, "summary.json")) as f:
            s = json.load(f)
        if s["outcome"] == "ok":
            yield cell, int(rep), d, s


def per_sample(run_dir):
    """Per sample: (RssAnon − live heap − RocksDB's account in MiB, RSS ÷ (live heap + account))."""
    beyond, times = [], []
    with open(os.path.join(run_dir, "samples.csv")) as f:
        for r in csv.DictReader(f):
            if not r["heap_live_bytes"] or not r["engine_memtables_bytes"]:
                continue
            engine = sum(int(r[k] or 0) for k in ("engine_memtables_bytes", "engine_block_cache_bytes",
                                                   "engine_table_readers_bytes"))
            rss, anon, live = int(r["rss_bytes"]), int(r["rss_anon_bytes"]), int(r["heap_live_bytes"])
            beyond.append((anon - live - engine) / MIB)
            times.append(rss / (live + engine))
    if not beyond:
        return float("nan"), float("nan")
    return statistics.median_low(beyond), statistics.median_low(times)


def main():
    suite = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rss, beyond, times = {}, {}, {}
    for cell, rep, d, s in runs(suite):
        rss.setdefault(cell, {})[rep] = s["rss_p50_bytes"] / MIB
        b, t = per_sample(d)
        beyond.setdefault(cell, {})[rep] = b
        times.setdefault(cell, {})[rep] = t
    base = rss[BASE]
    print(f"{'cell':<38} {'n':>2} {'RSS p50 (MiB)':>14} {'× glibc [95 % t, paired]':>27} {'beyond (MiB)':>13} {'RSS/accounted':>14}")
    for cell in sorted(rss):
        v = rss[cell]
        geo = math.exp(statistics.mean(math.log(x) for x in v.values()))
        logs = [math.log(v[r] / base[r]) for r in sorted(v) if r in base]
        if cell != BASE and len(logs) >= 2:
            m, se = statistics.mean(logs), statistics.stdev(logs) / math.sqrt(len(logs))
            ratio = f"×{math.exp(m):.2f} [{math.exp(m - T_975_DF4 * se):.2f}–{math.exp(m + T_975_DF4 * se):.2f}]"
        else:
            ratio = "baseline" if cell == BASE else "–"
        b = statistics.median(beyond[cell].values())
        t = statistics.median(times[cell].values())
        print(f"{cell:<38} {len(v):>2} {geo:>14.1f} {ratio:>27} {b:>13.1f} {t:>14.2f}")
    print("\nbeyond: the median over runs of each run's median of RssAnon − live heap − RocksDB's account;")
    print("RSS/accounted: the same for RSS ÷ (live heap + RocksDB's account).")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Recomputes READING.md's figures from this suite's run files alone, without the
harness: per setting the geometric mean of RSS p50 over its runs and, against the
untuned default, the ratio paired by round (mean of per-round log ratios, 95 % t
interval, n = rounds both have, df = n - 1) for RSS p50, peak RSS, RSS x time per GiB,
node CPU time (user + system) and ingest p99; then the medians over runs of what
jemalloc reported in each run's `stats` events (median dirty and muzzy pages, the last
event's background threads, purges and bytes purged).

Usage: python3 recompute.py [SUITE_DIR]   (default: this file's directory)
"""
import json
import math
import os
import statistics
import sys

# Student's t, 97.5th percentile, by degrees of freedom (1..6).
T_975 = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 4: 2.776445105, 5: 2.570581836, 6: 2.446911851}
MIB = 1024 * 1024
BASE = "jemalloc_streaming_cc1_d300s"

METRICS = {
    "RSS p50": lambda s: s["rss_p50_bytes"],
    "peak RSS": lambda s: s["rss_peak_bytes"],
    "RSS x time": lambda s: s["rss_mib_s_per_gib"],
    "node CPU": lambda s: s["cpu_user_s"] + s["cpu_sys_s"],
    "user CPU": lambda s: s["cpu_user_s"],
    "kernel share": lambda s: s["cpu_sys_s"] / (s["cpu_user_s"] + s["cpu_sys_s"]),
    "ingest p99": lambda s: s["latency_us"]["ingest"]["p99"],
}


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


def jemalloc_stats(run_dir):
    """Median dirty and muzzy MiB over the run's stats events; the last event's counters."""
    dirty, muzzy, last = [], [], None
    with open(os.path.join(run_dir, "events.jsonl")) as f:
        for line in f:
            if '"event":"stats"' not in line:
                continue
            a = json.loads(line).get("allocator") or {}
            if "dirty_bytes" not in a:
                continue
            dirty.append(a["dirty_bytes"] / MIB)
            muzzy.append(a["muzzy_bytes"] / MIB)
            last = a
    if last is None:
        return None
    return {
        "dirty MiB": statistics.median(dirty),
        "muzzy MiB": statistics.median(muzzy),
        "bg threads": last["background_threads"],
        "purges": last["dirty_purges"] + last["muzzy_purges"],
        "purged GiB": (last["dirty_purged_bytes"] + last["muzzy_purged_bytes"]) / (1024 * MIB),
    }


def paired(values, base):
    logs = [math.log(values[r] / base[r]) for r in sorted(values) if r in base]
    if len(logs) < 2:
        return "-"
    m, se = statistics.mean(logs), statistics.stdev(logs) / math.sqrt(len(logs))
    t = T_975[len(logs) - 1]
    return f"x{math.exp(m):.2f} [{math.exp(m - t * se):.2f}-{math.exp(m + t * se):.2f}] n={len(logs)}"


def main():
    suite = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    data, stats = {}, {}
    for cell, rep, d, s in runs(suite):
        for name, get in METRICS.items():
            data.setdefault(cell, {}).setdefault(name, {})[rep] = get(s)
        stats.setdefault(cell, []).append(jemalloc_stats(d))
    for cell in sorted(data, key=lambda c: (c != BASE, c)):
        v = data[cell]["RSS p50"]
        geo = math.exp(statistics.mean(math.log(x / MIB) for x in v.values()))
        share = statistics.median(data[cell]["kernel share"].values())
        user = sorted(data[cell]["user CPU"].values())
        print(f"{cell}\n  RSS p50 {geo:.1f} MiB (geometric mean of {len(v)} runs); kernel share median "
              f"{100 * share:.1f} %; user CPU {user[0]:.0f}-{user[-1]:.0f} s")
        if cell != BASE:
            for name in METRICS:
                print(f"  {name:<12} {paired(data[cell][name], data[BASE][name])}")
        st = [x for x in stats[cell] if x]
        if st:
            med = {k: statistics.median(x[k] for x in st) for k in st[0]}
            print("  jemalloc (median over runs): " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Recomputes READING.md's figures from this suite's run files alone, without the
harness: per setting the geometric mean of RSS p50 over its runs and, against the
untuned default, the ratio paired by round (mean of per-round log ratios, 95 % t
interval, n = rounds both have, df = n - 1) for RSS p50, peak RSS, RSS x time per GiB,
node CPU time (user + system) and ingest p99; then the medians over runs of what
glibc reported in each run's `stats` events (mallinfo2 and malloc_info, sampled by the
node: the run's median arena bytes, bytes free inside the arenas, mmapped bytes and
arenas; the last event's count of heap trims seen and the bytes they returned).

Then each run's share of samples with the machine's CPU above 90 % busy (one run,
the mmap-threshold cell's round 2, overlapped a compile: READING.md), and that cell's
ratios again without round 2. Last, per run of the untuned cell, the live heap's peak
and the blocks queued for the writer then and at most.

Usage: python3 recompute.py [SUITE_DIR]   (default: this file's directory)
       python3 recompute.py SUITE_DIR queues   (the last table only, for any tune suite)
"""
import json
import math
import os
import statistics
import sys

# Student's t, 97.5th percentile, by degrees of freedom (1..6).
T_975 = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 4: 2.776445105, 5: 2.570581836, 6: 2.446911851}
MIB = 1024 * 1024
BASE = "glibc_streaming_cc1_d300s"

METRICS = {
    "RSS p50": lambda s: s["rss_p50_bytes"],
    "peak RSS": lambda s: s["rss_peak_bytes"],
    "RSS x time": lambda s: s["rss_mib_s_per_gib"],
    "node CPU": lambda s: s["cpu_user_s"] + s["cpu_sys_s"],
    "user CPU": lambda s: s["cpu_user_s"],
    "kernel share": lambda s: s["cpu_sys_s"] / (s["cpu_user_s"] + s["cpu_sys_s"]),
    "ingest p99": lambda s: s["latency_us"]["ingest"]["p99"],
    "heap peak": lambda s: s["heap_live_peak_bytes"],
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


def glibc_stats(run_dir):
    """Median arena, free-in-arena and mmapped MiB and arenas over the run's stats
    events; the last event's trims."""
    arena, free, mmap, arenas, last = [], [], [], [], None
    with open(os.path.join(run_dir, "events.jsonl")) as f:
        for line in f:
            if '"event":"stats"' not in line:
                continue
            a = json.loads(line).get("allocator") or {}
            if "arena_bytes" not in a:
                continue
            arena.append(a["arena_bytes"] / MIB)
            free.append(a["free_bytes"] / MIB)
            mmap.append(a["mmap_bytes"] / MIB)
            arenas.append(a["arenas"])
            last = a
    if last is None:
        return None
    return {
        "arena MiB": statistics.median(arena),
        "free in arenas MiB": statistics.median(free),
        "mmapped MiB": statistics.median(mmap),
        "arenas": statistics.median(arenas),
        "trims seen": last["trims_seen"],
        "trimmed GiB": last["trimmed_bytes_seen"] / (1024 * MIB),
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
        stats.setdefault(cell, []).append(glibc_stats(d))
    for cell in sorted(data, key=lambda c: (c != BASE, c)):
        v = data[cell]["RSS p50"]
        geo = math.exp(statistics.mean(math.log(x / MIB) for x in v.values()))
        share = statistics.median(data[cell]["kernel share"].values())
        user = sorted(data[cell]["user CPU"].values())
        peak = math.exp(statistics.mean(math.log(x / MIB) for x in data[cell]["peak RSS"].values()))
        heap = sorted(x / MIB for x in data[cell]["heap peak"].values())
        print(f"{cell}\n  RSS p50 {geo:.1f} MiB (geometric mean of {len(v)} runs; by round "
              f"{[round(v[r] / MIB) for r in sorted(v)]}); peak RSS {peak:.0f} MiB; kernel share median "
              f"{100 * share:.1f} %; user CPU {user[0]:.0f}-{user[-1]:.0f} s; live heap peak median "
              f"{statistics.median(heap):.0f} MiB ({heap[0]:.0f}-{heap[-1]:.0f})")
        if cell != BASE:
            for name in METRICS:
                print(f"  {name:<12} {paired(data[cell][name], data[BASE][name])}")
        st = [x for x in stats[cell] if x]
        if st:
            med = {k: statistics.median(x[k] for x in st) for k in st[0]}
            print("  glibc (median over runs): " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()))


def busy_share(run_dir):
    import csv

    with open(os.path.join(run_dir, "samples.csv")) as f:
        busy = [float(r["sys_cpu_busy_pct"]) for r in csv.DictReader(f) if r["sys_cpu_busy_pct"]]
    return sum(b > 90 for b in busy) / len(busy)


def contamination(suite):
    data = {}
    for cell, rep, d, s in runs(suite):
        share = busy_share(d)
        if share > 0.01:
            print(f"{cell} r{rep}: {100 * share:.0f} % of samples with the machine's CPU > 90 % busy")
        for name, get in METRICS.items():
            data.setdefault(cell, {}).setdefault(name, {})[rep] = get(s)
    cell = "glibc_streaming_cc1_conf-mmap_threshold-131072_d300s"
    print(f"{cell} without round 2:")
    for name in METRICS:
        v = {r: x for r, x in data[cell][name].items() if r != 2}
        print(f"  {name:<12} {paired(v, data[BASE][name])}")


def queues(suite):
    """Per run of the untuned cell (the first cell of the suite's name order without a
    setting): the live heap's peak, the write queue (blocks waiting for the writer) when
    it peaked, and the write queue's maximum over the run."""
    import csv

    for cell, rep, d, _ in runs(suite):
        if "_conf-" in cell or "_arena" in cell:
            continue
        with open(os.path.join(d, "samples.csv")) as f:
            rows = [r for r in csv.DictReader(f) if r["heap_live_bytes"]]
        peak = max(rows, key=lambda r: float(r["heap_live_bytes"]))
        most = max(int(r["queue_write"] or 0) for r in rows)
        print(f"{cell} r{rep}: live heap peak {float(peak['heap_live_bytes']) / MIB:.0f} MiB at "
              f"{int(peak['t_ms']) / 1000:.0f} s with {peak['queue_write']} blocks queued for the writer; "
              f"most queued in the run {most}")


if __name__ == "__main__":
    # `recompute.py [SUITE_DIR] queues`: only the write-queue table (works on any tune suite).
    if sys.argv[2:] == ["queues"]:
        queues(sys.argv[1])
    else:
        main()
        contamination(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
        queues(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))

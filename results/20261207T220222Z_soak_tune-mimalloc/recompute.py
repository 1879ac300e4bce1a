#!/usr/bin/env python3
"""Recomputes READING.md's figures from this suite's run files alone, without the
harness: per setting the geometric mean of RSS p50 over its runs and, against the
untuned default, the ratio paired by round (mean of per-round log ratios, 95 % t
interval, n = rounds both have, df = n - 1) for RSS p50, peak RSS, RSS x time per GiB,
node CPU time (user + system), user CPU, the kernel's share of node CPU, ingest p99 and
the peak live heap; then the medians over runs of what mimalloc reported in each run's
`stats` events (the run's median committed MiB, the last event's purge calls, GiB
purged and page faults).

Then the largest share of samples with the machine's CPU above 90 % busy (a run that
overlapped other work on the machine would show there); last, per run, the live heap's
peak and the blocks queued for the writer then and at most.

Usage: python3 recompute.py [SUITE_DIR]   (default: this file's directory)
"""
import csv
import json
import math
import os
import statistics
import sys

# Student's t, 97.5th percentile, by degrees of freedom (1..6).
T_975 = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 4: 2.776445105, 5: 2.570581836, 6: 2.446911851}
MIB = 1024 * 1024
BASE = "mimalloc_streaming_cc1_d300s"

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


def mimalloc_stats(run_dir):
    """Median committed MiB over the run's stats events; the last event's counters."""
    commit, last = [], None
    with open(os.path.join(run_dir, "events.jsonl")) as f:
        for line in f:
            if '"event":"stats"' not in line:
                continue
            a = json.loads(line).get("allocator") or {}
            if "purges" not in a:
                continue
            commit.append(a["commit_bytes"] / MIB)
            last = a
    if last is None:
        return None
    return {
        "committed MiB": statistics.median(commit),
        "purges": last["purges"],
        "purged GiB": last["purged_bytes"] / (1024 * MIB),
        "page faults": last["page_faults"],
    }


def paired(values, base):
    logs = [math.log(values[r] / base[r]) for r in sorted(values) if r in base]
    if len(logs) < 2:
        return "-"
    m, se = statistics.mean(logs), statistics.stdev(logs) / math.sqrt(len(logs))
    t = T_975[len(logs) - 1]
    return f"x{math.exp(m):.2f} [{math.exp(m - t * se):.2f}-{math.exp(m + t * se):.2f}] n={len(logs)}"


def busy_share(run_dir):
    with open(os.path.join(run_dir, "samples.csv")) as f:
        busy = [float(r["sys_cpu_busy_pct"]) for r in csv.DictReader(f) if r["sys_cpu_busy_pct"]]
    return sum(b > 90 for b in busy) / len(busy)


def main():
    suite = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    data, stats, busy = {}, {}, []
    for cell, rep, d, s in runs(suite):
        for name, get in METRICS.items():
            data.setdefault(cell, {}).setdefault(name, {})[rep] = get(s)
        stats.setdefault(cell, []).append(mimalloc_stats(d))
        busy.append((cell, rep, busy_share(d)))
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
            print("  mimalloc (median over runs): " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()))
    worst = max(busy, key=lambda b: b[2])
    print(f"largest share of samples with the machine's CPU > 90 % busy: {100 * worst[2]:.1f} % "
          f"({worst[0]} r{worst[1]}; {sum(b[2] > 0.01 for b in busy)} of {len(busy)} runs above 1 %)")


def queues(suite):
    """Per run: the live heap's peak in the samples, the blocks queued for the writer
    when it peaked, and the most queued in the run."""
    for cell, rep, d, _ in runs(suite):
        with open(os.path.join(d, "samples.csv")) as f:
            rows = [r for r in csv.DictReader(f) if r["heap_live_bytes"]]
        peak = max(rows, key=lambda r: float(r["heap_live_bytes"]))
        most = max(int(r["queue_write"] or 0) for r in rows)
        print(f"{cell} r{rep}: live heap peak {float(peak['heap_live_bytes']) / MIB:.0f} MiB at "
              f"{int(peak['t_ms']) / 1000:.0f} s with {peak['queue_write']} blocks queued for the writer; "
              f"most queued in the run {most}")


if __name__ == "__main__":
    main()
    queues(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))

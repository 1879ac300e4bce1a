#!/usr/bin/env bash
# Peak RSS of the node under buffered vs streaming compaction, compaction concurrency
# 1 vs 2, and a 4x range of shard sizes: the compaction incident's picture in one table.
#
# Usage: scripts/compaction-memory.sh [ALLOC] [BLOCKS]   (default: jemalloc 12000)
# Runs `syncbench ingest` on the mainnet workload (shard size 1,000 blocks = ~270 MB of
# WAL per shard unless overridden) and prints one row per configuration. Run directories
# go to a temporary directory unless OUT is set.
set -euo pipefail
cd "$(dirname "$0")/.."
alloc=${1:-jemalloc}
blocks=${2:-12000}
out=${OUT:-$(mktemp -d)}
cargo build --release -q -p syncbench -p syncbench-allocators
field() { grep -o "\"$2\": [0-9.]*" "$1/summary.json" | head -1 | awk '{print $2}'; }
printf '%-10s %-3s %-11s %14s %16s %12s %12s\n' mode cc shard_size rss_peak_MiB heap_live_peak_MiB compactions throughput_MiB_s
for cfg in "streaming 1 1000" "buffered 1 1000" "buffered 2 1000" "streaming 2 1000" "streaming 1 500" "streaming 1 2000" "buffered 1 500" "buffered 1 2000"; do
  read -r mode cc shard <<<"$cfg"
  run="$out/${mode}_cc${cc}_shard${shard}"
  ./target/release/syncbench ingest --alloc "$alloc" --workload mainnet --blocks "$blocks" --shard-size "$shard" \
    --compaction "$mode" --compaction-concurrency "$cc" --out "$run" >/dev/null
  awk -v m="$mode" -v c="$cc" -v s="$shard" -v r="$(field "$run" rss_peak_bytes)" -v h="$(field "$run" heap_live_peak_bytes)" \
    -v n="$(field "$run" compactions)" -v t="$(field "$run" throughput_mib_per_s)" \
    'BEGIN { printf "%-10s %-3s %-11s %14.1f %16.1f %12s %12.1f\n", m, c, s, r / 1048576, h / 1048576, n, t }'
done
echo "runs in $out"

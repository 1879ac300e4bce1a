#!/bin/bash
# The transparent-huge-page check of READING.md: for mimalloc as shipped, with lazy
# arena commit, and with eager commit but THP refused, one 2-minute soak ingest each;
# at 60, 90 and 110 s it prints the node's Rss and AnonHugePages from
# /proc/<pid>/smaps_rollup. One run per setting: a mechanism check, not a statistic.
#
# Usage: results/<this suite>/thp_check.sh [SCRATCH_DIR]   (from anywhere; needs
# `cargo build --release -p syncbench -p syncbench-allocators --bins` first; the
# runs' results go to SCRATCH_DIR, default a new temporary directory)
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch=${1:-$(mktemp -d)}
mkdir -p "$scratch"
echo "# host $(hostname), $(date -u +%FT%TZ), THP $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
for conf in "" "arena_eager_commit=0" "allow_thp=0"; do
  name=${conf:-default}
  args=(ingest --alloc mimalloc --workload soak --duration 2m --no-ceilings --node-arg=--retain-shards=8
        --out "$scratch/$name")
  [ -n "$conf" ] && args+=(--alloc-conf "$conf")
  target/release/syncbench "${args[@]}" > "$scratch/$name.log" 2>&1 &
  harness=$!
  for wait_s in 60 30 20; do
    sleep "$wait_s"
    pid=$(pgrep -f "node-mimalloc" | head -1)
    echo "$name t=$(( wait_s == 60 ? 60 : (wait_s == 30 ? 90 : 110) ))s" \
      "$(grep -E '^(Rss|AnonHugePages):' "/proc/$pid/smaps_rollup" | tr -s ' ' | tr '\n' ' ')"
  done
  wait "$harness"
  echo "$name: syncbench exit $?"
done

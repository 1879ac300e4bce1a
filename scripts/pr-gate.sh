#!/usr/bin/env bash
# The PR gate's memory half, exactly as .github/workflows/perf-gate.yml runs it:
# measure the candidate (the node built from this checkout) on the gate's workload, then
# compare it with the committed baseline under the committed limits (docs/pr-gate.md).
#
# Usage: scripts/pr-gate.sh [--out DIR] [--markdown FILE] [ingest args…]
#   --out DIR        where the candidate suite goes (default: a new temporary directory)
#   --markdown FILE  also write the verdict table as Markdown (e.g. $GITHUB_STEP_SUMMARY)
#   ingest args      passed to every candidate run (e.g. --node-arg=--inject-retained-mib=14,
#                    the regression of known size the gate's calibration uses)
# Environment: SYNCBENCH_BIN (default target/release/syncbench, built here if absent or
# stale under cargo; its node binaries are found beside it).
# Exit: 0 pass, 1 regression (or a candidate run failed), 2 refused (usage or input).
set -euo pipefail
cd "$(dirname "$0")/.."

# The gate's workload, its number of runs, its baseline (10 runs) and limits: what the
# calibration measured (results/20261207T020320Z_gate_calibration/READING.md). Change
# them together, and calibrate again (`syncbench calibrate`).
WORKLOAD=(--workload gate)
RUNS=5
BASELINE=results/baselines/gate.json
THRESHOLDS=results/baselines/thresholds.toml

out="" markdown="" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs a directory}; shift ;;
    --markdown) markdown=${2:?--markdown needs a file}; shift ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) extra+=("$1") ;;
  esac
  shift
done

bin=${SYNCBENCH_BIN:-target/release/syncbench}
if [ -z "${SYNCBENCH_BIN:-}" ]; then
  # Instant when up to date; the gate measures this checkout's node.
  cargo build --release --locked -q -p syncbench -p syncbench-allocators --bins
fi
[ -x "$bin" ] || { echo "pr-gate: $bin is not an executable" >&2; exit 2; }
if [ -z "$out" ]; then
  out=$(mktemp -d "${TMPDIR:-/tmp}/pr-gate.XXXXXX")
fi

started=$(date +%s)
set +e
"$bin" matrix --alloc jemalloc --repeat "$RUNS" "${WORKLOAD[@]}" --no-ceilings --out "$out" "${extra[@]}"
measured=$?
set -e
echo "pr-gate: candidate measured in $(( $(date +%s) - started )) s ($RUNS runs) in $out"
case $measured in
  0) ;;
  2) echo "pr-gate: the candidate could not be measured as asked (exit 2)" >&2; exit 2 ;;
  *) echo "pr-gate: a candidate run failed (exit $measured): see $out" >&2; exit 1 ;;
esac

gate=("$bin" gate --baseline "$BASELINE" --thresholds "$THRESHOLDS" --candidate "$out")
[ -n "$markdown" ] && gate+=(--markdown "$markdown")
set +e
"${gate[@]}"
verdict=$?
set -e
exit $verdict

#!/usr/bin/env bash
# The PR gate's memory half, exactly as .github/workflows/perf-gate.yml runs it:
# measure the candidate (the node built from this checkout) on the gate's workload
# beside the base node (--base-node), or alone against the committed baseline, and
# judge it under the committed limits (docs/pr-gate.md).
#
# Usage: scripts/pr-gate.sh [--base-node PATH] [--out DIR] [--markdown FILE] [run args…]
#   --base-node PATH the node built from the PR's base: measured beside the candidate,
#                    interleaved (`syncbench ab --judge memory`), and the baseline instead
#                    of the committed file. RSS moves with the host and its kernel, so CI
#                    and any machine other than the baseline's should pass it.
#   --out DIR        where the suite goes (default: a new temporary directory)
#   --markdown FILE  also write the verdict table as Markdown (e.g. $GITHUB_STEP_SUMMARY)
#   run args         passed to every run, base's too (e.g. --node-arg=--inject-retained-mib=14,
#                    the regression of known size the gate's calibration uses, without
#                    --base-node); `ab` takes the run settings, not matrix's axes
# Paths are taken relative to where the script is run from.
# Environment: SYNCBENCH_BIN (default target/release/syncbench, built here if absent or
# stale under cargo; its node binaries are found beside it).
# Exit: 0 pass, 1 regression (or a run failed), 2 refused (usage or input).
set -euo pipefail

usage() { echo "pr-gate: $*" >&2; exit 2; }
abs() { realpath -m -- "$1"; }
out="" markdown="" base_node="" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --base-node | --out | --markdown)
      [ $# -ge 2 ] && [ -n "$2" ] || usage "$1 needs a value"
      case "$1" in
        --base-node) base_node=$(abs "$2") ;;
        --out) out=$(abs "$2") ;;
        --markdown) markdown=$(abs "$2") ;;
      esac
      shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) extra+=("$1") ;;
  esac
  shift
done
[ -z "${SYNCBENCH_BIN:-}" ] || SYNCBENCH_BIN=$(abs "$SYNCBENCH_BIN")
# Before anything is built or run.
[ -z "$base_node" ] || { [ -f "$base_node" ] && [ -x "$base_node" ]; } ||
  usage "--base-node $base_node is not an executable file"
cd "$(dirname "$0")/.."

# The gate's workload, its number of runs, its baseline (10 runs) and limits: what the
# calibrations measured (results/20261207T020320Z_gate_calibration/READING.md, 5 runs
# against the baseline; results/20261208T023512Z_gate_calibration-rounds/READING.md, 10
# base beside 10 head runs: docs/pr-gate.md). Change them together, and calibrate again
# (`syncbench calibrate`).
WORKLOAD=(--workload gate)
RUNS=5
AB_ROUNDS=10
BASELINE=results/baselines/gate.json
THRESHOLDS=results/baselines/thresholds.toml

bin=${SYNCBENCH_BIN:-target/release/syncbench}
if [ -z "${SYNCBENCH_BIN:-}" ]; then
  # Instant when up to date; the gate measures this checkout's node.
  cargo build --release --locked -q -p syncbench -p syncbench-allocators --bins
fi
[ -x "$bin" ] || usage "$bin is not an executable"
if [ -z "$out" ]; then
  out=$(mktemp -d "${TMPDIR:-/tmp}/pr-gate.XXXXXX")
fi

if [ -n "$base_node" ]; then
  # Base and head interleaved in one suite; ab's memory verdict is the gate's rule and
  # limits, with base's runs as the baseline. Head is the node built beside $bin.
  head_node="$(dirname "$bin")/node-jemalloc"
  [ -x "$head_node" ] || usage "$head_node (the head node, beside $bin) is not an executable: build it with \
`cargo build --release -p syncbench-allocators --bins`"
  ab=("$bin" ab --judge memory --alloc jemalloc --repeat "$AB_ROUNDS" "${WORKLOAD[@]}" --no-ceilings
    --base-node "$base_node" --head-node "$head_node" --thresholds "$THRESHOLDS" --out "$out")
  [ -n "$markdown" ] && ab+=(--markdown "$markdown")
  set +e
  "${ab[@]}" ${extra[@]+"${extra[@]}"}
  verdict=$?
  set -e
  exit $verdict
fi

started=$(date +%s)
set +e
"$bin" matrix --alloc jemalloc --repeat "$RUNS" "${WORKLOAD[@]}" --no-ceilings --out "$out" ${extra[@]+"${extra[@]}"}
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

#!/bin/sh
# A deliberately slower node, for checking that `syncbench ab` flags a slowdown:
# NODE (default: target/release/node-jemalloc) burning BURN_US (default 180) µs of
# CPU per block — ~10 % of the node's CPU time per mainnet block on the 2-core
# development VM (docs/pr-gate.md).
#   syncbench ab --base-node target/release/node-jemalloc --head-node scripts/slow-node.sh …
exec "${NODE:-$(dirname "$0")/../target/release/node-jemalloc}" --burn-cpu-us-per-block="${BURN_US:-180}" "$@"

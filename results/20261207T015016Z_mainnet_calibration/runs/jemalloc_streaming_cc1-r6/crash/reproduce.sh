#!/bin/sh
# Reproduce this run from the repository root.
cargo run --release -- ingest --alloc jemalloc --compaction streaming --compaction-concurrency 1 --workload mainnet --blocks 10000 --seed 1 --shard-size 1000 --writer-batch 512 --sample-interval 100ms --timeout 1800s --no-ceilings

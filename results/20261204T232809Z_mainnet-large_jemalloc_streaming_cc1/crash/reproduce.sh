#!/bin/sh
# Reproduce this run from the repository root:
cargo run --release -- ingest --alloc jemalloc --compaction streaming --compaction-concurrency 1 --workload mainnet-large --blocks 1000000 --seed 1 --shard-size 10000 --writer-batch 512 --sample-interval 500ms --timeout 6000s --node-arg=--retain-shards=2

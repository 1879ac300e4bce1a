//! `syncbench workload describe`: what a workload will do, before running it.

use anyhow::Result;
use syncbench_workloads::Description;

use crate::cli::DescribeArgs;
use crate::units::fmt_bytes;

pub fn run(args: &DescribeArgs) -> Result<()> {
    let max = syncbench_node::config::COMPACTION_CONCURRENCY_MAX;
    if !(1..=max).contains(&args.compaction_concurrency) {
        return Err(crate::error::input(format!(
            "--compaction-concurrency: expected 1..={max}, got {}",
            args.compaction_concurrency
        )));
    }
    let spec = crate::options::resolve_workload(&args.workload, &Default::default(), None)?;
    let d = Description::of(&spec);
    if args.json {
        crate::say!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(());
    }
    let q = |x: &syncbench_workloads::describe::Quantiles, bytes: bool| {
        let f = |v: f64| {
            if bytes {
                fmt_bytes(v)
            } else {
                format!("{v:.0}")
            }
        };
        format!(
            "mean {}  p50 {}  p90 {}  p99 {}  max {}",
            f(x.mean),
            f(x.p50 as f64),
            f(x.p90 as f64),
            f(x.p99 as f64),
            f(x.max as f64)
        )
    };
    crate::say!("workload        {} — {}", d.name, spec.description);
    crate::say!("blocks          {} ({} … {})", d.blocks, d.first_block, d.last_block);
    crate::say!("shards          {} of {} blocks", d.shards, d.shard_size);
    crate::say!(
        "arrival         window {} (shuffled within), rate limit {}",
        spec.arrival.window,
        spec.arrival.rate_limit_mib_per_s.map_or("none".into(), |r| format!("{r} MiB/s"))
    );
    crate::say!("bytes/block     {}", q(&d.bytes_per_block, true));
    crate::say!("txs/block       {}", q(&d.txs_per_block, false));
    crate::say!("logs/block      {}", q(&d.logs_per_block, false));
    crate::say!(
        "total           ~{} (estimated from {} sampled blocks)",
        fmt_bytes(d.total_bytes_estimate as f64),
        d.sampled_blocks
    );
    crate::say!("shard WAL       ~{}", fmt_bytes(d.shard_bytes_estimate as f64));
    crate::say!(
        "peak disk       ~{} with compaction concurrency {}",
        fmt_bytes(d.peak_disk_bytes(args.compaction_concurrency) as f64),
        args.compaction_concurrency
    );
    Ok(())
}

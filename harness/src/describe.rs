//! `syncbench workload describe`: what a workload will do, before running it.

use anyhow::Result;
use syncbench_workloads::Description;

use crate::cli::DescribeArgs;
use crate::units::fmt_bytes;

pub fn run(args: &DescribeArgs) -> Result<()> {
    let spec = crate::options::resolve_workload(&args.workload, &Default::default(), None)?;
    let d = Description::of(&spec);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
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
    println!("workload        {} — {}", d.name, spec.description);
    println!("blocks          {} ({} … {})", d.blocks, d.first_block, d.last_block);
    println!("shards          {} of {} blocks", d.shards, d.shard_size);
    println!(
        "arrival         window {} (shuffled within), rate limit {}",
        spec.arrival.window,
        spec.arrival.rate_limit_mib_per_s.map_or("none".into(), |r| format!("{r} MiB/s"))
    );
    println!("bytes/block     {}", q(&d.bytes_per_block, true));
    println!("txs/block       {}", q(&d.txs_per_block, false));
    println!("logs/block      {}", q(&d.logs_per_block, false));
    println!(
        "total           ~{} (estimated from {} sampled blocks)",
        fmt_bytes(d.total_bytes_estimate as f64),
        d.sampled_blocks
    );
    println!("shard WAL       ~{}", fmt_bytes(d.shard_bytes_estimate as f64));
    println!(
        "peak disk       ~{} with compaction concurrency {}",
        fmt_bytes(d.peak_disk_bytes(args.compaction_concurrency) as f64),
        args.compaction_concurrency
    );
    Ok(())
}

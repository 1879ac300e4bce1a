//! Latency recording and HdrHistogram outputs.
//!
//! - `.hgrm`: HdrHistogram's percentile-distribution text (the Java
//!   `outputPercentileDistribution` format, 5 ticks per half distance), values in
//!   milliseconds; readable by HdrHistogram's plotter.
//! - `histograms.hlog`: an interval log (V2 + deflate, base64), readable by
//!   HdrHistogram's `HistogramLogProcessor`: the driver's ingest latency per interval,
//!   tagged `ingest`, then the node's whole-run histograms tagged by name.

use std::fmt::Write as _;
use std::io::Write;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Result};
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::Serialize;

pub use syncbench_node::histograms::new_histogram;

/// Microseconds per millisecond: the `.hgrm` output unit is milliseconds.
const US_PER_MS: f64 = 1000.0;

/// Percentiles of one histogram, in microseconds (the `latency_us` block of summary.json).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

pub fn summarize(h: &Histogram<u64>) -> LatencySummary {
    LatencySummary {
        count: h.len(),
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
        mean: crate::units::round1(h.mean()),
    }
}

/// Decodes the node's V2-encoded histograms from its `Done` frame.
pub fn decode(bytes: &[u8]) -> Result<Histogram<u64>> {
    Deserializer::new().deserialize(&mut &bytes[..]).map_err(|e| anyhow!("invalid histogram from node: {e:?}"))
}

/// Renders `h` (recorded in µs) as HdrHistogram percentile-distribution text in ms.
pub fn hgrm(h: &Histogram<u64>) -> String {
    let mut out = String::from("       Value     Percentile TotalCount 1/(1-Percentile)\n\n");
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let value = h.highest_equivalent(v.value_iterated_to()) as f64 / US_PER_MS;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(out, "{value:12.3} {q:2.12} {total:10} {:14.2}", 1.0 / (1.0 - q));
            } else {
                let _ = writeln!(out, "{value:12.3} {q:2.12} {total:10}");
            }
        }
    }
    let sub_buckets = (2.0 * 10f64.powi(i32::from(h.sigfig()))).log2().ceil().exp2() as u64;
    let _ =
        writeln!(out, "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]", h.mean() / US_PER_MS, h.stdev() / US_PER_MS);
    let _ = writeln!(out, "#[Max     = {:12.3}, Total count    = {:12}]", h.max() as f64 / US_PER_MS, h.len());
    let _ = writeln!(out, "#[Buckets = {:12}, SubBuckets     = {:12}]", h.buckets(), sub_buckets);
    out
}

/// Parses the percentile rows of a `.hgrm` text back into (quantile, value in µs).
pub fn parse_hgrm(text: &str) -> Vec<(f64, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let value: f64 = f.next()?.parse().ok()?;
            let q: f64 = f.next()?.parse().ok()?;
            Some((q, value * US_PER_MS))
        })
        .collect()
}

/// One interval of driver-side ingest latency.
pub struct Interval {
    /// Offset of the interval's start from the run start.
    pub start: Duration,
    pub length: Duration,
    pub histogram: Histogram<u64>,
}

/// Writes the interval log: ingest intervals, then each whole-run node histogram.
pub fn write_hlog(
    out: &mut impl Write,
    run_start: SystemTime,
    intervals: &[Interval],
    whole_run: &[(String, Histogram<u64>)],
    run_length: Duration,
) -> Result<()> {
    let mut serializer = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment(
            "syncbench latency log: values in microseconds; tags: ingest (per interval), node histograms (whole run)",
        )
        .with_start_time(run_start)
        .with_base_time(run_start)
        .begin_log_with(out, &mut serializer)?;
    for i in intervals {
        log.write_histogram(&i.histogram, i.start, i.length, Tag::new("ingest"))
            .map_err(|e| anyhow!("writing interval histogram: {e}"))?;
    }
    for (name, h) in whole_run {
        log.write_histogram(h, Duration::ZERO, run_length, Tag::new(name))
            .map_err(|e| anyhow!("writing {name} histogram: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hgrm_has_java_shape_and_round_trips_percentiles() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let text = hgrm(&h);
        assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
        assert!(text.contains("#[Max     =       10.007, Total count    =        10000]"), "{text}");
        let rows = parse_hgrm(&text);
        let median = rows.iter().find(|r| r.0 >= 0.5).unwrap();
        assert!((median.1 - 5000.0).abs() < 10.0, "{median:?}");
        assert_eq!(rows.last().unwrap().0, 1.0);
    }

    #[test]
    fn hlog_is_readable_back() {
        let mut h = new_histogram();
        h.record(100).unwrap();
        let mut buf = Vec::new();
        let iv = [Interval { start: Duration::ZERO, length: Duration::from_secs(1), histogram: h.clone() }];
        write_hlog(&mut buf, SystemTime::UNIX_EPOCH, &iv, &[("flush".into(), h)], Duration::from_secs(1)).unwrap();
        let entries: Vec<_> = hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&buf).collect();
        assert_eq!(entries.len(), 4, "{}", String::from_utf8_lossy(&buf));
    }
}

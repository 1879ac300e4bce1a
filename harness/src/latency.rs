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
use serde::{Deserialize, Serialize};

pub use syncbench_node::histograms::new_histogram;

/// Microseconds per millisecond: the `.hgrm` output unit is milliseconds.
const US_PER_MS: f64 = 1000.0;

/// Percentiles of one histogram, in microseconds (the `latency_us` block of summary.json).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
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
///
/// The rows replicate Java's `outputPercentileDistribution` (5 ticks per half distance) exactly, so
/// they are not the crate's `iter_quantiles(5)`: that sums fractional steps, and 0.1 + 0.1 + 0.1 > 0.3
/// makes some rows land one count late (a 0.65 row showing the 6,501st value, not the 6,500th). Java
/// steps the percent level by 100 / (5 * 2^(k+1)) in the k-th half distance to 100%, amounts exact in
/// binary, so counting integer ticks reproduces its levels bit for bit: 100 - (10 - tick) * 10 / 2^k
/// (checked against Java for k < 46, i.e. any count below 2^45). Each level a value reaches gets a row;
/// a last row reads 100% at the max. Numbers are rounded as Java's `Formatter` does (`java_fixed`).
pub fn hgrm(h: &Histogram<u64>) -> String {
    let mut out = String::from("       Value     Percentile TotalCount 1/(1-Percentile)\n\n");
    let digits = usize::from(h.sigfig());
    let (mut half, mut tick, mut total, mut value) = (0, 0, 0u64, 0.0);
    for v in h.iter_recorded() {
        total += v.count_at_value();
        value = h.highest_equivalent(v.value_iterated_to()) as f64 / US_PER_MS;
        loop {
            let level = 100.0 - f64::from(10 - tick) * 10.0 * 0.5f64.powi(half);
            if 100.0 * total as f64 / (h.len() as f64) < level {
                break;
            }
            let (v, q) = (java_fixed(value, digits), level / 100.0);
            let _ = writeln!(out, "{v:>12} {} {total:10} {:>14}", java_fixed(q, 12), java_fixed(1.0 / (1.0 - q), 2));
            (half, tick) = if tick == 4 { (half + 1, 0) } else { (half, tick + 1) };
            if total == h.len() {
                break;
            }
        }
    }
    if !h.is_empty() {
        let _ = writeln!(out, "{:>12} {} {total:10}", java_fixed(value, digits), java_fixed(1.0, 12));
    }
    let sub_buckets = (2.0 * 10f64.powi(i32::from(h.sigfig()))).log2().ceil().exp2() as u64;
    let (mean, stdev) = (java_fixed(h.mean() / US_PER_MS, 3), java_fixed(h.stdev() / US_PER_MS, 3));
    let _ = writeln!(out, "#[Mean    = {mean:>12}, StdDeviation   = {stdev:>12}]");
    let max = java_fixed(h.max() as f64 / US_PER_MS, 3);
    let _ = writeln!(out, "#[Max     = {max:>12}, Total count    = {:12}]", h.len());
    let _ = writeln!(out, "#[Buckets = {:12}, SubBuckets     = {:12}]", h.buckets(), sub_buckets);
    out
}

/// Formats `x` with `places` decimals as Java's `%.Nf` does: it rounds the shortest decimal that
/// reads back as `x` half up, where Rust rounds the binary value (0.99978027343750 is a tie for Java).
fn java_fixed(x: f64, places: usize) -> String {
    let sci = format!("{x:e}"); // shortest round-trip digits, e.g. "9.997802734375e-1"
    let Some((mantissa, exp)) = sci.split_once('e') else { return format!("{x:.places$}") };
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).map(|d| d - b'0').collect();
    let keep = exp.parse::<i64>().unwrap_or(0) + 1 + places as i64; // digits left of the rounding point
    let digit = |i: i64| u128::from(usize::try_from(i).ok().and_then(|i| digits.get(i)).copied().unwrap_or(0));
    let n = (0..keep).fold(0u128, |n, i| n * 10 + digit(i)) + u128::from(digit(keep) >= 5);
    let scale = 10u128.pow(places as u32);
    let sign = if x.is_sign_negative() && n > 0 { "-" } else { "" };
    match places {
        0 => format!("{sign}{n}"),
        _ => format!("{sign}{}.{:0places$}", n / scale, n % scale),
    }
}

/// Parses the percentile rows of a `.hgrm` text back into (quantile, value in µs).
pub fn parse_hgrm(text: &str) -> std::result::Result<Vec<(f64, f64)>, String> {
    let mut rows: Vec<(f64, f64)> = Vec::new();
    let (mut last_value, mut last_q) = (0.0, 0.0);
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with("Value") {
            continue;
        }
        let mut f = l.split_whitespace();
        let (value, q) = (f.next().and_then(|v| v.parse::<f64>().ok()), f.next().and_then(|q| q.parse::<f64>().ok()));
        let (Some(value), Some(q)) = (value, q) else {
            // A file that is not a distribution (a symlink to a secret) is not repeated.
            let got = crate::util::text::quote_token(l.split_whitespace().next().unwrap_or_default());
            return Err(format!("{}: expected `value percentile count …`, got {got} first", i + 1));
        };
        let ordered = value.is_finite() && value >= last_value && (last_q..=1.0).contains(&q);
        if !ordered {
            return Err(format!(
                "{}: expected values and percentiles in ascending order (percentile ≤ 1), got {value} at {q}",
                i + 1
            ));
        }
        (last_value, last_q) = (value, q);
        rows.push((q, value * US_PER_MS));
    }
    Ok(rows)
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

    /// The `.hgrm` text of a histogram holding `values` (µs).
    fn hgrm_of(values: impl IntoIterator<Item = u64>) -> String {
        let mut h = new_histogram();
        values.into_iter().for_each(|v| h.record(v).unwrap());
        hgrm(&h)
    }

    #[test]
    fn hgrm_has_java_shape_and_round_trips_percentiles() {
        let text = hgrm_of(1..=10_000);
        assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
        assert!(text.contains("#[Max     =       10.007, Total count    =        10000]"), "{text}");
        let rows = parse_hgrm(&text).unwrap();
        let median = rows.iter().find(|r| r.0 >= 0.5).unwrap();
        assert!((median.1 - 5000.0).abs() < 10.0, "{median:?}");
        assert_eq!(rows.last().unwrap().0, 1.0);
    }

    /// 10,000 lognormal-ish µs values (16 µs to 8 s) from a fixed LCG: the exponent is a sum of three
    /// uniform draws. Integer-only, so a Java program can replay it bit for bit.
    fn lognormalish_histogram() -> Histogram<u64> {
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 33
        };
        let mut h = new_histogram();
        for _ in 0..10_000 {
            let e = next() % 7 + next() % 7 + next() % 7;
            h.record(((1024 + next() % 1024) << e) >> 6).unwrap();
        }
        h
    }

    /// Java HdrHistogram (master `de84b0a`, 2.2.3-SNAPSHOT): `new Histogram(1, 3_600_000_000L, 3)` fed
    /// the same values, then `outputPercentileDistribution(System.out, 5, 1000.0)`.
    const JAVA_GOLDEN: &str = "       Value     Percentile TotalCount 1/(1-Percentile)

       0.016 0.000000000000          3           1.00
       0.462 0.100000000000       1000           1.11
       1.448 0.200000000000       2000           1.25
       3.227 0.300000000000       3001           1.43
       6.511 0.400000000000       4000           1.67
      12.463 0.500000000000       5000           2.00
      16.479 0.550000000000       5500           2.22
      24.159 0.600000000000       6002           2.50
      31.903 0.650000000000       6500           2.86
      47.679 0.700000000000       7000           3.33
      63.199 0.750000000000       7500           4.00
      81.087 0.775000000000       7750           4.44
     102.527 0.800000000000       8000           5.00
     122.879 0.825000000000       8251           5.71
     165.887 0.850000000000       8500           6.67
     215.807 0.875000000000       8751           8.00
     240.639 0.887500000000       8875           8.89
     276.991 0.900000000000       9000          10.00
     350.975 0.912500000000       9125          11.43
     424.447 0.925000000000       9250          13.33
     500.223 0.937500000000       9375          16.00
     563.199 0.943750000000       9438          17.78
     678.911 0.950000000000       9500          20.00
     807.935 0.956250000000       9563          22.86
     915.967 0.962500000000       9625          26.67
    1018.879 0.968750000000       9688          32.00
    1177.599 0.971875000000       9719          35.56
    1309.695 0.975000000000       9750          40.00
    1546.239 0.978125000000       9782          45.71
    1718.271 0.981250000000       9813          53.33
    1900.543 0.984375000000       9844          64.00
    1997.823 0.985937500000       9860          71.11
    2091.007 0.987500000000       9875          80.00
    2418.687 0.989062500000       9891          91.43
    2861.055 0.990625000000       9907         106.67
    3198.975 0.992187500000       9922         128.00
    3420.159 0.992968750000       9930         142.22
    3555.327 0.993750000000       9938         160.00
    3751.935 0.994531250000       9946         182.86
    3844.095 0.995312500000       9954         213.33
    3979.263 0.996093750000       9961         256.00
    4093.951 0.996484375000       9965         284.44
    4329.471 0.996875000000       9969         320.00
    4747.263 0.997265625000       9973         365.71
    5165.055 0.997656250000       9977         426.67
    5996.543 0.998046875000       9981         512.00
    6180.863 0.998242187500       9983         568.89
    6496.255 0.998437500000       9985         640.00
    6934.527 0.998632812500       9987         731.43
    7053.311 0.998828125000       9989         853.33
    7258.111 0.999023437500       9991        1024.00
    7393.279 0.999121093750       9992        1137.78
    7413.759 0.999218750000       9993        1280.00
    7876.607 0.999316406250       9994        1462.86
    7942.143 0.999414062500       9995        1706.67
    7970.815 0.999511718750       9996        2048.00
    7970.815 0.999560546875       9996        2275.56
    7987.199 0.999609375000       9997        2560.00
    7987.199 0.999658203125       9997        2925.71
    8073.215 0.999707031250       9998        3413.33
    8073.215 0.999755859375       9998        4096.00
    8073.215 0.999780273438       9998        4551.11
    8155.135 0.999804687500       9999        5120.00
    8155.135 0.999829101563       9999        5851.43
    8155.135 0.999853515625       9999        6826.67
    8155.135 0.999877929688       9999        8192.00
    8155.135 0.999890136719       9999        9102.22
    8323.071 0.999902343750      10000       10240.00
    8323.071 1.000000000000      10000
#[Mean    =      147.083, StdDeviation   =      531.908]
#[Max     =     8323.071, Total count    =        10000]
#[Buckets =           22, SubBuckets     =         2048]
";

    #[test]
    fn hgrm_matches_java_output_percentile_distribution() {
        let text = hgrm(&lognormalish_histogram());
        for (i, (rust, java)) in text.lines().zip(JAVA_GOLDEN.lines()).enumerate() {
            assert_eq!(rust, java, "line {}", i + 1);
        }
        assert_eq!(text, JAVA_GOLDEN);
    }

    #[test]
    fn hgrm_rows_do_not_drift_from_java_percentile_ticks() {
        // One value per bucket (1..=1000 µs), so Java's row at level q is the value with count ceil(1000 q).
        // The crate's iter_quantiles(5) aimed at 0.1 + 0.1 + 0.1 = 0.30000000000000004 and printed the
        // 30% row as `0.301 ... 301`, a tick late; ticks counted as integers never overshoot.
        let text = hgrm_of(1..=1000);
        assert!(text.contains("\n       0.300 0.300000000000        300           1.43\n"), "{text}");
        let rows = parse_hgrm(&text).unwrap();
        for &(q, value) in &rows[..rows.len() - 1] {
            assert_eq!(value.round(), (q * 1000.0 - 1e-6).ceil().max(1.0), "row at {q}");
        }
    }

    #[test]
    fn java_fixed_rounds_shortest_digits_half_up() {
        assert_eq!(java_fixed(0.999780273437_5, 12), "0.999780273438"); // `{:.12}` gives ...437
        assert_eq!(java_fixed(0.0585, 3), "0.059");
        assert_eq!(java_fixed(2.0 / 3.0, 2), "0.67");
        assert_eq!(java_fixed(8323.071, 3), "8323.071");
        assert_eq!(java_fixed(0.0, 12), "0.000000000000");
        assert_eq!(java_fixed(1e-20, 3), "0.000");
        assert_eq!(java_fixed(9.9996, 3), "10.000");
        assert_eq!(java_fixed(2.5, 0), "3");
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

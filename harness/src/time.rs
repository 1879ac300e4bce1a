//! UTC timestamps without a date library (civil-from-days, Howard Hinnant's algorithm).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Longest single park in [`park_until`]: a missed `unpark` costs at most this.
const MAX_PARK: Duration = Duration::from_millis(50);

/// Sleeps until `until` (`None`: an instant too far to represent, i.e. until stopped)
/// or until `stop` is set. It sleeps by parking, so whoever sets `stop` can `unpark`
/// the sleeping thread to wake it at once; a missed wake-up costs at most
/// [`MAX_PARK`]. The sampler and the driver's pacing sleep through this.
pub fn park_until(until: Option<Instant>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let left = until.map_or(MAX_PARK, |u| u.saturating_duration_since(Instant::now()));
        if left.is_zero() {
            return;
        }
        std::thread::park_timeout(left.min(MAX_PARK));
    }
}

/// The zero of a run's time axis: the moment the measured node process is spawned.
///
/// Every time in a run directory counts from here: `samples.csv` `t_ms`, `events.jsonl`
/// `t_ms` (node events are converted from the node's wall clock), the `.hlog` interval
/// start times, and every chart. Ceiling probes and the node build happen before it;
/// `config.json` `time_zero` records it as wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    pub zero: Instant,
    pub zero_wall: SystemTime,
    /// Seconds since boot at time zero (`/proc/uptime`), the kernel log's time base.
    pub zero_uptime_s: f64,
}

impl RunClock {
    /// Time zero is now.
    pub fn start() -> RunClock {
        let uptime = std::fs::read_to_string("/proc/uptime").ok();
        let zero_uptime_s = uptime.and_then(|u| u.split_whitespace().next()?.parse().ok()).unwrap_or(0.0);
        // Whole seconds down: dmesg stamps and /proc/uptime round differently.
        RunClock {
            zero: Instant::now(),
            zero_wall: SystemTime::now(),
            zero_uptime_s: (zero_uptime_s - 1.0f64).max(0.0),
        }
    }

    /// Milliseconds since time zero of a wall-clock time in Unix milliseconds (0 for
    /// earlier times).
    pub fn t_ms_of_unix(&self, unix: u64) -> u64 {
        unix.saturating_sub(unix_ms(self.zero_wall))
    }

    /// The `time_zero` object of `config.json`.
    pub fn describe(&self) -> TimeZero {
        TimeZero {
            event: "node_spawn".into(),
            unix_ms: unix_ms(self.zero_wall),
            utc: iso8601(self.zero_wall),
            applies_to: ["samples.csv", "events.jsonl", "latency/histograms.hlog", "charts"].map(String::from).into(),
        }
    }
}

/// A run's time zero as `config.json` states it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TimeZero {
    /// What happened at zero: `node_spawn`.
    pub event: String,
    pub unix_ms: u64,
    pub utc: String,
    /// The files whose times count from it.
    pub applies_to: Vec<String>,
}

/// (year, month, day, hour, minute, second) in UTC.
fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, (rem / 3600) as u32, (rem % 3600 / 60) as u32, (rem % 60) as u32)
}

/// `20261121T112233Z`, for directory names.
pub fn stamp(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// `2026-11-21T11:22:33Z`.
pub fn iso8601(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_dates() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(iso8601(t), "2026-11-18T11:06:40Z"); // python3: datetime.utcfromtimestamp(1795000000)
        assert_eq!(stamp(t), "20261118T110640Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(iso8601(leap), "2000-02-29T00:00:00Z");
    }
}

//! Parsing and printing of durations (`100ms`, `30m`) and sizes (`2GiB`).

use std::time::Duration;

/// Splits `12.5GiB` into (12.5, "GiB"); `None` without a leading number.
fn number_and_unit(s: &str) -> Option<(f64, &str)> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    Some((num.parse().ok()?, unit))
}

/// Parses `<number><unit>` with unit ms, s, m or h (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (v, unit) =
        number_and_unit(s).ok_or_else(|| format!("expected a duration like 100ms, 5s, 30m or 1h, got `{s}`"))?;
    let secs = match unit {
        "ms" => v / 1e3,
        "" | "s" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("expected a duration unit of ms, s, m or h, got `{unit}` in `{s}`")),
    };
    if !(secs > 0.0 && secs <= 7.0 * 86_400.0) {
        return Err(format!("expected a positive duration up to 7 days, got `{s}`"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses `<number><unit>` with unit B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB: decimal).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (v, unit) = number_and_unit(s).ok_or_else(|| format!("expected a size like 512MiB or 2GiB, got `{s}`"))?;
    let mult = match unit.trim() {
        "" | "B" => 1.0,
        "KiB" | "K" => 1024.0,
        "MiB" | "M" => 1024.0 * 1024.0,
        "GiB" | "G" => 1024.0 * 1024.0 * 1024.0,
        "TiB" | "T" => 1024.0f64.powi(4),
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        u => return Err(format!("expected a size unit of B, KiB, MiB, GiB or TiB, got `{u}` in `{s}`")),
    };
    let bytes = v * mult;
    if !(1.0..1e18).contains(&bytes) {
        return Err(format!("expected a size from 1 B to below 1e18 bytes (~888 PiB), got `{s}`"));
    }
    Ok(bytes as u64)
}

/// `1.23 GiB`-style rendering.
/// `x` rounded to 3 decimals: summary figures keep no false precision.
pub fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// `x` rounded to 1 decimal (bandwidths in MiB/s).
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub fn fmt_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut i = 0;
    while v.abs() >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {}", UNITS[i])
    } else {
        format!("{v:.2} {}", UNITS[i])
    }
}

pub const MIB: f64 = 1024.0 * 1024.0;

/// This process's arguments after the program name, as text (bytes that are not UTF-8
/// shown as U+FFFD: a path may be any bytes, and recording it must not panic), with
/// absolute paths cut to `<abs>/<file name>`: the command is recorded in committed
/// files, which carry no path of this machine.
pub fn command_line() -> Vec<String> {
    std::env::args_os().skip(1).map(|a| portable_arg(&a.to_string_lossy())).collect()
}

/// `/x/y/z` → `<abs>/z`, `--flag=/x/z` (also `--node-arg=--flag=/x/z`) →
/// `--flag=<abs>/z`; anything else unchanged.
pub fn portable_arg(arg: &str) -> String {
    let (prefix, value) = match arg.find("=/") {
        Some(i) if arg.starts_with("--") => (&arg[..=i], &arg[i + 1..]),
        _ if arg.starts_with('/') => ("", arg),
        _ => return arg.to_owned(),
    };
    let name = value.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    format!("{prefix}<abs>/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_commands_lose_absolute_paths() {
        assert_eq!(portable_arg("/tmp/overhead.md"), "<abs>/overhead.md");
        assert_eq!(portable_arg("--node-bin=/work/main/target/release/node-glibc"), "--node-bin=<abs>/node-glibc");
        assert_eq!(portable_arg("results/x"), "results/x");
        assert_eq!(portable_arg("--node-arg=--sink"), "--node-arg=--sink");
        assert_eq!(portable_arg("--node-arg=--heap-profile-dir=/abs/heap"), "--node-arg=--heap-profile-dir=<abs>/heap");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("2GiB"), Ok(2 << 30));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1GB"), Ok(1_000_000_000));
        assert!(parse_bytes("-1GiB").is_err());
        assert!(parse_bytes("2 bananas").is_err());
        assert_eq!(fmt_bytes(1536.0 * 1024.0 * 1024.0), "1.50 GiB");
    }
}

//! glibc's `GLIBC_TUNABLES` strings as `--alloc-conf` for glibc
//! (`glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072`): their
//! syntax ([`parse`], checked when a run's options are validated) and each setting
//! against the tunables a loader lists ([`parse_list`], [`complaints`]; the list itself
//! comes from `run::glibc_tunables`). glibc ignores an unknown tunable or an
//! out-of-range value without a word, so an unchecked setting would be recorded as
//! applied while the run used glibc's default.

/// The tunables an allocator setting may name: glibc's other namespaces change the
/// loader, the CPU dispatch or lock elision, not the allocator under test.
const NAMESPACE: &str = "glibc.malloc.";
/// Settings with a flag of their own (one setting, one type): refused here, so a run
/// cannot record a cap in two places that disagree.
const OWN_FLAG: &[(&str, &str)] = &[("glibc.malloc.arena_max", "use --arena-max (MALLOC_ARENA_MAX)")];
/// Most tunables in one setting (glibc has 14 `glibc.malloc.*` tunables).
const MAX_TUNABLES: usize = 16;
/// Limits malloc.c applies beyond the loader's listed range (64-bit glibc 2.26–2.36):
/// a larger value is ignored as silently as an unknown name.
const MALLOC_C_CAPS: &[(&str, u64, &str)] = &[
    ("glibc.malloc.mmap_threshold", 32 << 20, "HEAP_MAX_SIZE / 2"),
    ("glibc.malloc.tcache_max", 1032, "the largest tcache bin"),
    ("glibc.malloc.tcache_count", 65_535, "MAX_TCACHE_COUNT"),
    ("glibc.malloc.mxfast", 160, "MAX_FAST_SIZE"),
];

/// One `name=value` of a setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub name: String,
    pub value: u64,
}

/// One tunable as the loader lists it: `name: value (min: lo, max: hi)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub min: u64,
    pub max: u64,
}

/// The settings of a `GLIBC_TUNABLES` string, or what is wrong with it (names the
/// offending item).
pub fn parse(conf: &str) -> Result<Vec<Setting>, String> {
    let items: Vec<&str> = conf.split(':').collect();
    if items.len() > MAX_TUNABLES {
        return Err(format!("expected at most {MAX_TUNABLES} tunables, got {}", items.len()));
    }
    let mut out: Vec<Setting> = Vec::new();
    for item in items {
        let Some((name, value)) = item.split_once('=') else {
            return Err(format!("expected `glibc.malloc.<name>=<value>` items separated by `:`, got `{item}`"));
        };
        if !name.starts_with(NAMESPACE) || name.len() == NAMESPACE.len() {
            return Err(format!("`{name}`: expected a {NAMESPACE}* tunable (the allocator's), got another"));
        }
        if let Some((_, why)) = OWN_FLAG.iter().find(|(n, _)| *n == name) {
            return Err(format!("`{name}`: {why}"));
        }
        let value = parse_number(value)
            .ok_or_else(|| format!("`{name}`: expected a number (decimal or 0x…), got `{value}`"))?;
        if out.iter().any(|s| s.name == name) {
            return Err(format!("`{name}` is given twice"));
        }
        out.push(Setting { name: name.to_owned(), value });
    }
    Ok(out)
}

/// A decimal or `0x` hexadecimal number, as glibc reads tunables.
fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The numeric tunables of `ld.so --list-tunables` output (lines without a range,
/// such as `glibc.cpu.hwcaps:`, are skipped).
pub fn parse_list(text: &str) -> Vec<Listed> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let range = rest.split_once("(min:")?.1;
            let (min, max) = range.split_once(", max:")?;
            let max = max.trim().trim_end_matches(')').trim();
            Some(Listed { name: name.trim().to_owned(), min: parse_number(min.trim())?, max: parse_number(max)? })
        })
        .collect()
}

/// Each setting checked against `listed`: what is wrong, one line per setting.
pub fn complaints(settings: &[Setting], listed: &[Listed]) -> Vec<String> {
    settings
        .iter()
        .filter_map(|s| match listed.iter().find(|l| l.name == s.name) {
            None => Some(format!("this glibc has no tunable `{}`", s.name)),
            Some(l) if !(l.min..=l.max).contains(&s.value) => {
                Some(format!("`{}`: expected {}..={}, got {} (glibc would ignore it)", s.name, l.min, l.max, s.value))
            }
            Some(_) => MALLOC_C_CAPS.iter().find(|(n, cap, _)| *n == s.name && s.value > *cap).map(|(n, cap, why)| {
                format!("`{n}`: glibc's malloc ignores values above {cap} ({why}), got {}", s.value)
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "glibc.malloc.trim_threshold: 0x0 (min: 0x0, max: 0xffffffffffffffff)\n\
        glibc.cpu.hwcaps:\n\
        glibc.malloc.arena_test: 0x0 (min: 0x1, max: 0xffffffffffffffff)\n\
        glibc.malloc.mmap_max: 0 (min: 0, max: 2147483647)\n";

    #[test]
    fn a_setting_reads_as_its_tunables() {
        let s = parse("glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_max=0x10").unwrap();
        assert_eq!(s[0], Setting { name: "glibc.malloc.trim_threshold".into(), value: 131_072 });
        assert_eq!(s[1].value, 16);
    }

    #[test]
    fn a_bad_setting_is_refused_naming_the_item() {
        for (conf, says) in [
            ("glibc.malloc.trim_threshold", "`glibc.malloc.trim_threshold`"),
            ("glibc.elision.enable=1", "`glibc.elision.enable`"),
            ("glibc.malloc.arena_max=2", "--arena-max"),
            ("glibc.malloc.trim_threshold=lots", "`lots`"),
            ("glibc.malloc.mmap_max=1:glibc.malloc.mmap_max=2", "twice"),
            ("glibc.malloc.=1", "glibc.malloc.*"),
        ] {
            let e = parse(conf).unwrap_err();
            assert!(e.contains(says), "{conf}: {e}");
        }
    }

    #[test]
    fn the_loaders_list_decides_names_and_ranges() {
        let listed = parse_list(LIST);
        assert_eq!(listed.len(), 3, "the line without a range is skipped: {listed:?}");
        assert_eq!(listed[2], Listed { name: "glibc.malloc.mmap_max".into(), min: 0, max: 2_147_483_647 });
        let c = |conf: &str| complaints(&parse(conf).unwrap(), &listed);
        assert!(c("glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_max=0").is_empty());
        assert!(c("glibc.malloc.arena_test=0")[0].contains("expected 1..="), "below the minimum");
        assert!(c("glibc.malloc.mmap_max=4294967296")[0].contains("glibc would ignore it"));
        assert!(c("glibc.malloc.hugetlb=1")[0].contains("no tunable `glibc.malloc.hugetlb`"));
        let mmap = Listed { name: "glibc.malloc.mmap_threshold".into(), min: 0, max: u64::MAX };
        let over = complaints(&parse("glibc.malloc.mmap_threshold=67108864").unwrap(), &[mmap]);
        assert!(over[0].contains("ignores values above 33554432"), "listed as valid, capped by malloc.c: {over:?}");
    }
}

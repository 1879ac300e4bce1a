//! `syncbench tune`'s default search space: per allocator, the settings production
//! teams publish (each with where it comes from), the untuned allocator first. Small on
//! purpose (6–10 settings): each one costs `--repeat` runs of `--duration`.

use crate::settings::Allocator;

/// One setting of the default space: an `--alloc-conf` string (`None`: untuned) and
/// why it is in the space.
pub struct Candidate {
    pub conf: Option<&'static str>,
    pub why: &'static str,
}

/// A default space: its settings, crossed with these `MALLOC_ARENA_MAX` values
/// (glibc; `default` is unset).
pub struct Space {
    pub arena_max: &'static [&'static str],
    pub candidates: &'static [Candidate],
}

const GLIBC: Space = Space {
    arena_max: &["default", "2"],
    candidates: &[
        Candidate { conf: None, why: "glibc as shipped: up to 8 arenas per core, mmap threshold raised on the fly from 128 KiB up to 32 MiB" },
        Candidate {
            conf: Some("glibc.malloc.mmap_threshold=131072"),
            why: "a fixed 128 KiB mmap threshold (no dynamic raise): the published 64-thread arena example went from 191.5 MB retained to 4.6 MB",
        },
        Candidate {
            conf: Some("glibc.malloc.trim_threshold=131072"),
            why: "a fixed 128 KiB trim threshold: each heap's free top beyond it goes back to the system (and the dynamic mmap threshold stops)",
        },
        Candidate {
            conf: Some("glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072"),
            why: "both thresholds fixed at their documented defaults",
        },
    ],
};

const JEMALLOC: Space = Space {
    arena_max: &["default"],
    candidates: &[
        Candidate {
            conf: None,
            why: "jemalloc as shipped (5.3): dirty pages decay over 10 s, muzzy ones at once (muzzy_decay_ms 0 since 5.2.0), no background threads",
        },
        Candidate {
            conf: Some("dirty_decay_ms:1000"),
            why: "ClickHouse PR 23088's 1 s dirty decay (it set muzzy_decay_ms 1 s too; jemalloc 5.3 purges muzzy pages at once): −6.5 % RSS in its perf tests, 0.1–0.8 % slower overall",
        },
        Candidate {
            conf: Some("background_thread:true"),
            why: "purging by background threads instead of in allocating threads (jemalloc issue 2688: decay settings without them barely move peak RSS)",
        },
        Candidate { conf: Some("background_thread:true,dirty_decay_ms:1000"), why: "background purging with a 1 s dirty decay" },
        Candidate {
            conf: Some("background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:1000"),
            why: "EasyTier (a Rust node): background threads, 1 s decays (the muzzy one holds pages longer than jemalloc 5.3's 0)",
        },
        Candidate {
            conf: Some("background_thread:true,dirty_decay_ms:5000,muzzy_decay_ms:0"),
            why: "ClickHouse's later default: 5 s dirty decay, muzzy pages released at once (jemalloc 5.3's default already)",
        },
        Candidate { conf: Some("background_thread:true,retain:false"), why: "Milvus: unmap instead of retaining, so RSS comes down after bursts" },
        Candidate { conf: Some("dirty_decay_ms:0,muzzy_decay_ms:0"), why: "purge at once: the most memory a purge setting can save, at its highest cost" },
    ],
};

const MIMALLOC: Space = Space {
    arena_max: &["default"],
    candidates: &[
        Candidate { conf: None, why: "mimalloc as shipped (3.3): freed memory purged (decommitted) after 1 s" },
        Candidate { conf: Some("purge_delay=0"), why: "purge at once (mimalloc's documentation: can improve memory usage, but decreases performance)" },
        Candidate { conf: Some("purge_delay=10"), why: "purge after 10 ms, mimalloc 2's default" },
        Candidate { conf: Some("purge_delay=10000"), why: "purge after 10 s: fewer purge calls, more memory held" },
        Candidate { conf: Some("purge_delay=-1"), why: "never purge: what purging saves, by its absence" },
        Candidate {
            conf: Some("purge_decommits=0"),
            why: "reset (MADV_FREE) instead of decommit (MADV_DONTNEED) on purge: the old reset_decommits trade-off; mimalloc notes RSS then stays up until the kernel needs the pages",
        },
        Candidate { conf: Some("arena_eager_commit=0"), why: "commit arena memory on demand, not up front (the documentation: eager commit raises commit, not peak RSS)" },
    ],
};

/// The default space of `alloc`.
pub fn default_space(alloc: Allocator) -> &'static Space {
    match alloc {
        Allocator::Glibc => &GLIBC,
        Allocator::Jemalloc => &JEMALLOC,
        Allocator::Mimalloc => &MIMALLOC,
    }
}

/// Why a setting is in the default space (`None`: a setting the user chose).
pub fn why(alloc: Allocator, conf: Option<&str>) -> Option<&'static str> {
    default_space(alloc).candidates.iter().find(|c| c.conf == conf).map(|c| c.why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_space_has_6_to_10_settings_the_untuned_one_first() {
        for alloc in [Allocator::Glibc, Allocator::Jemalloc, Allocator::Mimalloc] {
            let s = default_space(alloc);
            let n = s.candidates.len() * s.arena_max.len();
            assert!((6..=10).contains(&n), "{alloc}: {n}");
            assert_eq!(s.candidates[0].conf, None, "{alloc}");
            assert_eq!(s.arena_max[0], "default", "{alloc}");
        }
    }

    #[test]
    fn glibcs_settings_are_valid_tunable_strings() {
        for c in GLIBC.candidates.iter().filter_map(|c| c.conf) {
            crate::glibc_conf::parse(c).unwrap();
        }
    }
}

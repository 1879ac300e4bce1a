//! glibc malloc statistics: `mallinfo2`, and every arena's size from `malloc_info`.
//!
//! Configured with glibc's defaults: up to 8 arenas per core, which is exactly the
//! fragmentation behaviour under study. `syncbench ingest --arena-max N` sets
//! `MALLOC_ARENA_MAX` and `--alloc-conf` sets `GLIBC_TUNABLES`, both read once at
//! process start. glibc counts no trims: the stats report the decreases they see.

use std::sync::atomic::{AtomicU64, Ordering};

use syncbench_node::alloc_stats::{AllocatorInternal, GlibcArena, GlibcStats, GLIBC_ARENAS_LISTED};
use syncbench_node::{AllocatorStats, HeapCounters};

pub struct Glibc;

impl AllocatorStats for Glibc {
    fn name(&self) -> &'static str {
        "glibc"
    }

    fn version(&self) -> String {
        // SAFETY: returns a pointer to a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
        v.to_string_lossy().into_owned()
    }

    fn heap(&self) -> HeapCounters {
        crate::counting::counters()
    }

    fn internal(&self) -> AllocatorInternal {
        // SAFETY: mallinfo2 has no preconditions.
        let m = unsafe { libc::mallinfo2() };
        let info = malloc_info_arenas();
        let count = info.as_ref().map(|i| i.0 as u64);
        let arena_list = info.map(|i| i.1).unwrap_or_default();
        let (trims_seen, trimmed_bytes_seen) = TRIMS.see(m.arena as u64);
        AllocatorInternal::Glibc(GlibcStats {
            arena_bytes: m.arena as u64,
            mmap_bytes: m.hblkhd as u64,
            in_use_bytes: m.uordblks as u64,
            free_bytes: m.fordblks as u64,
            top_releasable_bytes: m.keepcost as u64,
            arenas: count,
            arena_list,
            mmap_chunks: Some(m.hblks as u64),
            trims_seen: Some(trims_seen),
            trimmed_bytes_seen: Some(trimmed_bytes_seen),
        })
    }
}

/// The arenas' system bytes at the previous read, and the decreases seen so far
/// (`GlibcStats::trims_seen`). One node reads its stats from one task at a time; the
/// atomics only keep concurrent readers (tests) from tearing the figures.
struct TrimWatch {
    last: AtomicU64,
    trims: AtomicU64,
    bytes: AtomicU64,
}

static TRIMS: TrimWatch = TrimWatch { last: AtomicU64::new(0), trims: AtomicU64::new(0), bytes: AtomicU64::new(0) };

impl TrimWatch {
    /// Records `arena_bytes`; returns (decreases seen, bytes they returned) so far.
    fn see(&self, arena_bytes: u64) -> (u64, u64) {
        let last = self.last.swap(arena_bytes, Ordering::Relaxed);
        if last > arena_bytes {
            self.trims.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(last - arena_bytes, Ordering::Relaxed);
        }
        (self.trims.load(Ordering::Relaxed), self.bytes.load(Ordering::Relaxed))
    }
}

/// The arenas in `malloc_info`'s XML (glibc writes it into a memory stream).
pub fn malloc_info_arenas() -> Option<(usize, Vec<GlibcArena>)> {
    let mut buf: *mut libc::c_char = std::ptr::null_mut();
    let mut len: libc::size_t = 0;
    // SAFETY: open_memstream stores a malloc'd buffer in `buf` that we free below;
    // malloc_info writes into the stream, fclose flushes it.
    unsafe {
        let stream = libc::open_memstream(&mut buf, &mut len);
        if stream.is_null() {
            return None;
        }
        let rc = libc::malloc_info(0, stream);
        libc::fclose(stream);
        if buf.is_null() {
            return None;
        }
        // Parsed in place: copying the XML into a Rust string would count as the node's
        // own allocations (glibc's buffer comes from libc's malloc, uncounted).
        let text = std::str::from_utf8(std::slice::from_raw_parts(buf.cast::<u8>(), len)).ok();
        let arenas = text.filter(|_| rc == 0).map(parse_arenas);
        libc::free(buf.cast());
        arenas
    }
}

/// Each `<heap nr="N">…</heap>` of `malloc_info`'s XML, and how many there are.
pub fn parse_arenas(xml: &str) -> (usize, Vec<GlibcArena>) {
    let mut arenas = Vec::new();
    let mut count = 0;
    for part in xml.split("<heap nr=\"").skip(1) {
        count += 1;
        if arenas.len() >= GLIBC_ARENAS_LISTED {
            continue;
        }
        let body = part.split("</heap>").next().unwrap_or_default();
        let nr = body.split('"').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let free = attr_size(body, "<total type=\"fast\"") + attr_size(body, "<total type=\"rest\"");
        arenas.push(GlibcArena { nr, system_bytes: attr_size(body, "<system type=\"current\""), free_bytes: free });
    }
    (count, arenas)
}

/// The `size="…"` attribute of the element that starts with `tag` (0 if absent).
fn attr_size(body: &str, tag: &str) -> u64 {
    let Some(rest) = body.split(tag).nth(1) else { return 0 };
    let element = rest.split('>').next().unwrap_or_default();
    element.split("size=\"").nth(1).and_then(|s| s.split('"').next()).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arenas_are_read_from_malloc_info() {
        let xml = r#"<malloc version="1">
<heap nr="0">
<sizes>
<size from="17" to="32" total="64" count="2"/>
</sizes>
<total type="fast" count="2" size="64"/>
<total type="rest" count="3" size="1000"/>
<system type="current" size="135168"/>
<system type="max" size="200000"/>
<aspace type="total" size="135168"/>
</heap>
<heap nr="1">
<sizes>
</sizes>
<total type="fast" count="0" size="0"/>
<total type="rest" count="1" size="5"/>
<system type="current" size="4096"/>
</heap>
<total type="fast" count="2" size="64"/>
<system type="current" size="139264"/>
</malloc>"#;
        let (n, a) = parse_arenas(xml);
        assert_eq!(n, 2);
        assert_eq!(a[0], GlibcArena { nr: 0, system_bytes: 135_168, free_bytes: 1_064 });
        assert_eq!(a[1], GlibcArena { nr: 1, system_bytes: 4_096, free_bytes: 5 });
    }

    #[test]
    fn only_a_decrease_of_the_arenas_counts_as_a_trim() {
        let w = TrimWatch { last: AtomicU64::new(0), trims: AtomicU64::new(0), bytes: AtomicU64::new(0) };
        assert_eq!(w.see(1000), (0, 0), "growth from nothing");
        assert_eq!(w.see(1500), (0, 0));
        assert_eq!(w.see(1200), (1, 300));
        assert_eq!(w.see(1200), (1, 300), "unchanged");
        assert_eq!(w.see(200), (2, 1300));
    }

    #[test]
    fn this_process_has_at_least_the_main_arena() {
        let (n, a) = malloc_info_arenas().unwrap();
        assert!(n >= 1 && a[0].nr == 0 && a[0].system_bytes > 0, "{a:?}");
    }
}

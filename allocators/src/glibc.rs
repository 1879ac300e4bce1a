//! glibc malloc statistics: `mallinfo2` and the arena count from `malloc_info`.
//!
//! Configured with glibc's defaults: up to 8 arenas per core, which is exactly the
//! fragmentation behaviour under study. `syncbench ingest --arena-max N` sets
//! `MALLOC_ARENA_MAX`, which glibc reads once at process start.

use syncbench_node::alloc_stats::{AllocatorInternal, GlibcStats};
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
        AllocatorInternal::Glibc(GlibcStats {
            arena_bytes: m.arena as u64,
            mmap_bytes: m.hblkhd as u64,
            in_use_bytes: m.uordblks as u64,
            free_bytes: m.fordblks as u64,
            top_releasable_bytes: m.keepcost as u64,
            arenas: arena_count().map(|n| n as u64),
        })
    }
}

/// Number of arenas (`<heap nr=…>` elements in `malloc_info`'s XML).
pub fn arena_count() -> Option<usize> {
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
        let text = std::slice::from_raw_parts(buf.cast::<u8>(), len);
        let count = (rc == 0).then(|| text.windows(9).filter(|w| w == b"<heap nr=").count());
        libc::free(buf.cast());
        count
    }
}

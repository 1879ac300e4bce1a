//! Which allocator serves `malloc` as a shared library sees it.
//!
//! A C or C++ library (RocksDB) allocates with `malloc`, not through Rust's
//! `#[global_allocator]`: a node on jemalloc or mimalloc still serves the engine's
//! memtables, block cache and table readers from glibc unless the allocator replaces
//! `malloc` itself (and the executable exports it). This is measured, not assumed from
//! the binary's name: `malloc` is looked up the way the dynamic linker binds a shared
//! library's calls (`dlsym(RTLD_DEFAULT)`), [`PROBE_BYTES`] are allocated through it,
//! and the binary's allocator says whether it served them
//! ([`crate::AllocatorStats::serves`]).

use crate::alloc_stats::AllocatorStats;

/// Size of the probe allocation: large enough that every allocator serves it from
/// fresh pages its statistics count (not from a thread cache).
pub const PROBE_BYTES: usize = 8 << 20;

type MallocFn = unsafe extern "C" fn(usize) -> *mut libc::c_void;
type FreeFn = unsafe extern "C" fn(*mut libc::c_void);

/// `malloc` and `free` as the global symbol lookup finds them.
fn resolve() -> Option<(MallocFn, FreeFn)> {
    // SAFETY: dlsym with RTLD_DEFAULT and NUL-terminated names has no preconditions;
    // the symbols, when found, are the C library's functions of these signatures.
    unsafe {
        let m = libc::dlsym(libc::RTLD_DEFAULT, c"malloc".as_ptr());
        let f = libc::dlsym(libc::RTLD_DEFAULT, c"free".as_ptr());
        if m.is_null() || f.is_null() {
            return None;
        }
        Some((
            std::mem::transmute::<*mut libc::c_void, MallocFn>(m),
            std::mem::transmute::<*mut libc::c_void, FreeFn>(f),
        ))
    }
}

/// The allocator that serves a shared library's `malloc`: this binary's allocator's
/// name if it served the probe, else `glibc` (the C library's own); `None` if the
/// probe could not run.
pub fn probe(alloc: &dyn AllocatorStats) -> Option<String> {
    let (malloc, free) = resolve()?;
    let mut allocated: *mut libc::c_void = std::ptr::null_mut();
    let served = alloc.serves(&mut || {
        // SAFETY: malloc of a positive size; the block is written before it is freed.
        unsafe {
            allocated = malloc(PROBE_BYTES);
            if !allocated.is_null() {
                std::ptr::write_bytes(allocated.cast::<u8>(), 1, PROBE_BYTES);
            }
        }
        allocated.cast::<u8>()
    });
    if allocated.is_null() {
        return None;
    }
    // SAFETY: `allocated` came from this `malloc` and is freed once.
    unsafe { free(allocated) };
    Some(if served { alloc.name().to_owned() } else { "glibc".to_owned() })
}

//! Which allocator serves `malloc` as a shared library sees it.
//!
//! A C or C++ library (RocksDB) allocates with `malloc`, not through Rust's
//! `#[global_allocator]`: a node on jemalloc or mimalloc still serves the engine's
//! memtables, block cache and table readers from glibc unless the allocator replaces
//! `malloc` itself (and the executable exports it). This is read off the process, not
//! assumed from the binary's name: `malloc` is looked up the way the dynamic linker
//! binds a shared library's calls (`dlsym(RTLD_DEFAULT)`), and `dladdr` says which
//! loaded object defines it — this executable (its allocator replaced `malloc`) or a
//! library (the C library's own, or anything preloaded).
//!
//! Nothing is allocated: a probe allocation freed through glibc would raise glibc's
//! dynamic mmap threshold for the rest of the run and change the allocator under test.
//! `harness/tests/rocksdb.rs` checks the answer against the allocators' own books.

use crate::alloc_stats::AllocatorStats;

/// The loaded object defining `addr`: its base address and file name.
fn object_of(addr: *const libc::c_void) -> Option<(usize, String)> {
    let mut info = libc::Dl_info {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    // SAFETY: dladdr only reads `addr` as an address and fills `info`.
    if addr.is_null() || unsafe { libc::dladdr(addr, &mut info) } == 0 {
        return None;
    }
    let name = if info.dli_fname.is_null() {
        String::new()
    } else {
        // SAFETY: dladdr's file name is a NUL-terminated string owned by the loader.
        unsafe { std::ffi::CStr::from_ptr(info.dli_fname) }.to_string_lossy().into_owned()
    };
    Some((info.dli_fbase as usize, name))
}

/// The allocator that serves a shared library's `malloc`: this binary's allocator's
/// name if this executable defines the `malloc` the loader binds, `glibc` if the C
/// library does, else the defining library's file name; `None` if it cannot be told.
pub fn probe(alloc: &dyn AllocatorStats) -> Option<String> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name has no preconditions.
    let malloc = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"malloc".as_ptr()) };
    let (base, file) = object_of(malloc)?;
    let (own, _) = object_of(probe as *const libc::c_void)?;
    let file = file.rsplit('/').next().unwrap_or_default().to_owned();
    Some(match () {
        _ if base == own => alloc.name().to_owned(),
        _ if file.starts_with("libc.so") => "glibc".to_owned(),
        _ => file,
    })
}

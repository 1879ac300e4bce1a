//! The node on jemalloc with its sampling heap profiler on (`--heap-profile`), counted.
//! Also converts the raw profiles it wrote: `node-jemalloc-prof convert-heap …`.
use syncbench_allocators::counting::Counting;
use syncbench_allocators::jemalloc_prof;

#[global_allocator]
static GLOBAL: Counting<tikv_jemallocator::Jemalloc> = Counting::new(tikv_jemallocator::Jemalloc);

/// A C string pointer jemalloc reads at start (`malloc_conf`, prefixed as the tikv build
/// names its symbols).
#[repr(transparent)]
pub struct ConfPtr(*const u8);
// SAFETY: points to an immutable static byte string.
unsafe impl Sync for ConfPtr {}

#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: ConfPtr = ConfPtr(jemalloc_prof::DEFAULT_CONF.as_ptr());

fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == "convert-heap") {
        return jemalloc_prof::convert_main(args);
    }
    syncbench_node::main(&syncbench_allocators::jemalloc::JemallocProf)
}

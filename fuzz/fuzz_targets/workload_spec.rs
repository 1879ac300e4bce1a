//! The workload spec parser on arbitrary text: a typed spec or an error with a
//! position, never a panic. Accepted specs must describe without panicking, too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syncbench_workloads::spec::parse;
use syncbench_workloads::Description;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(spec) = parse(text, "fuzz.toml", std::path::Path::new("/nonexistent")) {
        // Describing generates up to 4,000 sample blocks; small specs keep the run fast.
        if spec.blocks <= 200 {
            let _ = Description::of(&spec);
        }
    }
});

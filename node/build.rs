//! Records the commit the node is built from (see `build_info.rs`).

include!("build_info.rs");

fn main() {
    emit_build_info();
}

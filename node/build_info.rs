// Shared by the node's and the harness's build scripts (`include!`d): the commit a
// binary is built from, recorded at compile time so that a run names the binary's
// commit, not whatever is checked out when it runs.

/// Sets `SYNCBENCH_GIT_SHA` (`unknown` outside a git checkout) and `SYNCBENCH_GIT_DIRTY`
/// (`true` if tracked files differ from the commit or untracked, unignored files
/// exist; `unknown` without git) for the crate being built.
fn emit_build_info() {
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git").args(args).current_dir("..").output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let sha = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain"]).map_or("unknown".into(), |s| (!s.is_empty()).to_string());
    println!("cargo:rustc-env=SYNCBENCH_GIT_SHA={sha}");
    println!("cargo:rustc-env=SYNCBENCH_GIT_DIRTY={dirty}");
    // Rebuilt when the commit, the index or this crate's sources change (declaring any
    // path turns off cargo's default of rerunning on every file of the package).
    for path in ["../.git/HEAD", "../.git/index", "../.git/refs", "src", "build.rs"] {
        println!("cargo:rerun-if-changed={path}");
    }
}

//! Claiming the directories a run writes — its run directory and the node's data
//! directory — so that no two runs can ever share one.
//!
//! A directory is claimed by creating it (`mkdir` fails if it exists) or, for one the
//! user named that already exists, by finding it empty; either way it is then locked
//! with `flock` for the life of the run, so a second run naming it is refused (exit 2)
//! instead of mixing its files in. Default names that exist already get a suffix
//! (`-2`, `-3`, …). Symlinks are resolved first: cleanup acts on the target, never
//! removes a link and leaves the data behind. The two directories must not contain
//! each other (deleting the data would delete the results).

use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::input;

/// Most suffixes tried for a default name before giving up.
const MAX_SUFFIX: u32 = 1000;

/// A directory this run holds.
#[derive(Debug)]
pub struct Claimed {
    /// As the user (or the default) named it: for messages.
    pub shown: PathBuf,
    /// Symlinks resolved: where files really go.
    pub real: PathBuf,
    /// True if this run created it (cleanup removes it), false if it existed empty
    /// (cleanup empties it and leaves it).
    created: bool,
    /// The parent directories this run created too, deepest first (removed again if
    /// left empty: a refused `--out a/b/c` leaves no `a/b`).
    created_parents: Vec<PathBuf>,
    _lock: File,
}

impl Claimed {
    /// A directory the user named with `--<flag>`: created, or existing and empty.
    pub fn given(dir: &Path, flag: &str) -> Result<Claimed> {
        let what = format!("--{flag}");
        let (created, created_parents) = match create(dir) {
            Ok(parents) => (true, parents),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => (false, Vec::new()),
            Err(e) => return Err(input(format!("{what} {}: cannot create: {e}", dir.display()))),
        };
        let undo = |e: anyhow::Error| {
            if created {
                let _ = fs::remove_dir(dir);
                remove_empty(&created_parents);
            }
            e
        };
        match fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(input(format!("{what} {}: expected a directory, got a file", dir.display()))),
            Err(e) => return Err(undo(input(format!("{what} {}: cannot resolve: {e}", dir.display())))),
        }
        let claimed = Claimed::lock(dir, (created, created_parents.clone()), &what).map_err(undo)?;
        if !created && !is_empty(&claimed.real) {
            let shown = dir.display();
            return Err(input(format!("{what} {shown}: expected a new or empty directory, got one with files in it")));
        }
        Ok(claimed)
    }

    /// A default directory: `base`, or the first of `base-2`, `base-3`, … this call
    /// creates (never one that existed). `what` names it in errors — the user passed
    /// no flag for it — e.g. "the default data directory".
    pub fn fresh(base: &Path, what: &str) -> Result<Claimed> {
        for n in 1..=MAX_SUFFIX {
            let dir = if n == 1 { base.to_owned() } else { suffixed(base, n) };
            match create(&dir) {
                Ok(parents) => return Claimed::lock(&dir, (true, parents), what),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(input(format!("{what} {}: cannot create: {e}", dir.display()))),
            }
        }
        Err(input(format!("{what}: {} and {MAX_SUFFIX} suffixed names exist", base.display())))
    }

    fn lock(dir: &Path, (created, created_parents): (bool, Vec<PathBuf>), what: &str) -> Result<Claimed> {
        let fail = |why: String| input(format!("{what} {}: {why}", dir.display()));
        let real = fs::canonicalize(dir).map_err(|e| fail(format!("cannot resolve: {e}")))?;
        let file = File::open(&real).map_err(|e| fail(format!("cannot open: {e}")))?;
        // SAFETY: flock(2) on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            let busy = e.kind() == ErrorKind::WouldBlock;
            return Err(fail(if busy { "in use by another syncbench run".into() } else { e.to_string() }));
        }
        Ok(Claimed { shown: dir.to_owned(), real, created, created_parents, _lock: file })
    }

    /// Removes what this run put there: the whole directory (and a parent it created,
    /// if empty) if the run created it, else only its contents.
    pub fn clear(&self) {
        if self.created {
            let _ = fs::remove_dir_all(&self.real);
            remove_empty(&self.created_parents);
            return;
        }
        for entry in fs::read_dir(&self.real).into_iter().flatten().flatten() {
            let p = entry.path();
            let _ = if p.is_dir() && !p.is_symlink() { fs::remove_dir_all(&p) } else { fs::remove_file(&p) };
        }
    }

    /// Fails (exit 2) unless files can be written in the directory.
    pub fn check_writable(&self, flag: &str) -> Result<()> {
        let probe = self.real.join(".write-test");
        let _ = fs::remove_file(&probe);
        crate::util::fsx::create_new(&probe)
            .map_err(|e| input(format!("--{flag} {}: directory is not writable: {e}", self.shown.display())))?;
        let _ = fs::remove_file(probe);
        Ok(())
    }
}

/// Locks an existing directory `dir` exclusively for as long as the returned file is
/// held: refused (exit 2) while a run (or another `report`) holds it, so two writers
/// never mix their files in it.
pub fn lock_existing(dir: &Path, what: &str) -> Result<File> {
    lock_dir(dir, what, libc::LOCK_EX)
}

/// A shared lock on an existing directory, for a reader: refused while a writer (a run,
/// a matrix, a `report`) holds it, so nothing is judged half-written; readers do not
/// exclude each other.
pub fn lock_for_reading(dir: &Path, what: &str) -> Result<File> {
    lock_dir(dir, what, libc::LOCK_SH)
}

fn lock_dir(dir: &Path, what: &str, kind: libc::c_int) -> Result<File> {
    let file = File::open(dir).map_err(|e| input(format!("{what} {}: cannot open: {e}", dir.display())))?;
    // SAFETY: flock(2) on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), kind | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        let why = if e.kind() == ErrorKind::WouldBlock {
            "in use by another syncbench process".into()
        } else {
            e.to_string()
        };
        return Err(input(format!("{what} {}: {why}", dir.display())));
    }
    Ok(file)
}

/// Refuses `path` (given with `--<flag>`, not yet claimed) if it is, contains or lies
/// inside `other`, after resolving symlinks in every part of it that exists.
pub fn check_disjoint(path: &Path, flag: &str, other: &Claimed, other_flag: &str) -> Result<()> {
    let real = resolve(path);
    if real.starts_with(&other.real) || other.real.starts_with(&real) {
        return Err(input(format!(
            "--{flag} {} and --{other_flag} {} overlap ({} and {}): the node's data is deleted after the \
             run, so neither directory may contain the other",
            path.display(),
            other.shown.display(),
            real.display(),
            other.real.display()
        )));
    }
    Ok(())
}

/// `path` with symlinks resolved in its longest existing prefix and the rest appended
/// with `.` and `..` applied as `mkdir -p` would create it (`missing/../out` is `out`:
/// the part that does not exist yet has no symlinks to follow).
fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = fs::canonicalize(existing) {
            return rest.iter().rev().fold(real, |p: PathBuf, c: &std::ffi::OsString| match c.to_str() {
                Some(".") => p,
                Some("..") => p.parent().map_or(p.clone(), Path::to_path_buf),
                _ => p.join(c),
            });
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last.as_os_str().to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// `mkdir -p` of the parent, then an exclusive `mkdir` of `dir` itself; returns the
/// parents this call created, deepest first. Retried when another run removes an empty
/// shared parent (`.syncbench-data`) between the two steps.
fn create(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
    let mut tries = 0;
    loop {
        let missing: Vec<PathBuf> = parent
            .into_iter()
            .flat_map(Path::ancestors)
            .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
            .map(Path::to_path_buf)
            .collect();
        if let Some(p) = parent.filter(|_| !missing.is_empty()) {
            fs::create_dir_all(p)?;
        }
        match fs::create_dir(dir) {
            Err(e) if e.kind() == ErrorKind::NotFound && tries < 3 => tries += 1,
            other => return other.map(|()| missing),
        }
    }
}

/// Removes each of `dirs` (deepest first) while it is empty: parents shared with
/// anything else stay.
fn remove_empty(dirs: &[PathBuf]) {
    for d in dirs {
        if fs::remove_dir(d).is_err() {
            return;
        }
    }
}

fn is_empty(dir: &Path) -> bool {
    fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false)
}

fn suffixed(base: &Path, n: u32) -> PathBuf {
    let mut name = base.file_name().unwrap_or_default().to_os_string();
    name.push(format!("-{n}"));
    base.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_directory_cannot_be_claimed_twice() {
        let t = tempfile::tempdir().unwrap();
        let a = Claimed::given(&t.path().join("x"), "out").unwrap();
        let e = Claimed::given(&t.path().join("x"), "out").unwrap_err().to_string();
        assert!(e.contains("in use by another syncbench run"), "{e}");
        drop(a);
        let b = Claimed::fresh(&t.path().join("x"), "the default run directory").unwrap();
        assert_eq!(b.shown, t.path().join("x-2"), "a default name never reuses a directory");
    }

    #[test]
    fn overlapping_directories_are_refused_in_either_direction() {
        let t = tempfile::tempdir().unwrap();
        let out = Claimed::given(&t.path().join("o"), "out").unwrap();
        for p in ["o", "o/d", "o/./d/e", "."] {
            let e = check_disjoint(&t.path().join(p), "data-dir", &out, "out").unwrap_err().to_string();
            assert!(e.contains("overlap"), "{p}: {e}");
        }
        assert!(check_disjoint(&t.path().join("elsewhere"), "data-dir", &out, "out").is_ok());
        std::os::unix::fs::symlink(t.path().join("o"), t.path().join("link")).unwrap();
        let e = check_disjoint(&t.path().join("link/new"), "data-dir", &out, "out").unwrap_err();
        assert!(e.to_string().contains("overlap"), "through a symlink: {e}");
    }

    #[test]
    fn clearing_a_symlinked_directory_empties_the_target() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("target")).unwrap();
        std::os::unix::fs::symlink(t.path().join("target"), t.path().join("link")).unwrap();
        let c = Claimed::given(&t.path().join("link"), "data-dir").unwrap();
        fs::write(c.real.join("blob"), b"x").unwrap();
        fs::create_dir(c.real.join("shard")).unwrap();
        c.clear();
        assert!(t.path().join("link").is_symlink() && is_empty(&t.path().join("target")));
    }
}

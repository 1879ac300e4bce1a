//! The one way the harness writes a file and the one way it reads an input file.
//!
//! **Writing.** Every file is written to a fresh temporary file in the target's own
//! directory, created exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`: a name planted in
//! advance, or a symlink placed there, makes the create fail instead of being followed),
//! then renamed over the target. Before the rename the target must be absent or a
//! regular file: a symlink, a directory, a FIFO or a device is refused (exit 2) and left
//! as it was. A reader never sees a half-written file, a full disk leaves the old file
//! in place, and no write goes through a link to somewhere else. Directories the harness
//! writes into inside a results directory (`charts/`, `latency/`, `crash/`) are made
//! with [`real_dir`], which refuses one that is a symlink.
//!
//! **Reading.** [`read_bounded`] opens without blocking (a FIFO given as an input file
//! is refused, not waited on), accepts only regular files, and refuses one larger than
//! the caller's bound before reading a byte of it; it never reads more than the bound
//! even from a file whose size the kernel does not report (`/proc`).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};

use crate::error::input;

/// Temporary names tried before giving up (each is new: pid, a counter and the clock).
const TEMP_TRIES: u32 = 16;

/// Writes `bytes` to `path` atomically (see the module documentation).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Like [`write_atomic`], with the content streamed into the temporary file by `fill`.
pub fn write_atomic_with(path: &Path, fill: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<()> {
    check_target(path)?;
    let (tmp, mut file) = create_temp(path)?;
    let written = fill(&mut file).and_then(|()| file.flush());
    drop(file);
    finish(path, &tmp, written)
}

/// Like [`write_atomic`], for writers that insist on a path of their own (an image
/// encoder): `fill` writes to a path inside a fresh private directory beside `path`.
pub fn write_atomic_via_path(path: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    check_target(path)?;
    let dir = create_temp_dir(path)?;
    // The target's own name inside the private directory: an encoder that picks its
    // format by the extension (PNG) sees the right one.
    let tmp = dir.join(path.file_name().unwrap_or_else(|| std::ffi::OsStr::new("out")));
    let filled = fill(&tmp);
    let result = match filled {
        Ok(()) => finish(path, &tmp, Ok(())),
        Err(e) => Err(e.context(format!("writing {}", path.display()))),
    };
    let _ = fs::remove_dir_all(&dir);
    result
}

/// Refuses a target that is not absent or a regular file (exit 2, nothing touched).
pub fn check_target(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(input(format!("{}: cannot inspect before writing: {e}", path.display()))),
        Ok(m) if m.file_type().is_file() => Ok(()),
        Ok(m) => Err(input(format!(
            "{}: refusing to write: it is {}, not a regular file this harness can replace",
            path.display(),
            kind(&m.file_type())
        ))),
    }
}

/// Makes `dir` (one level; its parent must exist) unless it exists as a real
/// directory; refuses one that is a symlink or not a directory (exit 2).
pub fn real_dir(dir: &Path) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(anyhow::Error::from(e).context(format!("creating {}", dir.display()))),
    }
    let m = fs::symlink_metadata(dir).with_context(|| format!("inspecting {}", dir.display()))?;
    if m.file_type().is_dir() {
        return Ok(());
    }
    Err(input(format!(
        "{}: refusing to write into it: it is {}, not a directory of this run",
        dir.display(),
        kind(&m.file_type())
    )))
}

/// Creates `path` as a new file (exclusive, not following a symlink), mode 0644.
pub fn create_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(0o644)
        .open(path)
}

/// Reads `path` (a regular file of at most `max_bytes`) as UTF-8; `what` names the
/// file's role in errors (e.g. "thresholds"). Errors are input errors (exit 2).
pub fn read_bounded(path: &Path, max_bytes: u64, what: &str) -> Result<String> {
    let bytes = read_bounded_bytes(path, max_bytes, what)?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        input(format!("{}: {what}: expected UTF-8 text, got an invalid byte at offset {at}", path.display()))
    })
}

/// [`read_bounded`] without the UTF-8 check.
pub fn read_bounded_bytes(path: &Path, max_bytes: u64, what: &str) -> Result<Vec<u8>> {
    let mut file = open_regular(path, max_bytes, what)?;
    let mut bytes = Vec::new();
    Read::by_ref(&mut file)
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| input(format!("{}: cannot read {what}: {e}", path.display())))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(path, what, max_bytes));
    }
    Ok(bytes)
}

/// A file of a run or suite directory (its own files: a symlink there is refused, so a
/// results directory from elsewhere cannot make a reader open another file), read as
/// [`read_bounded`].
pub fn read_result_file(path: &Path, max_bytes: u64, what: &str) -> Result<String> {
    refuse_symlink(path, what)?;
    read_bounded(path, max_bytes, what)
}

/// [`open_regular`] for a file of a run or suite directory (see [`read_result_file`]).
pub fn open_result_file(path: &Path, max_bytes: u64, what: &str) -> Result<File> {
    refuse_symlink(path, what)?;
    open_regular(path, max_bytes, what)
}

fn refuse_symlink(path: &Path, what: &str) -> Result<()> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(input(format!(
            "{}: {what}: is a symbolic link; a run or suite directory holds its own files",
            path.display()
        )));
    }
    Ok(())
}

/// Opens `path` for reading if it is a regular file of at most `max_bytes` (without
/// blocking on a FIFO); the descriptor is switched back to blocking reads.
pub fn open_regular(path: &Path, max_bytes: u64, what: &str) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| input(format!("{}: cannot read {what}: {e}", path.display())))?;
    let m = file.metadata().map_err(|e| input(format!("{}: cannot read {what}: {e}", path.display())))?;
    if !m.file_type().is_file() {
        return Err(input(format!(
            "{}: {what}: expected a regular file, got {}",
            path.display(),
            kind(&m.file_type())
        )));
    }
    if m.len() > max_bytes {
        return Err(too_large(path, what, max_bytes));
    }
    // SAFETY: fcntl on a descriptor we own; clearing O_NONBLOCK (a regular file's
    // reads never block anyway; this keeps the flag from surprising a later reader).
    unsafe {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

fn too_large(path: &Path, what: &str, max_bytes: u64) -> anyhow::Error {
    input(format!(
        "{}: {what}: larger than the {} this reader accepts (a file this size is not one the harness wrote)",
        path.display(),
        crate::units::fmt_bytes(max_bytes as f64)
    ))
}

/// "a symbolic link", "a directory", "a FIFO", …
fn kind(t: &fs::FileType) -> &'static str {
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_file() {
        "a regular file"
    } else {
        "an unknown kind of file"
    }
}

/// `.<name>.<pid>-<n>-<nanos>.tmp` beside `path`: hidden, and new each time.
fn temp_name(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}-{n}-{nanos:x}.tmp", std::process::id()));
    path.with_file_name(name)
}

fn create_temp(path: &Path) -> Result<(PathBuf, File)> {
    let mut last = None;
    for _ in 0..TEMP_TRIES {
        let tmp = temp_name(path);
        match create_new(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(anyhow::Error::from(e).context(format!("writing {}", path.display()))),
        }
    }
    Err(anyhow::Error::from(last.expect("tried"))
        .context(format!("writing {}: no fresh temporary name", path.display())))
}

fn create_temp_dir(path: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    for _ in 0..TEMP_TRIES {
        let dir = temp_name(path);
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(anyhow::Error::from(e).context(format!("writing {}", path.display()))),
        }
    }
    Err(anyhow::anyhow!("writing {}: no fresh temporary name", path.display()))
}

/// Renames `tmp` over `path` after the content was written (checking the target once
/// more: it may have changed while the content was produced); removes `tmp` on failure.
fn finish(path: &Path, tmp: &Path, written: std::io::Result<()>) -> Result<()> {
    let result = written
        .map_err(anyhow::Error::from)
        .and_then(|()| check_target(path))
        .and_then(|()| fs::rename(tmp, path).map_err(anyhow::Error::from));
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result.map_err(|e| {
        if e.is::<crate::error::InputError>() {
            e
        } else {
            e.context(format!("writing {}", path.display()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_write_replaces_a_regular_file_and_leaves_no_temporary() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a.json");
        write_atomic(&p, b"1").unwrap();
        write_atomic(&p, b"2").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"2");
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_symlinked_target_is_refused_and_its_target_untouched() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("victim"), b"keep").unwrap();
        symlink(t.path().join("victim"), t.path().join("a.json")).unwrap();
        let e = write_atomic(&t.path().join("a.json"), b"x").unwrap_err();
        assert!(e.to_string().contains("a symbolic link"), "{e}");
        assert_eq!(fs::read(t.path().join("victim")).unwrap(), b"keep");
        assert!(t.path().join("a.json").is_symlink());
    }

    #[test]
    fn a_fifo_or_directory_target_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let fifo = t.path().join("f");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo with a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(write_atomic(&fifo, b"x").unwrap_err().to_string().contains("a FIFO"));
        fs::create_dir(t.path().join("d")).unwrap();
        assert!(write_atomic(&t.path().join("d"), b"x").unwrap_err().to_string().contains("a directory"));
    }

    #[test]
    fn a_symlinked_directory_is_not_written_into() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("elsewhere")).unwrap();
        symlink(t.path().join("elsewhere"), t.path().join("charts")).unwrap();
        assert!(real_dir(&t.path().join("charts")).unwrap_err().to_string().contains("a symbolic link"));
        real_dir(&t.path().join("new")).unwrap();
        real_dir(&t.path().join("new")).unwrap();
    }

    #[test]
    fn reads_are_bounded_and_refuse_what_is_not_a_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x");
        fs::write(&p, b"12345").unwrap();
        assert_eq!(read_bounded(&p, 5, "x").unwrap(), "12345");
        assert!(read_bounded(&p, 4, "x").unwrap_err().to_string().contains("larger than"));
        let e = read_bounded(Path::new("/dev/zero"), 1 << 20, "thresholds").unwrap_err().to_string();
        assert!(e.contains("a character device"), "{e}");
        let e = read_bounded(t.path(), 1 << 20, "x").unwrap_err().to_string();
        assert!(e.contains("a directory") || e.contains("Is a directory"), "{e}");
        // /proc files report no size: the bound still holds.
        let e = read_bounded(Path::new("/proc/self/maps"), 16, "x").unwrap_err().to_string();
        assert!(e.contains("larger than"), "{e}");
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let t = tempfile::tempdir().unwrap();
        let fifo = t.path().join("f");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo with a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(read_bounded(&fifo, 10, "x").unwrap_err().to_string().contains("a FIFO"));
    }
}

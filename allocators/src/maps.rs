//! Process memory maps (`/proc/<pid>/maps`): reading the executable mappings, and
//! moving an address from one process's layout to another's. A heap profile records
//! return addresses of the process that took it; `jemalloc_prof` symbolizes them in
//! another process of the same binary, mapped elsewhere by ASLR.

/// One executable mapping of a `/proc/<pid>/maps` listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapLine {
    start: u64,
    end: u64,
    offset: u64,
    path: String,
}

/// The executable, file-backed mappings of a maps listing (other lines are skipped).
pub fn parse(text: &str) -> Vec<MapLine> {
    let line_of = |line: &str| -> Option<MapLine> {
        let mut f = line.split_ascii_whitespace();
        let (range, perms, offset) = (f.next()?, f.next()?, f.next()?);
        let path = f.nth(2)?;
        if !perms.contains('x') || !path.starts_with('/') {
            return None;
        }
        let (start, end) = range.split_once('-')?;
        let hex = |s: &str| u64::from_str_radix(s, 16).ok();
        Some(MapLine { start: hex(start)?, end: hex(end)?, offset: hex(offset)?, path: path.to_owned() })
    };
    text.lines().filter_map(line_of).collect()
}

/// `addr` in the layout `from`, moved to the same file offset in the layout `to`.
pub fn relocate(addr: u64, from: &[MapLine], to: &[MapLine]) -> Option<u64> {
    let m = from.iter().find(|m| m.start <= addr && addr < m.end)?;
    // Checked: a damaged listing (end before start, huge offsets) yields None, not a wrap.
    let file_offset = (addr - m.start).checked_add(m.offset)?;
    let covers = |t: &&MapLine| {
        t.path == m.path
            && t.offset <= file_offset
            && t.end.checked_sub(t.start).and_then(|len| t.offset.checked_add(len)).is_some_and(|e| file_offset < e)
    };
    let t = to.iter().find(covers)?;
    t.start.checked_add(file_offset - t.offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_move_to_the_same_file_offset_in_the_other_layout() {
        let theirs = parse(
            "55d0a000-55d0b000 r--p 00000000 fd:00 12 /bin/node\n\
             55d0b000-55d0f000 r-xp 00001000 fd:00 12 /bin/node\n\
             7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n\
             7f1000000000-7f1000100000 r-xp 00028000 fd:00 99 /lib/libc.so.6\n",
        );
        let ours = parse(
            "5600b000-5600f000 r-xp 00001000 fd:00 12 /bin/node\n\
             7f2000000000-7f2000100000 r-xp 00028000 fd:00 99 /lib/libc.so.6\n",
        );
        assert_eq!(theirs.len(), 2, "only executable, file-backed mappings");
        assert_eq!(relocate(0x55d0b010, &theirs, &ours), Some(0x5600b010));
        assert_eq!(relocate(0x7f1000000042, &theirs, &ours), Some(0x7f2000000042));
        assert_eq!(relocate(0x1234, &theirs, &ours), None);
    }
}

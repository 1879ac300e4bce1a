//! Reading lines with a bound on their length: a writer that never sends a newline
//! cannot grow the reader.

use std::io::BufRead;

/// Reads one line (without its newline) into `line`, keeping at most `max` bytes and
/// discarding the rest of it. `Ok(false)` at end of input.
pub fn read_bounded_line(r: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> std::io::Result<bool> {
    line.clear();
    let mut seen_any = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(seen_any);
        }
        seen_any = true;
        let (chunk, newline) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i)),
            None => (buf, None),
        };
        let room = max.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = newline.map_or(buf.len(), |i| i + 1);
        r.consume(used);
        if newline.is_some() {
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::BufReader;

    use super::read_bounded_line;

    #[test]
    fn a_line_without_newline_is_bounded_not_buffered_whole() {
        let mut input = vec![b'x'; 300_000];
        input.extend_from_slice(b"\nnext\n");
        let mut r = BufReader::with_capacity(4096, &input[..]);
        let mut line = Vec::new();
        assert!(read_bounded_line(&mut r, &mut line, 1000).unwrap());
        assert_eq!(line.len(), 1000);
        assert!(line.capacity() < 300_000, "never held the whole line");
        assert!(read_bounded_line(&mut r, &mut line, 1000).unwrap());
        assert_eq!(line, b"next");
        assert!(!read_bounded_line(&mut r, &mut line, 1000).unwrap());
    }
}

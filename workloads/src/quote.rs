//! Quoting input back in messages: at most one short line of it, never a whole file
//! (used by the workload loaders here and by every reader of the harness).
//!
//! An error about a bad input file says where (file, line:column, field) and what was
//! expected; what was found is quoted only as far as it helps. A file that is not what
//! it claims to be (a 10 MB header, `/proc/self/environ` given as a trace) must not be
//! echoed into a terminal, a CI log or a bug report.

/// Longest quotation of input, in characters.
pub const QUOTE_MAX_CHARS: usize = 60;

/// `s` cut to its first line and to [`QUOTE_MAX_CHARS`] characters, control characters
/// shown as `?`, with `…` where something was left out.
pub fn quote_line(s: &str) -> String {
    let first = s.split(['\n', '\r', '\0']).next().unwrap_or_default();
    let mut out: String = first.chars().take(QUOTE_MAX_CHARS).map(|c| if c.is_control() { '?' } else { c }).collect();
    if first.chars().count() > QUOTE_MAX_CHARS || first.len() < s.len() {
        out.push('…');
    }
    out
}

/// `s` if it is a short token a typo could produce (letters, digits, `._+-:%`, at most
/// 24 characters), else a description of its size: for values read from files that
/// may not be what they claim (a trace path pointing at a secret), nothing that is not
/// plainly a typo is repeated.
pub fn quote_token(s: &str) -> String {
    let plain = s.len() <= 24 && s.chars().all(|c| c.is_ascii_alphanumeric() || "._+-:%".contains(c));
    if plain {
        format!("`{s}`")
    } else {
        format!("a value of {} bytes", s.len())
    }
}

/// Longest line of a message printed whole (an error that quotes a file's value is
/// cut here, whatever the quoting upstream did).
pub const PRINTED_LINE_CHARS: usize = 400;
/// Most lines of a message printed.
pub const PRINTED_LINES: usize = 40;

/// A message made safe to print: control characters (other than newlines) shown as
/// `?` — no escape sequence reaches the terminal — each line cut at
/// [`PRINTED_LINE_CHARS`] and the whole at [`PRINTED_LINES`] lines, each cut marked `…`.
pub fn printable(message: &str) -> String {
    let mut out: Vec<String> = message
        .split('\n')
        .take(PRINTED_LINES)
        .map(|line| {
            let mut l: String =
                line.chars().take(PRINTED_LINE_CHARS).map(|c| if c.is_control() { '?' } else { c }).collect();
            if line.chars().count() > PRINTED_LINE_CHARS {
                l.push('…');
            }
            l
        })
        .collect();
    if message.split('\n').count() > PRINTED_LINES {
        out.push("…".into());
    }
    out.join("\n")
}

/// `s` as the text of a Markdown table cell or heading: no `|`, line break, HTML tag or
/// control character of the input can change the table around it (cell names and
/// hosts come from files a merged report reads).
pub fn markdown_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\''),
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quotation_is_one_short_line() {
        assert_eq!(quote_line("abc"), "abc");
        assert_eq!(quote_line("abc\ndef"), "abc…");
        assert_eq!(quote_line("a\u{1b}[2Jb"), "a?[2Jb");
        let long = "x".repeat(10_000);
        assert_eq!(quote_line(&long).chars().count(), QUOTE_MAX_CHARS + 1);
        assert_eq!(quote_line("PATH=/usr/bin\0HOME=/root"), "PATH=/usr/bin…");
    }

    /// Regression (hostile round 3): errors repeated 100 KB values and escape codes
    /// that cleared the screen.
    #[test]
    fn a_printed_message_has_no_escapes_and_bounded_lines() {
        let m = format!("x\u{1b}[2J{}\nsecond", "A".repeat(100_000));
        let p = printable(&m);
        assert!(!p.contains('\u{1b}') && p.len() < 2 * PRINTED_LINE_CHARS && p.ends_with("second"), "{}", p.len());
        let many = "l\n".repeat(1000);
        assert_eq!(printable(&many).lines().count(), PRINTED_LINES + 1);
    }

    #[test]
    fn markdown_text_cannot_break_a_table() {
        assert_eq!(markdown_text("h|x\n<script>`"), "h\\|x &lt;script&gt;'");
    }

    #[test]
    fn only_plain_tokens_are_repeated() {
        assert_eq!(quote_token("12x"), "`12x`");
        assert_eq!(quote_token("root:$y$j9T$abc:19000"), "a value of 21 bytes");
        assert_eq!(quote_token(&"9".repeat(30)), "a value of 30 bytes");
    }
}

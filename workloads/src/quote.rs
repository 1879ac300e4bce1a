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

    #[test]
    fn only_plain_tokens_are_repeated() {
        assert_eq!(quote_token("12x"), "`12x`");
        assert_eq!(quote_token("root:$y$j9T$abc:19000"), "a value of 21 bytes");
        assert_eq!(quote_token(&"9".repeat(30)), "a value of 30 bytes");
    }
}

//! A step of a command other than ingesting (building a node, the ceiling probes, the
//! read-back, writing files and charts) shown while it runs, and whether standard error
//! may show progress that redraws itself.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Whether stderr takes a progress bar: a terminal that understands cursor movement
/// (`TERM=dumb`, or no `TERM`, gets plain status lines instead of escape codes).
pub fn interactive() -> bool {
    animates(std::io::stderr().is_terminal(), std::env::var("TERM").ok().as_deref())
}

/// Whether progress may redraw itself with cursor escapes: only on a terminal whose
/// `TERM` names one that can (unset, empty or `dumb` cannot: Emacs shells, CI logs).
fn animates(stderr_is_terminal: bool, term: Option<&str>) -> bool {
    let dumb = term.is_none_or(|t| t.is_empty() || t == "dumb");
    stderr_is_terminal && !dumb
}

/// One step of a run other than ingesting (the build, the ceiling probes, the
/// read-back, writing files and charts): a spinner with the elapsed time on a terminal,
/// one line when it starts and one when it ends otherwise, so no phase looks frozen.
pub struct Phase {
    what: String,
    started: Instant,
    spinner: Option<ProgressBar>,
}

impl Phase {
    pub fn start(what: impl Into<String>) -> Phase {
        let what = what.into();
        let spinner = interactive().then(|| {
            let s = ProgressBar::new_spinner();
            let style = ProgressStyle::with_template("syncbench: {spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            s.set_style(style);
            s.set_message(what.clone());
            s.enable_steady_tick(Duration::from_millis(120));
            s
        });
        if spinner.is_none() {
            crate::note!("syncbench: {what} …");
        }
        Phase { what, started: Instant::now(), spinner }
    }

    /// Ends the phase with a one-line result (`what: result (took N s)`).
    pub fn done(self, result: &str) {
        let line = format!("syncbench: {}: {result} ({:.1} s)", self.what, self.started.elapsed().as_secs_f64());
        match self.spinner {
            Some(s) => {
                s.finish_and_clear();
                crate::note!("{line}");
            }
            None => crate::note!("{line}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::animates;

    /// `TERM=dumb` still got the progress bar's cursor escapes (hostile round 2).
    #[test]
    fn a_dumb_terminal_gets_plain_lines_not_cursor_escapes() {
        assert!(!animates(true, Some("dumb")));
        assert!(!animates(true, Some("")));
        assert!(!animates(true, None));
        assert!(!animates(false, Some("xterm-256color")), "not a terminal: a pipe or a file");
        assert!(animates(true, Some("xterm-256color")));
    }
}

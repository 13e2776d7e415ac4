//! A progress bar for long operations: on stderr, only when stderr is a terminal and the payload
//! is large; otherwise nothing at all.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// Payloads smaller than this finish too fast to need a bar.
pub const THRESHOLD: u64 = 16 << 20;

/// Counts bytes and shows a bar once the operation is known (or turns out) to be large.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: Option<u64>,
    done: u64,
    enabled: bool,
    message: &'static str,
}

impl Progress {
    /// A counter for `total` bytes (`None` when unknown, as for stdin).
    pub fn bytes(total: Option<u64>, message: &'static str) -> Progress {
        let enabled = std::io::stderr().is_terminal();
        let mut p = Progress {
            bar: None,
            total,
            done: 0,
            enabled,
            message,
        };
        if total.is_some_and(|t| t >= THRESHOLD) {
            p.show();
        }
        p
    }

    /// A counter that never shows anything.
    pub fn hidden() -> Progress {
        Progress {
            bar: None,
            total: None,
            done: 0,
            enabled: false,
            message: "",
        }
    }

    fn show(&mut self) {
        if !self.enabled || self.bar.is_some() {
            return;
        }
        let bar = match self.total {
            Some(t) => ProgressBar::new(t).with_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg} {bytes} {bytes_per_sec}")
                    .expect("a valid template"),
            ),
        };
        bar.set_message(self.message);
        bar.set_position(self.done);
        self.bar = Some(bar);
    }

    /// `n` more bytes are done.
    pub fn inc(&mut self, n: u64) {
        self.done += n;
        if self.bar.is_none() && self.done >= THRESHOLD {
            self.show();
        }
        if let Some(b) = &self.bar {
            b.set_position(self.done);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

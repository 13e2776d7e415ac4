//! `mmf retrieve NAME`: the latest value, byte-exact, on stdout.

use super::Ctx;
use crate::cli::{RetrieveArgs, WaitArgs};
use crate::exit::{CliError, object};
use crate::progress::Progress;
use mmf::{Access, Mapping};
use std::io::Write;
use std::time::{Duration, Instant};

/// Bytes read from a plain object per step while looking for its NUL.
const CHUNK: usize = 1 << 20;

pub fn run(ctx: &Ctx, a: RetrieveArgs) -> anyhow::Result<()> {
    let waiter = Waiter::new(&a.name, a.wait);
    let mut out = std::io::stdout().lock();
    if a.raw {
        let m = waiter.retry(|| {
            ctx.open_options()
                .access(Access::ReadOnly)
                .open(a.name.as_str())
        })?;
        write_plain(&m, &mut out)
    } else {
        super::values::retrieve_to(ctx, &a.name, &waiter, &mut out)
    }
}

/// The bytes of a plain object up to its first NUL (all of it when it has none), as the seed
/// reads them, written to `out` a piece at a time, with a progress bar when it is large.
pub fn write_plain(m: &Mapping, out: &mut dyn Write) -> anyhow::Result<()> {
    let view = m.map()?;
    let len = view.len();
    let mut buf = vec![0u8; CHUNK.min(len)];
    let mut progress = Progress::bytes(Some(len as u64), "retrieving");
    let mut pos = 0;
    while pos < len {
        let n = CHUNK.min(len - pos);
        view.read_at(pos, &mut buf[..n])?;
        let (piece, last) = match buf[..n].iter().position(|&b| b == 0) {
            Some(nul) => (&buf[..nul], true),
            None => (&buf[..n], false),
        };
        out.write_all(piece)?;
        progress.inc(n as u64);
        if last {
            break;
        }
        pos += n;
    }
    out.flush()?;
    Ok(())
}

/// `--wait [--timeout SECS]`: retries while the object does not exist.
pub struct Waiter {
    name: String,
    wait: bool,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
}

/// How often a missing object is looked for again.
const POLL: Duration = Duration::from_millis(20);

impl Waiter {
    /// Starts the clock.
    pub fn new(name: &str, w: WaitArgs) -> Waiter {
        Waiter {
            name: name.to_owned(),
            wait: w.wait,
            timeout: w.timeout,
            // A timeout too large for the clock (`--timeout 1e19`) means no deadline, not a panic.
            deadline: w.timeout.and_then(|t| Instant::now().checked_add(t)),
        }
    }

    /// The time left before the deadline (`None`: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The error for a deadline that passed.
    pub fn timed_out(&self, what: &str) -> anyhow::Error {
        let secs = self.timeout.unwrap_or_default().as_secs_f64();
        CliError::Timeout {
            what: object(&self.name),
            detail: format!("waited {secs}s for it to {what} (wait longer with --timeout)"),
        }
        .into()
    }

    /// Calls `open` until it finds the object (once, without `--wait`).
    pub fn retry<T, E: Into<anyhow::Error>>(
        &self,
        mut open: impl FnMut() -> Result<T, E>,
    ) -> anyhow::Result<T> {
        loop {
            let err = match open() {
                Ok(t) => return Ok(t),
                Err(e) => e.into(),
            };
            if !self.wait || !crate::exit::is_not_found(&err) {
                return Err(err);
            }
            match self.remaining() {
                Some(left) if left.is_zero() => {
                    return Err(self.timed_out("exist and hold a value"));
                }
                Some(left) => std::thread::sleep(POLL.min(left)),
                None => std::thread::sleep(POLL),
            }
        }
    }

    /// Whether `--wait` was given.
    pub fn waits(&self) -> bool {
        self.wait
    }
}

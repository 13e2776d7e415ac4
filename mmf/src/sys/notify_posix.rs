//! Blocking notification and process liveness for the POSIX backend (macOS, iOS, the BSDs); see
//! the contract in `sys/mod.rs`.
//!
//! Waiting **polls** the 32-bit word with a sleep that doubles from 50 µs up to 5 ms: portable to
//! every system here, never a busy loop, but a waiter notices a change up to 5 ms late and wakes
//! up to 200 times a second while it waits. `wake_all` does nothing (waiters look for themselves).
//! Kernel primitives that key on shared memory exist (macOS `os_sync_wait_on_address` with
//! `OS_SYNC_WAIT_ON_ADDRESS_SHARED`, FreeBSD `_umtx_op(UMTX_OP_WAIT_UINT)`) and would replace the
//! polling, but they could not be run where this backend was written.
//!
//! A process token is the pid with a start time of 1, "unknown" (the high half is never 0, as on
//! Linux): the start time would need `proc_pidinfo` (macOS) or `kern.proc.pid` (FreeBSD). So
//! liveness is `kill(pid, 0)` only: a pid reused by a new process is taken for the old one, and a
//! zombie counts as alive until its parent reaps it. Whether a process is stopped cannot be told.

use crate::sys::Result;
use crate::Name;
use rustix::io::Errno;
use rustix::process::Pid;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The first and the longest sleep between two looks at the word.
const FIRST_SLEEP: Duration = Duration::from_micros(50);
const MAX_SLEEP: Duration = Duration::from_millis(5);

/// Waits for a 32-bit word in shared memory to change, by polling it.
pub(crate) struct Notifier(());

impl Notifier {
    /// A notifier for the object named `key` (unused: polling needs no key).
    pub(crate) fn new(_key: Option<&Name>, _global: bool) -> Result<Notifier> {
        Ok(Notifier(()))
    }

    /// Sleeps while `*word == expected`, at most `timeout`, looking at the word between sleeps of
    /// growing length. `Ok(false)` on timeout; `Ok(true)` once the word differs.
    pub(crate) fn wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut sleep = FIRST_SLEEP;
        loop {
            if word.load(Ordering::Acquire) != expected {
                return Ok(true);
            }
            let mut nap = sleep;
            if let Some(d) = deadline {
                let now = Instant::now();
                if now >= d {
                    return Ok(false);
                }
                nap = nap.min(d - now);
            }
            std::thread::sleep(nap);
            sleep = (sleep * 2).min(MAX_SLEEP);
        }
    }

    /// Nothing to do: waiters poll.
    pub(crate) fn wake_all(&self, _word: &AtomicU32) {}
}

/// This process's token: pid | 1 << 32 (the start time is not known; see the module
/// documentation). Computed on each call, so a forked child has its own.
pub(crate) fn process_token() -> u64 {
    let pid = rustix::process::getpid().as_raw_nonzero().get() as u32;
    (1u64 << 32) | pid as u64
}

/// Whether the process a token names is alive: `kill(pid, 0)`. `Some(false)` only when no
/// process has that pid.
pub(crate) fn process_alive(token: u64) -> Option<bool> {
    let (raw, start) = (token as u32, (token >> 32) as u32);
    let pid = match i32::try_from(raw).ok().and_then(Pid::from_raw) {
        Some(p) if start != 0 => p,
        _ => return Some(false), // no process has this token
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => Some(true),
        Err(e) if e == Errno::SRCH => Some(false),
        Err(e) if e == Errno::PERM => Some(true), // exists, another user's
        Err(_) => None,
    }
}

/// Whether a process is stopped cannot be told here.
pub(crate) fn process_stopped(_token: u64) -> Option<bool> {
    None
}

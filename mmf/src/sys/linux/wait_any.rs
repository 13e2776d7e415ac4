//! Waiting on many shared words at once in one system call, for the async waiter threads
//! (`value/wait_async.rs`): `futex_waitv` (Linux 5.16 and later).
//!
//! - `wait_any_supported() -> bool`: whether `wait_any` works here (probed once: an older kernel
//!   answers `ENOSYS`, a seccomp filter perhaps `EPERM`); where it does not, the async waits use
//!   one thread per waiting future instead (see `value/wait_async.rs`).
//! - `wait_any(interrupt, seen, words, timeout)`: sleeps until the process-private word
//!   `interrupt` differs from `seen`, or one of the shared `words` differs from its expected
//!   value, or `timeout` passes. Returns at once if a word differs already; spurious returns are
//!   allowed (callers look at the words again). At most `wait_any_max()` (127) shared words.
//! - `wake_interrupt(word)`: wakes the thread sleeping in `wait_any` on the private `word`.
//!
//! The shared words are waited on *without* `FUTEX_PRIVATE_FLAG`, like `Notifier::wait`: they are
//! keyed on the page in the object, so a plain `FUTEX_WAKE` from another process wakes them.
//!
//! # Safety
//!
//! `futex_waitv` is called with an array of `struct futex_waitv` that lives across the call; the
//! kernel only reads the words it points to (and reports `EFAULT` for one that is gone).
#![allow(unsafe_code)]
// Under loom the async waits (its only user) are not built.
#![cfg_attr(loom, allow(dead_code))]

use rustix::thread::futex;
use std::io;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::time::Duration;

/// The most shared words one `wait_any` call watches: the kernel's limit (128) less the interrupt.
const WAIT_ANY_MAX: usize = 127;

/// `WAIT_ANY_MAX`, as the other platforms' stub also offers it (0 there).
pub(crate) fn wait_any_max() -> usize {
    WAIT_ANY_MAX
}

/// `FUTEX_32` (a 32-bit word) and `FUTEX_PRIVATE_FLAG`, from `linux/futex.h`.
const FUTEX_32: u32 = 2;
const FUTEX_PRIVATE_FLAG: u32 = 128;

/// `struct futex_waitv` from `linux/futex.h`.
#[repr(C)]
struct FutexWaitv {
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
}

fn waitv(w: &[FutexWaitv], deadline: Option<&libc::timespec>) -> io::Result<()> {
    let ts = deadline.map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `w` is a valid array of `w.len()` entries (at most 128, checked by the kernel),
    // `ts` is null or a valid timespec; both outlive the call. The kernel only reads them and
    // the words they point to.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex_waitv,
            w.as_ptr(),
            w.len() as u32,
            0u32,
            ts,
            libc::CLOCK_MONOTONIC,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Whether `futex_waitv` works here: probed once with an empty array, which a kernel that has
/// the call refuses with `EINVAL`.
pub(crate) fn wait_any_supported() -> bool {
    // 0: not probed, 1: yes, 2: no.
    static PROBED: AtomicU8 = AtomicU8::new(0);
    match PROBED.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let ok = matches!(waitv(&[], None), Err(e) if e.raw_os_error() == Some(libc::EINVAL))
                && std::env::var_os("MMF_NO_FUTEX_WAITV").is_none();
            PROBED.store(if ok { 1 } else { 2 }, Ordering::Relaxed);
            ok
        }
    }
}

/// Sleeps until `interrupt != seen`, a shared word differs from its expected value, or `timeout`
/// passes (see the module documentation). Errors other than "a word differs" (`EAGAIN`),
/// timeout and interruption are returned (`EFAULT`: a word's page is gone).
pub(crate) fn wait_any(
    interrupt: &AtomicU32,
    seen: u32,
    words: &[(&AtomicU32, u32)],
    timeout: Option<Duration>,
) -> io::Result<()> {
    let mut w = Vec::with_capacity(words.len().min(WAIT_ANY_MAX) + 1);
    w.push(FutexWaitv {
        val: seen as u64,
        uaddr: interrupt as *const AtomicU32 as usize as u64,
        flags: FUTEX_32 | FUTEX_PRIVATE_FLAG,
        reserved: 0,
    });
    for (word, expected) in words.iter().take(WAIT_ANY_MAX) {
        w.push(FutexWaitv {
            val: *expected as u64,
            uaddr: *word as *const AtomicU32 as usize as u64,
            flags: FUTEX_32,
            reserved: 0,
        });
    }
    // The deadline is absolute, on the monotonic clock.
    let deadline = timeout.map(|d| {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let nanos = now.tv_nsec as u64 + d.subsec_nanos() as u64;
        libc::timespec {
            tv_sec: (now.tv_sec as u64)
                .saturating_add(d.as_secs())
                .saturating_add(nanos / 1_000_000_000)
                .min(i64::MAX as u64 / 2) as _,
            tv_nsec: (nanos % 1_000_000_000) as _,
        }
    });
    match waitv(&w, deadline.as_ref()) {
        Err(e)
            if !matches!(
                e.raw_os_error(),
                Some(libc::EAGAIN) | Some(libc::ETIMEDOUT) | Some(libc::EINTR)
            ) =>
        {
            Err(e)
        }
        _ => Ok(()),
    }
}

/// Wakes the thread sleeping in `wait_any` on the process-private `word`.
pub(crate) fn wake_interrupt(word: &AtomicU32) {
    let _ = futex::wake(word, futex::Flags::PRIVATE, 1);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn wait_any_returns_when_a_word_differs_or_is_changed() {
        if !wait_any_supported() {
            println!("SKIPPED: futex_waitv is not available on this kernel");
            return;
        }
        let int = AtomicU32::new(0);
        let a = AtomicU32::new(5);
        // Differs already: returns at once.
        wait_any(&int, 0, &[(&a, 4)], None).unwrap();
        // Nothing differs: times out.
        wait_any(&int, 0, &[(&a, 5)], Some(Duration::from_millis(10))).unwrap();
        // Woken through the interrupt by another thread.
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                int.store(1, Ordering::SeqCst);
                wake_interrupt(&int);
            });
            while int.load(Ordering::SeqCst) == 0 {
                wait_any(&int, 0, &[(&a, 5)], None).unwrap();
            }
        });
    }
}

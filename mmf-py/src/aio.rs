//! `await SharedValue.changed(seen)` on Linux: a pollable descriptor for the asyncio loop.
//!
//! The library's async wait (`mmf::SharedValue::wait_newer_async`) is woken by its per-process
//! waiter threads (`futex_waitv`, up to 127 waits each; a thread per wait on kernels before
//! 5.16). Here its `Waker` writes to an eventfd, which `mmfpy/_aio.py` watches with
//! `loop.add_reader`; the loop's callback polls the future again ([`Waiter::poll`]). No thread of
//! mmfpy's own, no `call_soon_threadsafe`: the loop wakes from its own `epoll_wait`.
//!
//! # Safety
//! The only `unsafe` is the `eventfd` call, whose result becomes an `OwnedFd` at once. The
//! descriptor is closed only after `close()` (which `_aio.py` calls after `loop.remove_reader`),
//! and then with the last `Waker` clone (the library's waiter thread may hold one for a moment
//! after the wait is cancelled): so neither a wake-up nor the loop's selector ever uses a number
//! that was closed and reused. (A wait that ends does not close it: the loop still watches it
//! until the awaiting task runs again.)
#![allow(unsafe_code)]

use crate::errors::{ResultExt, fail};
use crate::value::SharedValue;
use mmf::ErrorKind;
use pyo3::prelude::*;
use std::fs::File;
use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// The eventfd a wait's `Waker` writes to.
struct Signal(File);

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Adds 1 to the counter. It cannot fail short of 2^64 - 1 unread wake-ups (then it
        // would block: the descriptor is non-blocking, so it fails, and the loop is awake
        // anyway).
        let _ = (&self.0).write(&1u64.to_ne_bytes());
    }
}

/// One pending `changed()`: the library's future and the eventfd its waker writes to. Made by
/// `_wait_fd(value, seen)`; `fileno()` for `loop.add_reader`, `poll()` from the reader callback,
/// `close()` (after `remove_reader`) when the await ends, however it ends.
#[pyclass(module = "mmfpy", frozen, name = "_Waiter")]
pub struct Waiter {
    fd: RawFd,
    /// The pending wait; `None` once it ended or was closed.
    state: Mutex<Option<(mmf::WaitNewer, Waker)>>,
    /// The eventfd, kept until `close()` (see the module documentation).
    signal: Mutex<Option<Arc<Signal>>>,
}

/// A wait for a version of `value` newer than `seen`, with its eventfd.
#[pyfunction]
pub fn _wait_fd(py: Python<'_>, value: &SharedValue, seen: i128) -> PyResult<Waiter> {
    let op = "wait for a new version of";
    let (v, seen) = value.for_wait(py, op, seen)?;
    // SAFETY: eventfd takes no pointers; a non-negative result is a new descriptor that nothing
    // else owns.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return Err(fail(
            py,
            ErrorKind::Other,
            op,
            value.what(),
            &format!("no eventfd for the event loop to watch: {e}"),
        ));
    }
    // SAFETY: `fd` is a new descriptor, owned here alone (see above).
    let signal = Arc::new(Signal(File::from(unsafe { OwnedFd::from_raw_fd(fd) })));
    let waker = Waker::from(signal.clone());
    Ok(Waiter {
        fd: signal.0.as_raw_fd(),
        state: Mutex::new(Some((v.wait_newer_async(seen), waker))),
        signal: Mutex::new(Some(signal)),
    })
}

#[pymethods]
impl Waiter {
    /// The eventfd, for `loop.add_reader`: readable once the wait may be over.
    fn fileno(&self) -> RawFd {
        self.fd
    }

    /// The version, once one newer than `seen` was stored; `None` while there is none (the
    /// first call registers the wait). Raises the library's error (a truncated object, say) and
    /// `ValueError` after `close()`.
    fn poll(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let signal = self
            .signal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let ((future, waker), signal) = match (state.as_mut(), signal) {
            (Some(s), Some(signal)) => (s, signal),
            _ => {
                return Err(fail(
                    py,
                    ErrorKind::InvalidInput,
                    "wait for a new version of",
                    "a shared value",
                    "the wait was closed",
                ));
            }
        };
        // Drained before the poll: a wake-up after this read leaves the descriptor readable, so
        // the loop calls again.
        let mut count = [0u8; 8];
        let _ = (&signal.0).read(&mut count);
        match Pin::new(future).poll(&mut Context::from_waker(waker)) {
            Poll::Pending => Ok(None),
            Poll::Ready(r) => {
                // The future and its waker go; the eventfd stays until `close()`.
                *state = None;
                r.map(Some).py_err(py)
            }
        }
    }

    /// Ends the wait: its registration is removed at once; the eventfd is closed with the last
    /// waker (at once, or when a waiter thread that was waking it lets go). Call it after
    /// `loop.remove_reader`. Closing twice does nothing.
    fn close(&self) {
        let taken = self.state.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(taken);
        let signal = self.signal.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(signal);
    }
}

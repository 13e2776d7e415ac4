//! `SharedValue`: a named value replaced whole by `store`, read whole by `retrieve`, with
//! waits for newer versions that sleep in the kernel.
//!
//! # Safety
//! Stores and retrieves hand the library the address of a buffer export ([`Bytes`]) or of a
//! new `bytes` object, with the length the export reports; the export lives until the copy
//! returns.
#![allow(unsafe_code)]

use crate::args::{self, Addr, Bytes};
use crate::errors::{ResultExt, fail};
use mmf::{Access, Disposition, ErrorKind, ValueOptions};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyTuple};
use std::mem::MaybeUninit;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long one kernel wait lasts before `wait_newer` checks for signals (Ctrl-C) and waits
/// again. Stores wake the waiter at once whatever the slice.
const WAIT_SLICE: Duration = Duration::from_millis(200);

/// The longest `wait_newer` polls the version (without the GIL) before it sleeps in the kernel,
/// unless told otherwise: long enough for another Python process that has a CPU to answer a
/// store (a few microseconds), short next to what a sleep and wake-up cost.
const SPIN_MAX: Duration = Duration::from_micros(50);
/// The least it polls: the budget halves after each wait that had to sleep long, down to this.
const SPIN_MIN: Duration = Duration::from_micros(5);

/// Copies of at least this many bytes release the GIL while they run; shorter ones cost less
/// than releasing and taking it back.
const DETACH_COPY: usize = 64 << 10;

/// Values up to this long are retrieved through a buffer on the stack: one pass over the
/// value's slot (a pin and an unpin, which writers in other processes also touch), then a new
/// `bytes` object from it. Longer ones are copied straight into the new object, which takes
/// a look at the length first.
const SMALL: usize = 4096;

/// A named value that processes store and retrieve whole, never torn: `store(data)`,
/// `retrieve()`, `retrieve_into(buffer)`, `version`, `wait_newer(seen, timeout)` (sleeps in the
/// kernel without the GIL) and `await changed(seen)` for asyncio. The type stub (`_mmfpy.pyi`)
/// documents every method.
#[pyclass(module = "mmfpy", frozen)]
pub struct SharedValue {
    /// The handle; `None` after `close()`.
    handle: Mutex<Option<mmf::SharedValue>>,
    /// How long the next default `wait_newer` polls before sleeping, in nanoseconds (see
    /// [`SPIN_MAX`] and `wait_newer`).
    spin_ns: AtomicU64,
    /// The length of the last value `retrieve` returned: whether to try [`SMALL`]'s way first.
    last_len: AtomicUsize,
    what: String,
    name: String,
    writable: bool,
}

fn options(
    py: Python<'_>,
    op: &str,
    what: &str,
    capacity: Option<i128>,
    slots: Option<i128>,
    lifetime: &str,
    mode: i128,
) -> PyResult<ValueOptions> {
    let mut o = ValueOptions::new();
    if let Some(c) = capacity {
        o.capacity(args::unsigned(py, c, "capacity", op, what)?);
    }
    if let Some(n) = slots {
        // The library checks the range (2 to 64); a count past u32 is out of it anyway.
        let n = args::unsigned(py, n, "slots", op, what)?;
        o.slots(u32::try_from(n).unwrap_or(u32::MAX));
    }
    o.lifetime(args::lifetime(py, lifetime, op, what)?)
        .permissions(args::mode(py, mode, op, what)?);
    Ok(o)
}

impl SharedValue {
    fn wrap(v: mmf::SharedValue, name: String, writable: bool) -> SharedValue {
        SharedValue {
            what: format!("shared value {name:?}"),
            name,
            writable,
            handle: Mutex::new(Some(v)),
            spin_ns: AtomicU64::new(SPIN_MAX.as_nanos() as u64),
            last_len: AtomicUsize::new(0),
        }
    }

    /// The spin budget after a wait that saw the new version `took` after it started, having
    /// polled for `spun`: the whole budget when polling found it or would have (a peer that
    /// answers quickly), half of it (not under [`SPIN_MIN`]) when it came later, so that a
    /// value stored rarely costs almost no polling.
    fn adapt_spin(&self, spun: Duration, took: Option<Duration>) {
        let next = match took {
            Some(t) if t <= SPIN_MAX.max(spun) => SPIN_MAX,
            _ => (spun / 2).max(SPIN_MIN),
        };
        self.spin_ns
            .store(next.as_nanos() as u64, Ordering::Relaxed);
    }

    /// The kernel part of `wait_newer`: sleeps without the GIL in slices of [`WAIT_SLICE`],
    /// checking for signals (Ctrl-C) between them, until a version newer than `seen` or the
    /// end of `limit` (counted from `start`).
    fn sleep_newer(
        &self,
        py: Python<'_>,
        v: &mmf::SharedValue,
        seen: u64,
        limit: Option<Duration>,
        start: Instant,
    ) -> PyResult<u64> {
        loop {
            let left = limit.map(|l| l.saturating_sub(start.elapsed()));
            let slice = left.map_or(WAIT_SLICE, |l| l.min(WAIT_SLICE));
            match py.detach(|| v.wait_newer(seen, Some(slice))) {
                Ok(version) => return Ok(version),
                Err(e) if e.kind() == ErrorKind::Timeout => {
                    py.check_signals()?;
                    if let Some(l) = limit {
                        if start.elapsed() >= l {
                            return Err(fail(
                                py,
                                ErrorKind::Timeout,
                                e.operation(),
                                e.object(),
                                &format!("no version newer than {seen} was stored within {l:?}"),
                            ));
                        }
                    }
                }
                Err(e) => return Err(crate::errors::to_py(py, &e)),
            }
        }
    }

    /// The handle and a checked `seen`, for a wait that is not `wait_newer` (the asyncio one).
    pub(crate) fn for_wait(
        &self,
        py: Python<'_>,
        op: &str,
        seen: i128,
    ) -> PyResult<(mmf::SharedValue, u64)> {
        let seen = args::unsigned(py, seen, "seen", op, &self.what)?;
        Ok((self.value(py, op)?, seen))
    }

    /// The value as messages name it.
    pub(crate) fn what(&self) -> &str {
        &self.what
    }

    /// The handle, for one operation (a clone: the lock is not held while it runs).
    fn value(&self, py: Python<'_>, op: &str) -> PyResult<mmf::SharedValue> {
        let v = self
            .handle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        v.ok_or_else(|| {
            fail(
                py,
                ErrorKind::InvalidInput,
                op,
                &self.what,
                "the handle is closed",
            )
        })
    }
}

/// Runs a copy of `len` bytes: without the GIL when it is long (see [`DETACH_COPY`]).
fn copy<T: Send>(py: Python<'_>, len: usize, f: impl FnOnce() -> T + Send) -> T {
    if len >= DETACH_COPY {
        py.detach(f)
    } else {
        f()
    }
}

#[pymethods]
impl SharedValue {
    #[staticmethod]
    #[pyo3(signature = (name, *, capacity = None, slots = None, lifetime = "handle", mode = 0o600))]
    fn create(
        py: Python<'_>,
        name: String,
        capacity: Option<i128>,
        slots: Option<i128>,
        lifetime: &str,
        mode: i128,
    ) -> PyResult<SharedValue> {
        let o = options(
            py,
            "create",
            &format!("shared value {name:?}"),
            capacity,
            slots,
            lifetime,
            mode,
        )?;
        let v = py.detach(|| o.create(&name)).py_err(py)?;
        Ok(SharedValue::wrap(v, name, true))
    }

    #[staticmethod]
    #[pyo3(signature = (name, *, readonly = false))]
    fn open(py: Python<'_>, name: String, readonly: bool) -> PyResult<SharedValue> {
        let mut o = ValueOptions::new();
        if readonly {
            o.access(Access::ReadOnly);
        }
        let v = py.detach(|| o.open(&name)).py_err(py)?;
        Ok(SharedValue::wrap(v, name, !readonly))
    }

    #[staticmethod]
    #[pyo3(signature = (name, *, capacity = None, slots = None, lifetime = "handle", mode = 0o600))]
    fn open_or_create(
        py: Python<'_>,
        name: String,
        capacity: Option<i128>,
        slots: Option<i128>,
        lifetime: &str,
        mode: i128,
    ) -> PyResult<(SharedValue, bool)> {
        let what = format!("shared value {name:?}");
        let o = options(py, "open or create", &what, capacity, slots, lifetime, mode)?;
        let (v, d) = py.detach(|| o.open_or_create(&name)).py_err(py)?;
        Ok((SharedValue::wrap(v, name, true), d == Disposition::Created))
    }

    /// Stores a bytes-like object as the new value, read in place; returns its version.
    fn store(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<u64> {
        let data = Bytes::get(data, false)?;
        let v = self.value(py, "store into")?;
        let (src, len) = (data.addr(), data.len());
        // Always without the GIL: a store may wait for another process's writer lock.
        // SAFETY: `data` exports `len` readable bytes at `src` and lives until after the call.
        let stored = py.detach(move || unsafe { v.store_raw(src.get(), len) });
        drop(data);
        stored.py_err(py)
    }

    /// The latest value (empty if nothing was stored yet).
    fn retrieve<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(self.retrieve_versioned(py)?.1)
    }

    /// The latest value and its version: through a buffer on the stack when it is small (see
    /// [`SMALL`]), else copied from the value's slot straight into a new `bytes` object of its
    /// length.
    fn retrieve_versioned<'py>(&self, py: Python<'py>) -> PyResult<(u64, Bound<'py, PyBytes>)> {
        let v = self.value(py, "retrieve")?;
        if self.last_len.load(Ordering::Relaxed) <= SMALL {
            let mut buf = MaybeUninit::<[u8; SMALL]>::uninit();
            let dst = buf.as_mut_ptr().cast::<u8>();
            // SAFETY: `buf` is SMALL writable bytes, private to this call.
            match unsafe { v.retrieve_raw(dst, SMALL) } {
                Ok((version, n)) => {
                    // SAFETY: on success `retrieve_raw` wrote the value's `n <= SMALL` bytes
                    // to the start of `buf`.
                    let value = unsafe { std::slice::from_raw_parts(dst, n) };
                    return Ok((version, PyBytes::new(py, value)));
                }
                Err(e) if e.kind() == ErrorKind::InvalidInput => {}
                Err(e) => return Err(crate::errors::to_py(py, &e)),
            }
        }
        loop {
            // The length of the latest version; a store of another length before the copy
            // below makes it fail or come out short, and then this starts again.
            let len = usize::try_from(v.reader().py_err(py)?.len()).unwrap_or(usize::MAX);
            let mut got = None;
            let bytes = PyBytes::new_with(py, len, |buf| {
                let (v, dst) = (&v, Addr::of(buf));
                let raw = move || {
                    // SAFETY: `buf` is the new object's `len` writable bytes, which nothing
                    // else sees until `new_with` returns.
                    unsafe { v.retrieve_raw(dst.get(), len) }
                };
                got = Some(copy(py, len, raw));
                Ok(())
            })?;
            match got {
                Some(Ok((version, n))) if n == len => {
                    self.last_len.store(len, Ordering::Relaxed);
                    return Ok((version, bytes));
                }
                Some(Err(e)) if e.kind() != ErrorKind::InvalidInput => {
                    return Err(crate::errors::to_py(py, &e));
                }
                _ => {}
            }
        }
    }

    /// Copies the latest value into a writable bytes-like object; returns its length.
    fn retrieve_into(&self, py: Python<'_>, buffer: &Bound<'_, PyAny>) -> PyResult<usize> {
        let dest = Bytes::get(buffer, true)?;
        let v = self.value(py, "retrieve")?;
        let (dst, cap) = (dest.addr(), dest.len());
        // SAFETY: `dest` is a writable export of `cap` bytes at `dst` and lives until after the
        // call.
        let got = copy(py, cap, move || unsafe { v.retrieve_raw(dst.get(), cap) });
        drop(dest);
        Ok(got.py_err(py)?.1)
    }

    /// The latest version stored (0: none).
    #[getter]
    fn version(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.value(py, "read the version of")?.version())
    }

    /// Blocks (without the GIL) until a version newer than `seen` is stored; returns it.
    /// `spin`: seconds to poll the version before sleeping in the kernel; `None` adapts it per
    /// handle between [`SPIN_MIN`] and [`SPIN_MAX`] (see `adapt_spin`).
    #[pyo3(signature = (seen, timeout = None, *, spin = None))]
    fn wait_newer(
        &self,
        py: Python<'_>,
        seen: i128,
        timeout: Option<f64>,
        spin: Option<f64>,
    ) -> PyResult<u64> {
        let op = "wait for a new version of";
        let seen = args::unsigned(py, seen, "seen", op, &self.what)?;
        let limit = args::timeout(py, timeout, op, &self.what)?;
        let adaptive = spin.is_none();
        let spin = match spin {
            None => Duration::from_nanos(self.spin_ns.load(Ordering::Relaxed)),
            Some(s) => args::timeout(py, Some(s), op, &self.what)?.unwrap_or(WAIT_SLICE),
        };
        let v = self.value(py, op)?;
        // A version newer already: no GIL release, no clock.
        let now = v.version();
        if now > seen {
            return Ok(now);
        }
        let start = Instant::now();
        let spun = limit.map_or(spin, |l| l.min(spin));
        if !spun.is_zero() {
            // Poll first: a store that lands within `spun` is seen without a kernel sleep and
            // wake-up. `version()` is 0 on a truncated object: then the kernel wait below
            // reports it.
            let until = start + spun;
            let seen_now = py.detach(|| {
                loop {
                    let now = v.version();
                    if now > seen || Instant::now() >= until {
                        return now;
                    }
                    std::hint::spin_loop();
                }
            });
            if seen_now > seen {
                if adaptive {
                    self.adapt_spin(spun, Some(start.elapsed()));
                }
                return Ok(seen_now);
            }
        }
        let got = self.sleep_newer(py, &v, seen, limit, start);
        if adaptive {
            self.adapt_spin(spun, got.as_ref().ok().map(|_| start.elapsed()));
        }
        got
    }

    /// An awaitable for asyncio: the version newer than `seen` once one is stored.
    #[pyo3(signature = (seen, timeout = None))]
    fn changed<'py>(
        slf: &Bound<'py, Self>,
        seen: &Bound<'py, PyAny>,
        timeout: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        static CHANGED: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        CHANGED
            .import(slf.py(), "mmfpy._aio", "changed")?
            .call1((slf, seen, timeout))
    }

    /// Closes the handle (a handle-lifetime value goes away with its last handle). Never
    /// raises; closing twice does nothing.
    fn close(&self) {
        let v = self.handle.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(v);
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    #[getter]
    fn readonly(&self) -> bool {
        !self.writable
    }

    #[getter]
    fn closed(&self) -> bool {
        self.handle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        let state = if self.closed() { ", closed" } else { "" };
        let ro = if self.writable { "" } else { ", read-only" };
        format!("<mmfpy.SharedValue {}{ro}{state}>", self.what)
    }
}

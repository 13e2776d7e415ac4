//! `SharedValue`: a named value replaced whole by `store`, read whole by `retrieve`, with
//! waits for newer versions that sleep in the kernel.
//!
//! # Safety
//! `retrieve_into` copies into the memory of a writable buffer export ([`Bytes`]), within the
//! length the export reports.
#![allow(unsafe_code)]

use crate::args::{self, Bytes};
use crate::errors::{ResultExt, fail};
use mmf::{Access, Disposition, ErrorKind, ValueOptions};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyTuple};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one kernel wait lasts before `wait_newer` checks for signals (Ctrl-C) and waits
/// again. Stores wake the waiter at once whatever the slice.
const WAIT_SLICE: Duration = Duration::from_millis(200);

/// A named value that processes store and retrieve whole, never torn: `store(data)`,
/// `retrieve()`, `retrieve_into(buffer)`, `version`, `wait_newer(seen, timeout)` (sleeps in the
/// kernel without the GIL) and `await changed(seen)` for asyncio. The type stub (`_mmfpy.pyi`)
/// documents every method.
#[pyclass(module = "mmfpy", frozen)]
pub struct SharedValue {
    /// The handle; `None` after `close()`.
    handle: Mutex<Option<mmf::SharedValue>>,
    /// The buffer `retrieve` and `retrieve_into` copy the value into first (the library copies
    /// out into a `Vec`), kept between calls so that large values are not allocated and faulted
    /// in again each time; freed by `close()`. Taken out for the copy, so no lock is held while
    /// it runs (a concurrent retrieve on the same handle uses a buffer of its own).
    scratch: Mutex<Vec<u8>>,
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
            scratch: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on the scratch buffer (see the field), outside the lock.
    fn with_scratch<T>(&self, f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
        let lock = || self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = std::mem::take(&mut *lock());
        let out = f(&mut buf);
        let mut kept = lock();
        if buf.capacity() > kept.capacity() {
            *kept = buf;
        }
        out
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
        // SAFETY: the slice goes to one copy (`store` copies it into a slot once); a writer of
        // the exporter meanwhile can only tear what is stored, as with any C extension.
        let src = unsafe { data.as_slice() };
        py.detach(|| v.store(src)).py_err(py)
    }

    /// The latest value (empty if nothing was stored yet).
    fn retrieve<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(self.retrieve_versioned(py)?.1)
    }

    /// The latest value and its version.
    fn retrieve_versioned<'py>(&self, py: Python<'py>) -> PyResult<(u64, Bound<'py, PyBytes>)> {
        let v = self.value(py, "retrieve")?;
        self.with_scratch(|buf| {
            let version = py.detach(|| v.retrieve_into(buf)).py_err(py)?;
            Ok((version, PyBytes::new(py, buf)))
        })
    }

    /// Copies the latest value into a writable bytes-like object; returns its length.
    fn retrieve_into(&self, py: Python<'_>, buffer: &Bound<'_, PyAny>) -> PyResult<usize> {
        let dest = Bytes::get(buffer, true)?;
        let v = self.value(py, "retrieve")?;
        self.with_scratch(|buf| {
            py.detach(|| v.retrieve_into(buf)).py_err(py)?;
            if buf.len() > dest.len() {
                return Err(fail(
                    py,
                    ErrorKind::InvalidInput,
                    "retrieve",
                    &self.what,
                    &format!(
                        "the value has {} bytes and the buffer holds only {}",
                        buf.len(),
                        dest.len()
                    ),
                ));
            }
            // SAFETY: `dest` is a writable export of at least `buf.len()` bytes (checked above),
            // alive until the end of this function; `buf` is our own vector, so they do not
            // overlap.
            unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), dest.as_mut_ptr(), buf.len()) };
            Ok(buf.len())
        })
    }

    /// The latest version stored (0: none).
    #[getter]
    fn version(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.value(py, "read the version of")?.version())
    }

    /// Blocks (without the GIL) until a version newer than `seen` is stored; returns it.
    /// `spin`: seconds to poll the version before sleeping in the kernel.
    #[pyo3(signature = (seen, timeout = None, *, spin = 0.0))]
    fn wait_newer(
        &self,
        py: Python<'_>,
        seen: i128,
        timeout: Option<f64>,
        spin: f64,
    ) -> PyResult<u64> {
        let op = "wait for a new version of";
        let seen = args::unsigned(py, seen, "seen", op, &self.what)?;
        let limit = args::timeout(py, timeout, op, &self.what)?;
        let spin = args::timeout(py, Some(spin), op, &self.what)?.unwrap_or(WAIT_SLICE);
        let v = self.value(py, op)?;
        let start = Instant::now();
        if !spin.is_zero() {
            // Poll first: a store that lands within `spin` is seen without a kernel sleep and
            // wake-up (worth it only where the waiter has a CPU to itself). `version()` is 0 on
            // a truncated object: then the kernel wait below reports it.
            let until = start + limit.map_or(spin, |l| l.min(spin));
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
                return Ok(seen_now);
            }
        }
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
        drop(std::mem::take(
            &mut *self.scratch.lock().unwrap_or_else(|e| e.into_inner()),
        ));
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

//! `View`: a mapped range that exports the buffer protocol, with deferred unmap.
//!
//! `close()` (of the view, or of the mapping that made it) never raises and never leaves a
//! dangling pointer: while buffers are exported (a numpy array, a memoryview) the memory stays
//! mapped, and the last `__releasebuffer__` unmaps it. The count of exports and the mapped view
//! sit behind one mutex; no Python code runs while it is held.
//!
//! # Safety
//! `__getbuffer__` hands Python the view's pointer and length. The `mmf::View` that owns that
//! memory stays in `State::view` while `State::exports > 0`: `close` only takes it out when no
//! export is live, and `__releasebuffer__` takes it out when the last one ends after a close.
#![allow(unsafe_code)]

use crate::args::{self, Bytes};
use crate::errors::{ResultExt, fail};
use mmf::{Access, ErrorKind};
use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyMemoryView};
use std::ffi::{c_int, c_void};
use std::sync::{Arc, Mutex, MutexGuard};

/// What the Python `View` and its exported buffers share.
pub struct Shared {
    state: Mutex<State>,
}

struct State {
    /// The mapped memory; `None` once unmapped.
    view: Option<Arc<mmf::View>>,
    /// Buffers exported and not yet released.
    exports: usize,
    /// `close()` was called: unmap when `exports` drops to 0.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; recover the state rather than propagate.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes the view: unmaps now if no buffer is exported, else when the last is released.
    pub fn close(&self) {
        let unmapped = {
            let mut st = self.lock();
            st.closed = true;
            if st.exports == 0 {
                st.view.take()
            } else {
                None
            }
        };
        drop(unmapped); // munmap outside the lock
    }
}

/// A mapped range of a `Mapping`, exporting the buffer protocol zero-copy: `memoryview(view)`,
/// `np.frombuffer(view, dtype)`, `view.numpy(dtype, shape)`, `bytes(view[a:b])`. Read-only
/// views refuse writable buffer requests with `BufferError`. `close()` never raises: the memory
/// stays mapped while exported buffers live and is unmapped by the last release.
#[pyclass(module = "mmfpy", frozen)]
pub struct View {
    shared: Arc<Shared>,
    /// `shared memory object "x"`, for messages.
    what: String,
    len: usize,
    offset: u64,
    access: Access,
}

impl View {
    pub fn new(view: mmf::View, what: String) -> (View, Arc<Shared>) {
        let (len, offset, access) = (view.len(), view.offset(), view.access());
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                view: Some(Arc::new(view)),
                exports: 0,
                closed: false,
            }),
        });
        let v = View {
            shared: shared.clone(),
            what,
            len,
            offset,
            access,
        };
        (v, shared)
    }

    /// The mapped view, for one operation (the `Arc` keeps it mapped until the operation ends).
    fn mapped(&self, py: Python<'_>, op: &str) -> PyResult<Arc<mmf::View>> {
        let mapped = {
            let st = self.shared.lock();
            if st.closed { None } else { st.view.clone() }
        };
        mapped.ok_or_else(|| self.closed_error(py, op))
    }

    fn closed_error(&self, py: Python<'_>, op: &str) -> PyErr {
        fail(
            py,
            ErrorKind::InvalidInput,
            op,
            &self.describe(),
            "the view is closed",
        )
    }

    fn describe(&self) -> String {
        format!("the view at offset {} of {}", self.offset, self.what)
    }

    fn range(
        &self,
        py: Python<'_>,
        op: &str,
        offset: i128,
        n: Option<i128>,
    ) -> PyResult<(usize, usize)> {
        let what = self.describe();
        let offset = args::length(py, offset, "offset", op, &what)?;
        let n = match n {
            Some(n) => args::length(py, n, "length", op, &what)?,
            None => self.len.saturating_sub(offset),
        };
        // Checked here as well as by the library, so that `read` allocates nothing for a range
        // that cannot be read.
        match offset.checked_add(n) {
            Some(end) if end <= self.len => Ok((offset, n)),
            _ => Err(fail(
                py,
                ErrorKind::OutOfRange,
                op,
                &what,
                &format!(
                    "range {offset}..{} is outside the view ({} bytes)",
                    offset as u128 + n as u128,
                    self.len
                ),
            )),
        }
    }
}

#[pymethods]
impl View {
    /// Copies `n` bytes from `offset` (the rest of the view when `n` is None) into new bytes.
    #[pyo3(signature = (offset = 0, n = None))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        offset: i128,
        n: Option<i128>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let op = "read from";
        let (offset, n) = self.range(py, op, offset, n)?;
        let v = self.mapped(py, op)?;
        PyBytes::new_with(py, n, |buf| py.detach(|| v.read_at(offset, buf)).py_err(py))
    }

    /// Copies a bytes-like object into the view at `offset`.
    fn write(&self, py: Python<'_>, offset: i128, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let op = "write to";
        let (offset, _) = self.range(py, op, offset, Some(0))?;
        let data = Bytes::get(data, false)?;
        let v = self.mapped(py, op)?;
        let (src, len) = (data.addr(), data.len());
        // SAFETY: `data` exports `len` readable bytes at `src` and lives until after the call.
        let wrote = py.detach(move || unsafe { v.write_raw(offset, src.get(), len) });
        drop(data);
        wrote.py_err(py)
    }

    /// Writes the view's dirty pages back to its file (`msync`; a no-op for shared memory).
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let v = self.mapped(py, "flush")?;
        py.detach(|| v.flush()).py_err(py)
    }

    /// Unmaps the view now, or when the last exported buffer is released. Never raises.
    fn close(&self) {
        self.shared.close();
    }

    /// The view as a numpy array (numpy is imported here, not at build or import time).
    #[pyo3(signature = (dtype = None, shape = None))]
    fn numpy<'py>(
        slf: &Bound<'py, Self>,
        dtype: Option<&Bound<'py, PyAny>>,
        shape: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        static AS_ARRAY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        AS_ARRAY
            .import(slf.py(), "mmfpy._numpy", "as_array")?
            .call1((slf, dtype, shape))
    }

    #[getter]
    fn size(&self) -> usize {
        self.len
    }

    #[getter]
    fn offset(&self) -> u64 {
        self.offset
    }

    #[getter]
    fn access(&self) -> &'static str {
        args::access_word(self.access)
    }

    #[getter]
    fn readonly(&self) -> bool {
        self.access == Access::ReadOnly
    }

    #[getter]
    fn closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// Buffers exported and not yet released (numpy arrays, memoryviews).
    #[getter]
    fn exports(&self) -> usize {
        self.shared.lock().exports
    }

    fn __len__(&self) -> usize {
        self.len
    }

    fn __getitem__<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        PyMemoryView::from(slf.as_any())?.get_item(key)
    }

    fn __setitem__(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        PyMemoryView::from(slf.as_any())?.set_item(key, value)
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.shared.close();
        false
    }

    fn __repr__(&self) -> String {
        let closed = if self.closed() { ", closed" } else { "" };
        format!(
            "<mmfpy.View of {}: {} bytes at offset {}, {}{}>",
            self.what,
            self.len,
            self.offset,
            args::access_word(self.access),
            closed
        )
    }

    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let this = slf.get();
        let readonly = this.access == Access::ReadOnly;
        if readonly && flags & ffi::PyBUF_WRITABLE != 0 {
            return Err(PyBufferError::new_err(format!(
                "cannot export a writable buffer of {}: the view is read-only; map it with \
                 access=\"rw\" (or \"copy\" for private changes)",
                this.describe()
            )));
        }
        let ptr = {
            let mut st = this.shared.lock();
            match (&st.view, st.closed) {
                (Some(v), false) => {
                    let p = v.as_mut_ptr();
                    st.exports += 1;
                    p
                }
                _ => {
                    return Err(PyBufferError::new_err(format!(
                        "cannot export a buffer of {}: the view is closed",
                        this.describe()
                    )));
                }
            }
        };
        // SAFETY: `view` is the Py_buffer Python passed in; `ptr`/`len` describe the mapped view,
        // which stays mapped while `exports > 0` (module doc). PyBuffer_FillInfo takes a new
        // reference to `slf` as the exporter.
        let rc = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                ptr as *mut c_void,
                this.len as ffi::Py_ssize_t,
                c_int::from(readonly),
                flags,
            )
        };
        if rc != 0 {
            // No buffer was exported after all: no __releasebuffer__ will come for it.
            this.release_one();
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        self.release_one();
    }
}

impl View {
    /// One export ended; the last one after a close unmaps.
    fn release_one(&self) {
        let unmapped = {
            let mut st = self.shared.lock();
            st.exports = st.exports.saturating_sub(1);
            if st.exports == 0 && st.closed {
                st.view.take()
            } else {
                None
            }
        };
        drop(unmapped);
    }
}

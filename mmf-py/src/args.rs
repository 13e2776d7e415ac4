//! Arguments from Python: sizes and offsets, access and lifetime words, timeouts, and bytes-like
//! objects read or written in place through the buffer protocol.
//!
//! # Safety
//! [`Bytes`] holds a buffer exported by another Python object (`PyObject_GetBuffer`). The
//! exporter guarantees that its `buf`/`len` stay valid until `PyBuffer_Release`, which only
//! `Drop` calls; callers of [`Bytes::addr`] keep the `Bytes` alive while they copy.
#![allow(unsafe_code)]

use crate::errors::fail;
use mmf::{Access, ErrorKind, Lifetime};
use pyo3::ffi;
use pyo3::prelude::*;
use std::time::Duration;

/// A size, offset or length given as a Python `int`: negative values are `ValueError`s (a
/// plain `u64` argument would raise `OverflowError`), values past `u64` are out of range.
pub fn unsigned(py: Python<'_>, value: i128, what: &str, op: &str, object: &str) -> PyResult<u64> {
    if value < 0 {
        return Err(fail(
            py,
            ErrorKind::InvalidInput,
            op,
            object,
            &format!("{what} must not be negative (got {value})"),
        ));
    }
    u64::try_from(value).map_err(|_| {
        fail(
            py,
            ErrorKind::OutOfRange,
            op,
            object,
            &format!("{what} {value} is larger than 2^64 - 1"),
        )
    })
}

/// As [`unsigned`], for a length in this address space.
pub fn length(py: Python<'_>, value: i128, what: &str, op: &str, object: &str) -> PyResult<usize> {
    let v = unsigned(py, value, what, op, object)?;
    usize::try_from(v).map_err(|_| {
        fail(
            py,
            ErrorKind::OutOfRange,
            op,
            object,
            &format!("{what} {v} does not fit in this address space"),
        )
    })
}

/// `"rw"`, `"ro"` or `"copy"`.
pub fn access(py: Python<'_>, word: &str, op: &str, object: &str) -> PyResult<Access> {
    match word {
        "rw" => Ok(Access::ReadWrite),
        "ro" => Ok(Access::ReadOnly),
        "copy" => Ok(Access::CopyOnWrite),
        _ => Err(fail(
            py,
            ErrorKind::InvalidInput,
            op,
            object,
            &format!("access must be \"rw\", \"ro\" or \"copy\", not {word:?}"),
        )),
    }
}

/// The word for an access, as [`access`] reads it.
pub fn access_word(access: Access) -> &'static str {
    match access {
        Access::ReadOnly => "ro",
        Access::CopyOnWrite => "copy",
        _ => "rw",
    }
}

/// `"handle"` or `"persistent"`.
pub fn lifetime(py: Python<'_>, word: &str, op: &str, object: &str) -> PyResult<Lifetime> {
    match word {
        "handle" => Ok(Lifetime::Handle),
        "persistent" => Ok(Lifetime::Persistent),
        _ => Err(fail(
            py,
            ErrorKind::InvalidInput,
            op,
            object,
            &format!("lifetime must be \"handle\" or \"persistent\", not {word:?}"),
        )),
    }
}

/// The word for a lifetime, as [`lifetime`] reads it.
pub fn lifetime_word(lifetime: Lifetime) -> &'static str {
    match lifetime {
        Lifetime::Handle => "handle",
        _ => "persistent",
    }
}

/// Permission bits: only the read and write bits (`0o666`) may be set.
pub fn mode(py: Python<'_>, mode: i128, op: &str, object: &str) -> PyResult<mmf::Permissions> {
    match u32::try_from(mode) {
        Ok(m) if m & !0o666 == 0 => Ok(mmf::Permissions::from_mode(m)),
        _ => Err(fail(
            py,
            ErrorKind::InvalidInput,
            op,
            object,
            &format!("mode must combine the read and write bits 0o666, not {mode:#o}"),
        )),
    }
}

/// A timeout in seconds: `None` and infinity wait without limit; negative or NaN is a
/// `ValueError`.
pub fn timeout(
    py: Python<'_>,
    seconds: Option<f64>,
    op: &str,
    object: &str,
) -> PyResult<Option<Duration>> {
    match seconds {
        None => Ok(None),
        Some(s) if s == f64::INFINITY => Ok(None),
        Some(s) => Duration::try_from_secs_f64(s).map(Some).map_err(|_| {
            fail(
                py,
                ErrorKind::InvalidInput,
                op,
                object,
                &format!("timeout must be a number of seconds, 0 or more, not {s}"),
            )
        }),
    }
}

/// A bytes-like object's memory, borrowed in place through the buffer protocol (C-contiguous,
/// any item type: counted in bytes). `str` and other objects without the protocol raise
/// `TypeError`, non-contiguous ones `BufferError`, as `bytes(...)`-taking built-ins do.
pub struct Bytes {
    // Boxed: the exporter may keep pointers into the struct (`internal`), so it must not move.
    view: Box<ffi::Py_buffer>,
}

impl Bytes {
    /// Borrows `obj` for reading, or for writing when `writable` (then read-only objects such
    /// as `bytes` raise `BufferError`).
    pub fn get(obj: &Bound<'_, PyAny>, writable: bool) -> PyResult<Bytes> {
        let mut view = Box::new(ffi::Py_buffer::new());
        let flags = if writable {
            ffi::PyBUF_WRITABLE
        } else {
            ffi::PyBUF_SIMPLE
        };
        // SAFETY: `obj` is a live object (we hold a reference and are attached); `view` points
        // to a writable Py_buffer that lives in this box until `Drop` releases it.
        if unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), &mut *view, flags) } != 0 {
            return Err(PyErr::fetch(obj.py()));
        }
        Ok(Bytes { view })
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        // A successful export has len >= 0.
        self.view.len as usize
    }

    /// The first byte, to copy from or into without the GIL (see [`Addr`]). Another Python
    /// thread may write the buffer once the GIL is released, and another process may when the
    /// object is shared memory (a `memoryview` of an mmfpy `View`, say), so the memory is never
    /// seen as a slice: it goes only to the library's raw copies (`store_raw`, `retrieve_raw`,
    /// `write_raw`), whose every access is atomic.
    pub fn addr(&self) -> Addr {
        Addr(self.view.buf as *mut u8)
    }
}

/// The address of a buffer export, to hand to a copy that runs without the GIL (a raw pointer
/// is not `Send`). Dereferencing it is up to the raw copy it goes to, within the export's length
/// and lifetime (the [`Bytes`] it came from must outlive the copy).
#[derive(Clone, Copy)]
pub struct Addr(*mut u8);

// SAFETY: an address is plain data; it is only dereferenced by the raw copies, whose callers
// keep the export alive for the call (see `Bytes::addr`).
unsafe impl Send for Addr {}

impl Addr {
    /// The first byte of a slice.
    pub fn of(buf: &mut [u8]) -> Addr {
        Addr(buf.as_mut_ptr())
    }

    pub fn get(self) -> *mut u8 {
        self.0
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        // SAFETY: the buffer was exported by `get` and is released exactly once, attached.
        Python::attach(|_| unsafe { ffi::PyBuffer_Release(&mut *self.view) });
    }
}

//! mmf errors as Python exceptions.
//!
//! The exception classes live in `mmfpy/_errors.py`: each subclasses both `mmfpy.Error` and the
//! built-in exception Python code already catches (`FileNotFoundError`, `ValueError`, ...), which
//! a class made here through pyo3 could not do. `_errors.from_kind` picks the class for a kind;
//! this module builds the instance with mmf's message and its structured fields.

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyAny;

/// The fields of one error, whether it came from the library or from the bindings' own checks.
pub struct Failure<'a> {
    /// `ErrorKind::as_str`: "not found", "invalid input", ...
    pub kind: &'a str,
    /// The whole one-line message.
    pub message: String,
    /// The verb phrase ("open", "map a view of").
    pub operation: &'a str,
    /// The object, as the message names it.
    pub object: &'a str,
    /// The OS error number underneath, if any.
    pub errno: Option<i32>,
}

impl Failure<'_> {
    /// The Python exception.
    pub fn into_pyerr(self, py: Python<'_>) -> PyErr {
        static FROM_KIND: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let built = FROM_KIND
            .import(py, "mmfpy._errors", "from_kind")
            .and_then(|f| {
                f.call1((
                    self.kind,
                    &self.message,
                    self.operation,
                    self.object,
                    self.errno,
                ))
            });
        match built {
            Ok(exc) => PyErr::from_value(exc),
            // Only if the package's Python half is missing: still an exception with the message.
            Err(_) => PyOSError::new_err(self.message),
        }
    }
}

/// The Python exception for a library error.
pub fn to_py(py: Python<'_>, e: &mmf::Error) -> PyErr {
    Failure {
        kind: e.kind().as_str(),
        message: e.to_string(),
        operation: e.operation(),
        object: e.object(),
        errno: e.os_error().and_then(|o| o.raw_os_error()),
    }
    .into_pyerr(py)
}

/// An error the bindings detect themselves, in mmf's message style
/// (`cannot OP OBJECT: KIND: DETAIL`).
pub fn fail(py: Python<'_>, kind: mmf::ErrorKind, op: &str, object: &str, detail: &str) -> PyErr {
    Failure {
        kind: kind.as_str(),
        message: format!("cannot {op} {object}: {kind}: {detail}"),
        operation: op,
        object,
        errno: None,
    }
    .into_pyerr(py)
}

/// Converts library results inside the bindings: `.py_err(py)?`.
pub trait ResultExt<T> {
    /// The result with its error turned into the matching Python exception.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> ResultExt<T> for mmf::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, &e))
    }
}

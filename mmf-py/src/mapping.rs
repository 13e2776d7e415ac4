//! `Mapping`: a named, anonymous or file-backed mapping object, and the views it maps.

use crate::args;
use crate::errors::{ResultExt, fail};
use crate::view::{self, View};
use mmf::{Access, Backing, CreateOptions, Disposition, ErrorKind, FileOptions, OpenOptions};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

/// A mapping object: a named shared-memory object (what `shm_open("/NAME")` and
/// `multiprocessing.shared_memory.SharedMemory(name=NAME)` open), an anonymous one, or a file.
///
/// Handle lifetime (the default): the object exists while any handle or mapped view of it is
/// open in any process, and its name goes with the last one, also when the holders are killed.
/// `map()` gives views that export the buffer protocol; `close()` never raises. The type stub
/// (`_mmfpy.pyi`) documents every method.
#[pyclass(module = "mmfpy", frozen)]
pub struct Mapping {
    /// The handle; `None` after `close()`.
    handle: Mutex<Option<mmf::Mapping>>,
    /// The views this handle mapped, closed with it.
    views: Mutex<Vec<Weak<view::Shared>>>,
    /// `shared memory object "x"`, `file "p"`, for messages.
    what: String,
    name: Option<String>,
    size: u64,
    writable: bool,
    backing: Backing,
    lifetime: mmf::Lifetime,
}

fn named(name: &str) -> String {
    format!("shared memory object {name:?}")
}

impl Mapping {
    fn wrap(m: mmf::Mapping, what: String) -> Mapping {
        Mapping {
            what,
            name: m.name().map(|n| n.as_str().to_owned()),
            size: m.len(),
            writable: m.is_writable(),
            backing: m.backing(),
            lifetime: m.lifetime(),
            handle: Mutex::new(Some(m)),
            views: Mutex::new(Vec::new()),
        }
    }

    fn handle(&self) -> std::sync::MutexGuard<'_, Option<mmf::Mapping>> {
        self.handle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl Mapping {
    #[staticmethod]
    #[pyo3(signature = (name, size, *, lifetime = "handle", mode = 0o600))]
    fn create(
        py: Python<'_>,
        name: String,
        size: i128,
        lifetime: &str,
        mode: i128,
    ) -> PyResult<Mapping> {
        let (op, what) = ("create", named(&name));
        let mut o = CreateOptions::new();
        o.size(args::unsigned(py, size, "size", op, &what)?)
            .lifetime(args::lifetime(py, lifetime, op, &what)?)
            .permissions(args::mode(py, mode, op, &what)?);
        let m = py.detach(|| o.create(&name)).py_err(py)?;
        Ok(Mapping::wrap(m, what))
    }

    #[staticmethod]
    #[pyo3(signature = (name, *, readonly = false))]
    fn open(py: Python<'_>, name: String, readonly: bool) -> PyResult<Mapping> {
        let mut o = OpenOptions::new();
        if readonly {
            o.access(Access::ReadOnly);
        }
        let m = py.detach(|| o.open(&name)).py_err(py)?;
        Ok(Mapping::wrap(m, named(&name)))
    }

    #[staticmethod]
    #[pyo3(signature = (name, size, *, lifetime = "handle", mode = 0o600))]
    fn open_or_create(
        py: Python<'_>,
        name: String,
        size: i128,
        lifetime: &str,
        mode: i128,
    ) -> PyResult<(Mapping, bool)> {
        let (op, what) = ("open or create", named(&name));
        let mut o = CreateOptions::new();
        o.size(args::unsigned(py, size, "size", op, &what)?)
            .lifetime(args::lifetime(py, lifetime, op, &what)?)
            .permissions(args::mode(py, mode, op, &what)?);
        let (m, d) = py.detach(|| o.open_or_create(&name)).py_err(py)?;
        Ok((Mapping::wrap(m, what), d == Disposition::Created))
    }

    #[staticmethod]
    fn anonymous(py: Python<'_>, size: i128) -> PyResult<Mapping> {
        let what = "an anonymous mapping object".to_owned();
        let size = args::unsigned(py, size, "size", "create", &what)?;
        let m = py.detach(|| mmf::Mapping::anonymous(size)).py_err(py)?;
        Ok(Mapping::wrap(m, what))
    }

    #[staticmethod]
    #[pyo3(signature = (path, *, size = None, readonly = false, create = false))]
    fn open_file(
        py: Python<'_>,
        path: PathBuf,
        size: Option<i128>,
        readonly: bool,
        create: bool,
    ) -> PyResult<Mapping> {
        let what = format!("file {:?}", path.display().to_string());
        let mut o = FileOptions::new();
        o.create(create);
        if readonly {
            o.access(Access::ReadOnly);
        }
        if let Some(size) = size {
            o.max_size(args::unsigned(py, size, "size", "open", &what)?);
        }
        let m = py.detach(|| o.open(&path)).py_err(py)?;
        Ok(Mapping::wrap(m, what))
    }

    /// Maps `length` bytes from `offset` (0: to the end of the object).
    #[pyo3(signature = (offset = 0, length = 0, *, access = None))]
    fn map(
        &self,
        py: Python<'_>,
        offset: i128,
        length: i128,
        access: Option<&str>,
    ) -> PyResult<View> {
        let op = "map a view of";
        let offset = args::unsigned(py, offset, "offset", op, &self.what)?;
        let length = args::length(py, length, "length", op, &self.what)?;
        let access = match access {
            Some(word) => args::access(py, word, op, &self.what)?,
            None if self.writable => Access::ReadWrite,
            None => Access::ReadOnly,
        };
        // No Python code may run under the lock (it could release the GIL to a thread that
        // waits for the lock): errors are converted after it is released.
        let mapped = self
            .handle()
            .as_ref()
            .map(|m| m.map_range(offset, length, access));
        let v = match mapped {
            Some(r) => r.py_err(py)?,
            None => {
                return Err(fail(
                    py,
                    ErrorKind::InvalidInput,
                    op,
                    &self.what,
                    "the mapping is closed",
                ));
            }
        };
        let (view, shared) = View::new(v, self.what.clone());
        let mut views = self.views.lock().unwrap_or_else(|e| e.into_inner());
        views.retain(|w| w.strong_count() > 0);
        views.push(Arc::downgrade(&shared));
        Ok(view)
    }

    /// Closes the handle and the views it mapped (each unmapped now, or when its last exported
    /// buffer is released). Never raises; closing twice does nothing.
    fn close(&self) {
        let handle = self.handle().take();
        let views = std::mem::take(&mut *self.views.lock().unwrap_or_else(|e| e.into_inner()));
        for v in views.iter().filter_map(Weak::upgrade) {
            v.close();
        }
        drop(handle);
    }

    #[getter]
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    #[getter]
    fn size(&self) -> u64 {
        self.size
    }

    #[getter]
    fn readonly(&self) -> bool {
        !self.writable
    }

    #[getter]
    fn closed(&self) -> bool {
        self.handle().is_none()
    }

    #[getter]
    fn lifetime(&self) -> &'static str {
        args::lifetime_word(self.lifetime)
    }

    #[getter]
    fn backing(&self) -> &'static str {
        match self.backing {
            Backing::Named => "named",
            Backing::Anonymous => "anonymous",
            _ => "file",
        }
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
        let closed = if self.closed() { ", closed" } else { "" };
        format!(
            "<mmfpy.Mapping {}: {} bytes, {} lifetime{}{}>",
            self.what,
            self.size,
            self.lifetime(),
            if self.writable { "" } else { ", read-only" },
            closed
        )
    }
}

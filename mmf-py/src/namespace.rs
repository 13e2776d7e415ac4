//! `list()`, `info()`, `remove()`, `gc()`: the namespace of named objects (`/dev/shm`, or
//! `$MMF_DIR`).

use crate::args;
use crate::errors::{ResultExt, fail};
use mmf::{ErrorKind, Namespace};
use pyo3::prelude::*;

/// What `list()` and `info()` report about one named object.
#[pyclass(module = "mmfpy", frozen, get_all)]
pub struct ObjectInfo {
    name: String,
    size: u64,
    owner_uid: u32,
    mode: u32,
    lifetime: Option<&'static str>,
    holders: Option<usize>,
    holder_pids: Vec<u32>,
    is_value: bool,
}

impl From<&mmf::ObjectInfo> for ObjectInfo {
    fn from(o: &mmf::ObjectInfo) -> ObjectInfo {
        ObjectInfo {
            name: o.name.clone(),
            size: o.size,
            owner_uid: o.owner_uid,
            mode: o.mode,
            lifetime: o.lifetime.map(args::lifetime_word),
            holders: o.holders,
            holder_pids: o.holder_pids.clone(),
            is_value: o.is_value(),
        }
    }
}

#[pymethods]
impl ObjectInfo {
    fn __repr__(&self) -> String {
        format!(
            "ObjectInfo(name={:?}, size={}, lifetime={}, holders={}, is_value={})",
            self.name,
            self.size,
            self.lifetime
                .map_or("None".to_owned(), |l| format!("{l:?}")),
            self.holders.map_or("None".to_owned(), |h| h.to_string()),
            if self.is_value { "True" } else { "False" }
        )
    }
}

/// Every named object, sorted by name (dead handle-lifetime objects are removed on the way).
#[pyfunction]
pub fn list(py: Python<'_>) -> PyResult<Vec<ObjectInfo>> {
    let all = py.detach(|| Namespace::default().list()).py_err(py)?;
    Ok(all.iter().map(ObjectInfo::from).collect())
}

/// What `list()` reports about the object `name`.
#[pyfunction]
pub fn info(py: Python<'_>, name: String) -> PyResult<ObjectInfo> {
    let what = format!("shared memory object {name:?}");
    mmf::Name::new(&name).py_err(py)?;
    let all = py.detach(|| Namespace::default().list()).py_err(py)?;
    match all.iter().find(|o| o.name == name) {
        Some(o) => Ok(o.into()),
        None => {
            let dir = Namespace::default().dir();
            let place = dir.map_or("the namespace".to_owned(), |d| d.display().to_string());
            Err(fail(
                py,
                ErrorKind::NotFound,
                "inspect",
                &what,
                &format!("no object of that name in {place}"),
            ))
        }
    }
}

/// Removes the name; processes that have the object open keep using it.
#[pyfunction]
pub fn remove(py: Python<'_>, name: String) -> PyResult<()> {
    py.detach(|| Namespace::default().remove(&name)).py_err(py)
}

/// Removes handle-lifetime objects whose holders are all gone; returns their names.
#[pyfunction]
pub fn gc(py: Python<'_>) -> PyResult<Vec<String>> {
    py.detach(|| Namespace::default().gc()).py_err(py)
}

//! `mmfpy._mmfpy`: the native half of the `mmfpy` Python package (the Python half, in
//! `python/mmfpy`, holds the exception classes, the asyncio wait and the numpy helper).
//!
//! Everything here uses only the public API of the `mmf` crate.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(target_os = "linux")]
mod aio;
mod args;
mod errors;
mod mapping;
mod namespace;
mod value;
mod view;

use pyo3::prelude::*;

#[pymodule]
fn _mmfpy(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<mapping::Mapping>()?;
    m.add_class::<view::View>()?;
    m.add_class::<value::SharedValue>()?;
    m.add_class::<namespace::ObjectInfo>()?;
    m.add_function(wrap_pyfunction!(namespace::list, m)?)?;
    m.add_function(wrap_pyfunction!(namespace::info, m)?)?;
    m.add_function(wrap_pyfunction!(namespace::remove, m)?)?;
    m.add_function(wrap_pyfunction!(namespace::gc, m)?)?;
    #[cfg(target_os = "linux")]
    {
        m.add_class::<aio::Waiter>()?;
        m.add_function(wrap_pyfunction!(aio::_wait_fd, m)?)?;
    }
    Ok(())
}

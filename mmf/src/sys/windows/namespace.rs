//! The namespace operations: `remove`, `list` and `gc` (Windows has no listing; see
//! `windows/mod.rs`).
//!
//! # Safety
//!
//! Win32 calls take raw pointers and handles; each call states the invariant it relies on (see
//! `windows/mod.rs`).
#![allow(unsafe_code)]

use super::named::not_found;
use super::{kernel_name, last_error, no_dir, owned, unsupported};
use crate::sys::{Error, Result};
use crate::types::ObjectInfo;
use crate::Name;
use std::io;
use std::path::Path;
use windows_sys::Win32::Foundation::FALSE;
use windows_sys::Win32::System::Memory::{OpenFileMappingW, SECTION_QUERY};

/// Windows cannot take a name away from its holders: it goes when the last handle closes.
pub(crate) fn remove(name: &Name, dir: Option<&Path>) -> Result<()> {
    if dir.is_some() {
        return Err(no_dir("remove"));
    }
    let wname = kernel_name(false, "", name.as_str());
    // SAFETY: `wname` is NUL-terminated and outlives the call.
    let h = unsafe { OpenFileMappingW(SECTION_QUERY, FALSE, wname.as_ptr()) };
    let err = last_error();
    // SAFETY: NULL or a new handle we own (closed at once).
    match unsafe { owned(h) } {
        None if err.kind() == io::ErrorKind::NotFound => Err(not_found(false, "remove")),
        None => Err(Error::os(err).at("remove")),
        Some(_) => Err(unsupported(
            "remove",
            "on Windows a name goes away by itself when the last handle to the object closes; \
             it cannot be taken away from the processes that hold it",
        )),
    }
}

/// Win32 offers no way to enumerate sections.
pub(crate) fn list(dir: Option<&Path>) -> Result<Vec<ObjectInfo>> {
    if dir.is_some() {
        return Err(no_dir("list"));
    }
    Err(unsupported(
        "list",
        "the Win32 API cannot enumerate file-mapping objects (only the undocumented NT object \
         directory can)",
    ))
}

/// Nothing to collect: the kernel removes a name as soon as its last holder is gone.
pub(crate) fn gc(dir: Option<&Path>) -> Result<Vec<String>> {
    if dir.is_some() {
        return Err(no_dir("collect garbage in"));
    }
    Ok(Vec::new())
}

//! Anonymous (pagefile-backed, unnamed) sections.
//!
//! # Safety
//!
//! Win32 calls take raw pointers and handles; each call states the invariant it relies on (see
//! `windows/mod.rs`).
#![allow(unsafe_code)]

use super::named::protection;
use super::{last_error, owned, split64, unsupported, Object};
use crate::sys::contract::AnonymousObject;
use crate::sys::{Error, Result};
use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
use windows_sys::Win32::System::Memory::CreateFileMappingW;

impl AnonymousObject for Object {
    /// An unnamed pagefile-backed section.
    fn anonymous(size: u64, commit: bool) -> Result<Object> {
        let (hi, lo) = split64(size);
        // SAFETY: pagefile-backed, unnamed, no security attributes.
        let h = unsafe {
            CreateFileMappingW(
                INVALID_HANDLE_VALUE,
                std::ptr::null(),
                protection(commit),
                hi,
                lo,
                std::ptr::null(),
            )
        };
        let err = last_error();
        // SAFETY: NULL or a new handle we own.
        let h = unsafe { owned(h) }.ok_or_else(|| Error::os(err).at("create"))?;
        Ok(Object::over(Some(h), size, true, !commit))
    }

    /// Large-page sections are not offered on Windows.
    fn anonymous_huge(_size: u64) -> Result<Object> {
        Err(unsupported(
            "create",
            "large-page sections (SEC_LARGE_PAGES) need SeLockMemoryPrivilege and views at \
             large-page-aligned addresses, which mmf does not provide on Windows",
        ))
    }
}

//! Files that grow: a file-backed object (a mapped file, a persistent object) grows as on Linux,
//! by extending the file, and views past the end of the section made when it was opened map a
//! larger section over the same file.
//!
//! - **Growing** creates a section of the new size over the file: Windows (and Wine) extend a
//!   file to the size of a section made over it, and never shrink it. So two processes growing
//!   one object at once both succeed and the larger size wins, where `SetEndOfFile` could shrink
//!   the file under the other's larger growth. The new section is kept for this process's views.
//! - **Following a growth** made elsewhere: the object's size is the file's (`Object::len`), and
//!   a view that reaches past every section this process has makes one of the file's current
//!   size. Views of different sections over one file share its pages, so every process sees every
//!   write at once, as with one section.
//! - **Old sections** live as long as views of them (a view holds its section): the object keeps
//!   its first section (the one `AsHandle` gives) and the largest made since, no more.
//! - **Shrinking** cannot happen under mmf's views: Windows refuses to truncate a file below a
//!   section over it (`ERROR_USER_MAPPED_FILE`), and mmf itself never shrinks an object.
//! - **A full disk** fails the growth (`OutOfSpace`) and leaves the size as it was.
//!
//! # Safety
//!
//! One Win32 call (`CreateFileMappingW`) takes raw handles; it states the invariant it relies on.
#![allow(unsafe_code)]

use super::{last_error, os_code, owned, raw, split64};
use crate::sys::{Error, Result};
use crate::ErrorKind;
use std::fs::File;
use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::sync::{Mutex, PoisonError};
use windows_sys::Win32::Foundation::{ERROR_FILE_INVALID, HANDLE};
use windows_sys::Win32::System::Memory::{CreateFileMappingW, PAGE_READWRITE, PAGE_WRITECOPY};

/// An unnamed section of `size` bytes over `file`, extending the file to `size` if it is shorter
/// (which needs a writable handle). Through a read-only handle the section is `PAGE_WRITECOPY`,
/// which allows read-only and copy-on-write views.
pub(super) fn section_over(file: &File, size: u64, writable: bool) -> Result<OwnedHandle> {
    let prot = if writable {
        PAGE_READWRITE
    } else {
        PAGE_WRITECOPY
    };
    let (hi, lo) = split64(size);
    // SAFETY: the file handle is valid while `file` lives (through the call); unnamed section,
    // no security attributes.
    let h = unsafe {
        CreateFileMappingW(
            file.as_raw_handle() as HANDLE,
            std::ptr::null(),
            prot,
            hi,
            lo,
            std::ptr::null(),
        )
    };
    let err = last_error();
    // SAFETY: NULL or a new handle we own.
    match unsafe { owned(h) } {
        Some(h) => Ok(h),
        None if os_code(&err) == ERROR_FILE_INVALID => Err(Error::new(
            ErrorKind::InvalidInput,
            "Windows cannot map this file (empty, or not a disk file)",
        )
        .with_os(err)),
        None => Err(Error::os(err)),
    }
}

/// The largest section a file-backed object made past its first one, with its size.
#[derive(Default)]
pub(super) struct Larger(Mutex<Option<(OwnedHandle, u64)>>);

impl Larger {
    /// Grows `file` to `new_len` bytes (never shrinks it) by making a section that large over it.
    pub(super) fn grow(&self, file: &File, new_len: u64) -> Result<()> {
        if new_len <= file.metadata()?.len() {
            return Ok(());
        }
        let section = section_over(file, new_len, true)?;
        let mut larger = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if larger.as_ref().map_or(true, |(_, size)| *size < new_len) {
            *larger = Some((section, new_len));
        }
        Ok(())
    }

    /// Calls `f` with a section over `file` of at least `end` bytes: the largest this object
    /// made, or a new one of the file's current size if that one is too small (the file grew in
    /// another process, or through another handle).
    pub(super) fn with<R>(
        &self,
        file: &File,
        writable: bool,
        end: u64,
        f: impl FnOnce(HANDLE) -> Result<R>,
    ) -> Result<R> {
        let mut larger = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let section = match &*larger {
            Some((h, size)) if *size >= end => raw(h),
            _ => {
                let size = file.metadata()?.len();
                if size < end {
                    return Err(Error::new(
                        ErrorKind::OutOfRange,
                        format!(
                            "the view would reach byte {}, and the file has {} bytes",
                            end, size
                        ),
                    ));
                }
                let h = section_over(file, size, writable)?;
                raw(&larger.insert((h, size)).0)
            }
        };
        // The lock is held through `f`, so the section stays open while it is mapped.
        f(section)
    }
}

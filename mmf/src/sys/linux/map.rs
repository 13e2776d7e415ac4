//! Mapping an object (`mmap`) and the mapped range, `RawMap`: flush, advice, prefault, locking,
//! and the `SIGBUS` guards of `fault.rs`.
//!
//! # Safety
//!
//! See `linux/mod.rs`: each unsafe call states the invariant it relies on.

#![allow(unsafe_code)]

use super::unix_map::UnixMap;
use super::Object;
use crate::sys::contract::{MapOps, Maps};
use crate::sys::{Error, Result};
use crate::types::{Access, Advice, UncheckedAdvice};
use rustix::fd::AsFd;
use rustix::io::Errno;
use rustix::mm::{self, MapFlags};

/// How a mapping is placed at a chosen address without replacing what is there: Linux's
/// `MAP_FIXED_NOREPLACE`; rustix has no such flag for Android, where the address is a hint.
#[cfg(target_os = "linux")]
const FIXED: MapFlags = MapFlags::FIXED_NOREPLACE;
#[cfg(target_os = "android")]
const FIXED: MapFlags = MapFlags::empty();

impl Maps for Object {
    /// `mmap`; with `at`, `MAP_FIXED_NOREPLACE` (on Android only a hint, undone if the kernel
    /// placed the mapping elsewhere), so nothing mapped is replaced.
    unsafe fn map(
        &self,
        offset: u64,
        len: usize,
        access: Access,
        at: Option<usize>,
    ) -> Result<RawMap> {
        // SAFETY: forwarded from the caller; `FIXED` never replaces a mapping.
        let map = unsafe { UnixMap::map(self.fd.as_fd(), offset, len, access, at, FIXED) }?;
        Ok(RawMap {
            map,
            offset,
            access,
        })
    }
}

/// A mapped range, unmapped on drop.
pub(crate) struct RawMap {
    map: UnixMap,
    /// The object offset it maps and how (to map a page back after a fault; see `fault.rs`).
    offset: u64,
    access: Access,
}

impl MapOps for RawMap {
    fn as_ptr(&self) -> *mut u8 {
        self.map.as_ptr()
    }

    /// Runs `f`, which accesses `len` bytes at `offset` of this mapping of `object`, catching
    /// `SIGBUS` there (see `fault.rs`). At most `MAX_GUARD_PAGES` pages, inside the mapping.
    fn guard<R>(
        &self,
        object: &Object,
        offset: usize,
        len: usize,
        f: impl FnOnce() -> R,
    ) -> std::result::Result<R, crate::sys::Fault> {
        super::fault::guarded(&self.target(object), offset, len, f)
    }

    /// Calls `f(position, length)` for pieces of `len` bytes at `offset` of this mapping, each
    /// under its own guard (see `fault.rs`); stops at the first piece that faulted.
    fn guard_each(
        &self,
        object: &Object,
        offset: usize,
        len: usize,
        f: impl FnMut(usize, usize),
    ) -> std::result::Result<(), crate::sys::Fault> {
        super::fault::guarded_each(&self.target(object), offset, len, f)
    }

    fn flush(&self, offset: usize, len: usize, wait: bool) -> Result<()> {
        self.map.flush(offset, len, wait)
    }

    /// `madvise` with advice that does not change memory contents, transparent huge pages
    /// included.
    fn advise(&self, offset: usize, len: usize, advice: Advice) -> Result<()> {
        let advice = match advice {
            Advice::HugePage => mm::Advice::LinuxHugepage,
            Advice::NoHugePage => mm::Advice::LinuxNoHugepage,
            other => match UnixMap::portable(other) {
                Some(a) => a,
                None => return Err(Error::unsupported("this advice has no Linux equivalent")),
            },
        };
        // SAFETY: none of these change what the memory holds.
        unsafe { self.map.madvise(offset, len, advice) }
    }

    /// `madvise` with advice that may discard contents.
    ///
    /// # Safety
    /// Nobody may hold a reference into the range that assumes its contents do not change.
    unsafe fn advise_unchecked(
        &self,
        offset: usize,
        len: usize,
        advice: UncheckedAdvice,
    ) -> Result<()> {
        let advice = match advice {
            UncheckedAdvice::DontNeed => mm::Advice::LinuxDontNeed,
            UncheckedAdvice::Remove => mm::Advice::LinuxRemove,
        };
        // SAFETY: requirements forwarded to the caller.
        unsafe { self.map.madvise(offset, len, advice) }
    }

    /// Prefaults the range (`MADV_POPULATE_READ`/`_WRITE`, Linux 5.14): an error, not a signal,
    /// if memory cannot be provided.
    fn populate(&self, offset: usize, len: usize, write: bool) -> Result<()> {
        let advice = if write {
            mm::Advice::LinuxPopulateWrite
        } else {
            mm::Advice::LinuxPopulateRead
        };
        // SAFETY: populating does not change contents (write-populate only makes pages
        // writable-present, as a write of the same bytes would).
        match unsafe { self.map.madvise(offset, len, advice) } {
            Ok(()) => Ok(()),
            // EFAULT: the backing store could not provide a page (a full tmpfs, say).
            Err(e) if e.raw_os_error() == Some(Errno::FAULT.raw_os_error()) => {
                Err(Error::os(Errno::NOSPC))
            }
            Err(e) if e.raw_os_error() == Some(Errno::INVAL.raw_os_error()) => Err(
                Error::unsupported("prefaulting needs Linux 5.14 (MADV_POPULATE_READ/WRITE)"),
            ),
            Err(e) => Err(e),
        }
    }

    fn lock(&self, offset: usize, len: usize) -> Result<()> {
        self.map.lock(offset, len)
    }

    fn unlock(&self, offset: usize, len: usize) -> Result<()> {
        self.map.unlock(offset, len)
    }
}

impl RawMap {
    #[inline]
    fn target<'a>(&self, object: &'a Object) -> super::fault::Target<'a> {
        super::fault::Target {
            fd: object.fd.as_fd(),
            base: self.map.as_ptr(),
            len: self.map.len(),
            file_offset: self.offset,
            writable: self.access != Access::ReadOnly,
            private: self.access == Access::CopyOnWrite,
        }
    }
}

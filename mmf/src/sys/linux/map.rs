//! Mapping an object (`mmap`) and the mapped range, `RawMap`: flush, advice, prefault, locking,
//! and the `SIGBUS` guards of `fault.rs`.
//!
//! # Safety
//!
//! See `linux/mod.rs`: each unsafe call states the invariant it relies on.

#![allow(unsafe_code)]

use super::{ioerr, Object};
use crate::sys::contract::{MapOps, Maps};
use crate::sys::unix_map::UnixMap;
use crate::types::{Access, Advice, UncheckedAdvice};
use rustix::fd::AsFd;
use rustix::io::Errno;
use rustix::mm::{self, MapFlags, ProtFlags};
use std::ffi::c_void;
use std::io;

impl Maps for Object {
    /// Maps `len` bytes at `offset`.
    ///
    /// # Safety
    /// `offset` is a multiple of the allocation granularity, `len > 0`, and `offset + len` lies
    /// within the object. With `at`, the range is mapped only if nothing is mapped there already.
    unsafe fn map(
        &self,
        offset: u64,
        len: usize,
        access: Access,
        at: Option<usize>,
    ) -> io::Result<RawMap> {
        let (prot, mut flags) = match access {
            Access::ReadOnly => (ProtFlags::READ, MapFlags::SHARED),
            Access::ReadWrite => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED),
            Access::CopyOnWrite => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE),
        };
        let hint = match at {
            Some(a) => {
                flags |= MapFlags::FIXED_NOREPLACE;
                a as *mut c_void
            }
            None => std::ptr::null_mut(),
        };
        // SAFETY: a fresh mapping; with FIXED_NOREPLACE the kernel refuses to replace anything
        // already mapped, so no existing memory is affected. Range validity is forwarded from the
        // caller.
        let p = unsafe { mm::mmap(hint, len, prot, flags, &self.fd, offset) }.map_err(ioerr)?;
        if at.is_some() && p != hint {
            // A kernel older than 4.17 ignores FIXED_NOREPLACE and treats the address as a hint.
            // SAFETY: `p` is the mapping we just made, of `len` bytes, referenced nowhere else.
            let _ = unsafe { mm::munmap(p, len) };
            return Err(io::Error::from_raw_os_error(Errno::EXIST.raw_os_error()));
        }
        Ok(RawMap {
            // SAFETY: `p` is the mapping just made, `len` bytes long, owned by nothing else.
            map: unsafe { UnixMap::from_raw(p, len) },
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

    fn flush(&self, offset: usize, len: usize, wait: bool) -> io::Result<()> {
        self.map.flush(offset, len, wait)
    }

    /// `madvise` with advice that does not change memory contents, transparent huge pages
    /// included.
    fn advise(&self, offset: usize, len: usize, advice: Advice) -> io::Result<()> {
        let advice = match advice {
            Advice::HugePage => mm::Advice::LinuxHugepage,
            Advice::NoHugePage => mm::Advice::LinuxNoHugepage,
            other => match UnixMap::portable(other) {
                Some(a) => a,
                None => return Err(io::ErrorKind::Unsupported.into()),
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
    ) -> io::Result<()> {
        let advice = match advice {
            UncheckedAdvice::DontNeed => mm::Advice::LinuxDontNeed,
            UncheckedAdvice::Remove => mm::Advice::LinuxRemove,
        };
        // SAFETY: requirements forwarded to the caller.
        unsafe { self.map.madvise(offset, len, advice) }
    }

    /// Prefaults the range (`MADV_POPULATE_READ`/`_WRITE`, Linux 5.14): an error, not a signal,
    /// if memory cannot be provided.
    fn populate(&self, offset: usize, len: usize, write: bool) -> io::Result<()> {
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
                Err(io::Error::from_raw_os_error(Errno::NOSPC.raw_os_error()))
            }
            Err(e) if e.raw_os_error() == Some(Errno::INVAL.raw_os_error()) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "prefaulting needs Linux 5.14 (MADV_POPULATE_READ/WRITE)",
            )),
            Err(e) => Err(e),
        }
    }

    fn lock(&self, offset: usize, len: usize) -> io::Result<()> {
        self.map.lock(offset, len)
    }

    fn unlock(&self, offset: usize, len: usize) -> io::Result<()> {
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

//! Mapping a section (`MapViewOfFileEx`) and the mapped view, `RawMap`: flush, advice, prefetch,
//! locking.
//!
//! # Safety
//!
//! Win32 calls take raw pointers and handles; each call states the invariant it relies on (see
//! `windows/mod.rs`).
#![allow(unsafe_code)]

use super::{last_error, os_code, page_size, raw, split64, Object};
use crate::sys::contract::{MapOps, Maps};
use crate::sys::{Error, Result};
use crate::types::{Access, Advice, UncheckedAdvice};
use std::ffi::c_void;
use std::io;
use std::sync::atomic::Ordering;
use windows_sys::Win32::Foundation::{
    BOOL, ERROR_ALREADY_EXISTS, ERROR_INVALID_ADDRESS, ERROR_NOT_LOCKED, HANDLE,
};
use windows_sys::Win32::System::Memory::{
    FlushViewOfFile, MapViewOfFileEx, UnmapViewOfFile, VirtualAlloc, VirtualLock, VirtualProtect,
    VirtualUnlock, FILE_MAP_COPY, FILE_MAP_READ, FILE_MAP_WRITE, MEMORY_MAPPED_VIEW_ADDRESS,
    MEM_COMMIT, PAGE_READONLY, PAGE_READWRITE, PAGE_WRITECOPY, WIN32_MEMORY_RANGE_ENTRY,
};
use windows_sys::Win32::System::Threading::GetCurrentProcess;

impl Maps for Object {
    /// `MapViewOfFileEx`, committing the pages first for a `SEC_RESERVE` section. With `at`,
    /// Windows maps only if the range is free; it never replaces an existing mapping. A view of
    /// a file past the section made when it was opened maps a larger one (`file_growth.rs`).
    unsafe fn map(
        &self,
        offset: u64,
        len: usize,
        access: Access,
        at: Option<usize>,
    ) -> Result<RawMap> {
        let end = offset.saturating_add(len as u64);
        self.with_section(end, |s| {
            // SAFETY: forwarded from the caller.
            unsafe { self.map_section(s, offset, len, access, at) }
        })
    }
}

impl Object {
    /// Calls `f` with a section of this object that covers its first `end` bytes: the one it was
    /// opened with, or for a file that grew since, a larger one (`file_growth.rs`).
    pub(super) fn with_section<R>(
        &self,
        end: u64,
        f: impl FnOnce(HANDLE) -> Result<R>,
    ) -> Result<R> {
        match (&self.file, &self.section) {
            (Some(file), _) if end > self.size => self.larger.with(file, self.writable, end, f),
            (_, Some(h)) => f(raw(h)),
            (_, None) => Err(Error::new(
                crate::ErrorKind::InvalidInput,
                "an empty file has no bytes to map",
            )),
        }
    }

    /// [`Maps::map`] of `section`, one of this object's sections.
    ///
    /// # Safety
    /// As for [`Maps::map`].
    unsafe fn map_section(
        &self,
        section: HANDLE,
        offset: u64,
        len: usize,
        access: Access,
        at: Option<usize>,
    ) -> Result<RawMap> {
        let (desired, commit_prot) = match access {
            Access::ReadOnly => (FILE_MAP_READ, PAGE_READONLY),
            Access::ReadWrite => (FILE_MAP_READ | FILE_MAP_WRITE, PAGE_READWRITE),
            Access::CopyOnWrite => (FILE_MAP_COPY, PAGE_WRITECOPY),
        };
        let (hi, lo) = split64(offset);
        let base = at.unwrap_or(0) as *const c_void;
        // SAFETY: a fresh view of a section we hold; a non-null base is used only if the range is
        // free (Windows never replaces a mapping). Range validity is forwarded from the caller.
        let view = unsafe { MapViewOfFileEx(section, desired, hi, lo, len, base) };
        if view.Value.is_null() {
            let err = last_error();
            if at.is_some() && os_code(&err) == ERROR_INVALID_ADDRESS {
                return Err(io::Error::from_raw_os_error(ERROR_ALREADY_EXISTS as i32).into());
            }
            return Err(err.into());
        }
        let map = RawMap {
            ptr: view.Value as *mut u8,
            len,
            access,
        };
        if self.reserve {
            // VirtualAlloc does not take PAGE_WRITECOPY: a copy-on-write view commits its pages
            // read-only, then asks for copy-on-write with VirtualProtect.
            let first = if commit_prot == PAGE_WRITECOPY {
                PAGE_READONLY
            } else {
                commit_prot
            };
            // SAFETY: commits pages of the view we just mapped (`len` bytes at its start); no
            // other memory is touched. On failure `map` is dropped, which unmaps the view.
            let p = unsafe { VirtualAlloc(map.ptr as *const c_void, len, MEM_COMMIT, first) };
            if p.is_null() {
                return Err(last_error().into());
            }
            if first != commit_prot {
                let (at, mut old) = (map.ptr as *const c_void, 0);
                // SAFETY: changes the protection of the same pages of our own view, which the
                // view's access (FILE_MAP_COPY) allows.
                let ok = unsafe { VirtualProtect(at, len, commit_prot, &mut old) };
                if ok == 0 {
                    return Err(last_error().into());
                }
            }
        }
        Ok(map)
    }
}

/// A mapped view, unmapped on drop (`UnmapViewOfFile`).
pub(crate) struct RawMap {
    ptr: *mut u8,
    len: usize,
    access: Access,
}

type PrefetchFn =
    unsafe extern "system" fn(HANDLE, usize, *const WIN32_MEMORY_RANGE_ENTRY, u32) -> BOOL;

#[link(name = "kernel32")]
extern "system" {
    fn GetModuleHandleW(name: *const u16) -> HANDLE;
    fn GetProcAddress(module: HANDLE, name: *const u8) -> *mut c_void;
}

/// `PrefetchVirtualMemory` (Windows 8 and later), looked up at run time so that the library still
/// loads on Windows 7.
fn prefetch_fn() -> Option<PrefetchFn> {
    let kernel32: Vec<u16> = "kernel32.dll\0".encode_utf16().collect();
    // SAFETY: a NUL-terminated module name; kernel32 is loaded in every Win32 process and is never
    // unloaded, so the returned handle needs no release.
    let module = unsafe { GetModuleHandleW(kernel32.as_ptr()) };
    if module.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated ASCII name and a loaded module.
    let f = unsafe { GetProcAddress(module, b"PrefetchVirtualMemory\0".as_ptr()) };
    if f.is_null() {
        return None;
    }
    // SAFETY: PrefetchVirtualMemory has exactly this signature (memoryapi.h), and function and
    // data pointers have the same size on Windows.
    Some(unsafe { std::mem::transmute::<*mut c_void, PrefetchFn>(f) })
}

impl MapOps for RawMap {
    /// The first byte of the mapping.
    fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Access-pattern advice. Windows has no per-range readahead hints for views, so `Normal`,
    /// `Sequential` and `Random` are accepted and change nothing; `WillNeed` starts reading the
    /// range in (`PrefetchVirtualMemory`, Windows 8 and later; nothing on older systems);
    /// transparent huge pages do not exist on Windows, so `NoHugePage` holds already and
    /// `HugePage` is `Unsupported`.
    fn advise(&self, offset: usize, len: usize, advice: Advice) -> Result<()> {
        crate::sys::span(self.len, offset, len)?;
        match advice {
            Advice::Normal | Advice::Sequential | Advice::Random => Ok(()),
            Advice::WillNeed => {
                let f = match prefetch_fn() {
                    Some(f) => f,
                    None => return Ok(()),
                };
                let entry = WIN32_MEMORY_RANGE_ENTRY {
                    VirtualAddress: self.at(offset) as *mut c_void,
                    NumberOfBytes: len,
                };
                // SAFETY: one entry describing a range inside this live view; prefetching does
                // not change memory contents.
                if unsafe { f(GetCurrentProcess(), 1, &entry, 0) } == 0 {
                    return Err(last_error().into());
                }
                Ok(())
            }
            // Windows has no transparent huge pages: never using them is what it does anyway.
            Advice::NoHugePage => Ok(()),
            Advice::HugePage => Err(Error::unsupported(
                "Windows has no transparent huge pages (only large-page sections, which need \
                 SeLockMemoryPrivilege)",
            )),
        }
    }

    /// Advice that may change contents. `DontNeed` on a shared view trims its pages from this
    /// process's working set (`VirtualUnlock` on unlocked pages); the object keeps its contents, as
    /// with `MADV_DONTNEED` on a shared mapping. Windows cannot discard a copy-on-write view's
    /// private pages, nor free a section's memory (`Remove`): both are `Unsupported`.
    ///
    /// # Safety
    /// Nobody may hold a reference into the range that assumes its contents do not change.
    unsafe fn advise_unchecked(
        &self,
        offset: usize,
        len: usize,
        advice: UncheckedAdvice,
    ) -> Result<()> {
        crate::sys::span(self.len, offset, len)?;
        match advice {
            UncheckedAdvice::DontNeed if self.access != Access::CopyOnWrite => {
                // SAFETY: a range inside this live view; unlocking pages that are not locked only
                // removes them from the working set, contents stay.
                let ok = unsafe { VirtualUnlock(self.at(offset), len) };
                let err = last_error();
                if ok == 0 && os_code(&err) != ERROR_NOT_LOCKED {
                    return Err(err.into());
                }
                Ok(())
            }
            UncheckedAdvice::DontNeed => Err(Error::unsupported(
                "Windows cannot discard the private pages of a copy-on-write view; map it again",
            )),
            UncheckedAdvice::Remove => Err(Error::unsupported(
                "Windows cannot free the memory of a section while it exists",
            )),
        }
    }

    /// Faults every page of the range in by touching it: an atomic load, or for `write` an atomic
    /// add of zero, which makes the page present and writable without changing any byte, even
    /// while other processes write. Pagefile-backed sections are charged at creation (or at
    /// mapping, for `SEC_RESERVE`), so this cannot run out of memory.
    fn populate(&self, offset: usize, len: usize, write: bool) -> Result<()> {
        crate::sys::span(self.len, offset, len)?;
        let page = page_size();
        let mut at = offset;
        while at < offset + len {
            // SAFETY: `at` lies inside this live view (caller-checked range); u8 atomics need no
            // alignment; the view is writable when `write` is set (the core passes `write` only
            // for read-write and copy-on-write views).
            let byte = unsafe { &*(self.ptr.add(at) as *const std::sync::atomic::AtomicU8) };
            if write {
                byte.fetch_add(0, Ordering::Relaxed);
            } else {
                byte.load(Ordering::Relaxed);
            }
            at += page;
        }
        Ok(())
    }

    /// `VirtualLock`: the pages stay resident. Windows limits this to the process's minimum
    /// working set (`ERROR_WORKING_SET_QUOTA`).
    fn lock(&self, offset: usize, len: usize) -> Result<()> {
        crate::sys::span(self.len, offset, len)?;
        // SAFETY: a range inside this live view; locking does not change contents.
        if unsafe { VirtualLock(self.at(offset), len) } == 0 {
            return Err(last_error().into());
        }
        Ok(())
    }

    /// `VirtualUnlock`.
    fn unlock(&self, offset: usize, len: usize) -> Result<()> {
        crate::sys::span(self.len, offset, len)?;
        // SAFETY: as for `lock`.
        if unsafe { VirtualUnlock(self.at(offset), len) } == 0 {
            return Err(last_error().into());
        }
        Ok(())
    }

    /// `FlushViewOfFile` on `[offset, offset + len)` of this view. Windows starts the writes and
    /// returns; `wait` changes nothing (durability needs `FlushFileBuffers`, see `sync_file`).
    fn flush(&self, offset: usize, len: usize, _wait: bool) -> Result<()> {
        crate::sys::span(self.len, offset, len)?;
        if len == 0 {
            // FlushViewOfFile treats 0 as "to the end of the view".
            return Ok(());
        }
        // SAFETY: the range lies within this live view (caller-checked); flushing does not change
        // memory contents.
        let ok = unsafe { FlushViewOfFile(self.at(offset), len) };
        if ok == 0 {
            return Err(last_error().into());
        }
        Ok(())
    }
}

impl RawMap {
    fn at(&self, offset: usize) -> *const c_void {
        debug_assert!(offset <= self.len);
        // SAFETY: callers pass an offset within the view (checked by the core), so the pointer
        // stays inside this live view.
        unsafe { self.ptr.add(offset) as *const c_void }
    }
}

impl Drop for RawMap {
    fn drop(&mut self) {
        // SAFETY: `ptr` is the base of a view this RawMap mapped and owns; every reference into it
        // borrows the View that owns this RawMap, so none outlives it.
        unsafe {
            UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS {
                Value: self.ptr as *mut c_void,
            })
        };
    }
}

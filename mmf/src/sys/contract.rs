//! The contract every backend implements, checked by the compiler on every target: the object's
//! operations and the mapped range's as traits (one per concern, matching the backends' files),
//! and the free functions and the notifier as signatures that each backend's items must have
//! (`SIGNATURES` below). A backend that lacks a function, or gives it another signature, does
//! not compile, whichever target it is built for.
//!
//! Callers bring the traits into scope with `use crate::sys::contract::*`.
//!
//! # Safety
//!
//! The traits declare two unsafe methods (`Maps::map`, `MapOps::advise_unchecked`), whose
//! `# Safety` sections are the contract each implementation relies on; nothing here calls them.
#![allow(unsafe_code)]

use super::{
    CreateSpec, Fault, Inheritance, Init, Notifier, Object, OpenSpec, RawMap, Result, Shortage,
};
use crate::types::{Access, Advice, Backing, Disposition, Lifetime, ObjectInfo, UncheckedAdvice};
use crate::Name;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Named objects (`named.rs`).
pub(crate) trait NamedObject: Sized {
    /// A new named object; `AlreadyExists` if the name is taken. The object is fully sized,
    /// committed and passed to `init` (a throwaway `Object` for the same memory) before any other
    /// process can open it by name. (Windows cannot name a section after creating it: there
    /// `init` runs right after creation, and openers rely on the contents' own ready flag.)
    fn create(spec: &CreateSpec<'_>, init: &mut Init<'_>) -> Result<Self>;

    /// An existing named object; `NotFound` if none.
    fn open(spec: &OpenSpec<'_>) -> Result<Self>;

    /// Exactly one caller among any number of racing processes gets `Created`; `init` runs only
    /// for the creator.
    fn open_or_create(
        c: &CreateSpec<'_>,
        o: &OpenSpec<'_>,
        init: &mut Init<'_>,
    ) -> Result<(Self, Disposition)>;
}

/// Unnamed memory-backed objects (`anonymous.rs`).
pub(crate) trait AnonymousObject: Sized {
    /// An unnamed memory-backed object of `size` bytes, committed now if `commit`.
    fn anonymous(size: u64, commit: bool) -> Result<Self>;

    /// An anonymous object on explicit huge pages (`MFD_HUGETLB`), or an error saying why not.
    fn anonymous_huge(size: u64) -> Result<Self>;
}

/// What every open object offers, whatever backs it.
pub(crate) trait ObjectOps: Sized {
    /// An object over `file`, whose length is already at least `size`.
    fn from_file(file: File, size: u64, writable: bool) -> Result<Self>;
    /// The object's size now.
    fn len(&self) -> Result<u64>;
    /// Grows the object to `new_len` bytes.
    fn grow(&self, new_len: u64) -> Result<()>;
    /// Writes a file-backed object's metadata and data to its storage.
    fn sync_file(&self) -> Result<()>;
    /// What ends the object's life.
    fn lifetime(&self) -> Lifetime;
    /// Whether it was opened for writing.
    fn writable(&self) -> bool;
    /// Whether its name is in Windows' `Global\` namespace.
    fn global(&self) -> bool;
}

/// Backing store: what commits memory or disk to an object, and the commit limit around it.
pub(crate) trait CommitOps {
    /// What stops `len` more bytes at `offset` from being backed (the commit limit; Linux:
    /// `linux/commit_limit.rs`); `None` if they fit or nothing can be measured, and wherever the
    /// system enforces its own limit (the default).
    fn shortage(&self, _offset: u64, _len: u64) -> Option<Shortage> {
        None
    }
    /// Whether `grow` allocates, so the core checks the limit before growing.
    fn commits_on_grow(&self) -> bool;
    /// Backs `[offset, offset + len)` with memory or disk now (`fallocate`): `OutOfSpace` at
    /// commit time instead of a fault later.
    fn commit_range(&self, offset: u64, len: u64) -> Result<()>;
    /// Stops backing `[offset, offset + len)` (hole punching); the range reads as zeros after.
    fn decommit_range(&self, offset: u64, len: u64) -> Result<()>;
}

/// Handing an object to another process (`handover.rs`).
pub(crate) trait HandOver: Sized {
    /// A handle the child spawned from `cmd` inherits (on Linux no other child does; on Windows
    /// children spawned meanwhile do too), with the token the child passes to `from_inherited`.
    /// The inherited handle counts as a holder of its own, independent of the parent's.
    fn inherit(&self, backing: Backing, cmd: &mut Command) -> Result<Inheritance>;
    /// Takes over the handle `token` describes.
    fn from_inherited(token: &str) -> Result<(Self, Backing, Option<Name>)>;
    /// Sends this object over a Unix socket (`SCM_RIGHTS`).
    #[cfg(unix)]
    fn send(&self, backing: Backing, sock: &std::os::unix::net::UnixStream) -> Result<()>;
    /// Receives an object sent with `send`.
    #[cfg(unix)]
    fn receive(sock: &std::os::unix::net::UnixStream) -> Result<(Self, Backing, Option<Name>)>;
}

/// Mapping an object (`map.rs`).
pub(crate) trait Maps {
    /// Maps `len` bytes at `offset` with `access`, at the address `at` if given.
    ///
    /// # Safety
    /// `offset` is a multiple of `allocation_granularity()`, `len > 0` and `offset + len <=
    /// len()` (checked by the caller). Mapping at a caller-chosen address must not replace an
    /// existing mapping: the backend refuses an occupied range (`AlreadyExists`).
    unsafe fn map(
        &self,
        offset: u64,
        len: usize,
        access: Access,
        at: Option<usize>,
    ) -> Result<RawMap>;
}

/// A mapped range; dropping it unmaps. Offsets are page-aligned (by the caller); every method that
/// takes a range checks it lies within the mapping ([`span`](super::span)) and refuses it
/// otherwise.
pub(crate) trait MapOps {
    /// The first byte.
    fn as_ptr(&self) -> *mut u8;
    /// Writes dirty pages back to the object (`msync`, `FlushViewOfFile`); `wait` for them.
    fn flush(&self, offset: usize, len: usize, wait: bool) -> Result<()>;
    /// Advice that does not change the memory's contents.
    fn advise(&self, offset: usize, len: usize, advice: Advice) -> Result<()>;
    /// Advice that may change the memory's contents.
    ///
    /// # Safety
    /// Nobody may hold a reference into the range that assumes its contents do not change.
    unsafe fn advise_unchecked(
        &self,
        offset: usize,
        len: usize,
        advice: UncheckedAdvice,
    ) -> Result<()>;
    /// Prefaults the range, reporting errors instead of faulting.
    fn populate(&self, offset: usize, len: usize, write: bool) -> Result<()>;
    /// Locks the range in memory (`mlock`, `VirtualLock`).
    fn lock(&self, offset: usize, len: usize) -> Result<()>;
    /// Unlocks the range.
    fn unlock(&self, offset: usize, len: usize) -> Result<()>;

    /// Runs `f`, which accesses `len` bytes at `offset` of this mapping of `object`, so that a
    /// page that cannot be provided (the object was truncated under the view, or its file system
    /// is full) makes the access read zeros and the call return a [`Fault`] instead of killing
    /// the process with `SIGBUS`; the mapping is intact afterwards. The range lies inside the
    /// mapping and covers at most 16 pages; guards nest. Linux: `linux/fault.rs`.
    ///
    /// The default runs `f` unguarded: Windows sections cannot shrink while a view is mapped
    /// (and pagefile-backed sections are committed at creation, or by `MEM_COMMIT`, which fails
    /// cleanly), the POSIX backend has no `SIGBUS` recovery yet, and the fallback maps nothing.
    fn guard<R>(
        &self,
        _object: &Object,
        _offset: usize,
        _len: usize,
        f: impl FnOnce() -> R,
    ) -> std::result::Result<R, Fault> {
        Ok(f())
    }

    /// Runs `f(position, length)` over a range of any size in pieces, each under its own guard,
    /// and stops at the first piece that faulted (positions are offsets into the mapping). The
    /// default, unguarded, calls `f` once for the whole range.
    fn guard_each(
        &self,
        _object: &Object,
        offset: usize,
        len: usize,
        mut f: impl FnMut(usize, usize),
    ) -> std::result::Result<(), Fault> {
        if len > 0 {
            f(offset, len);
        }
        Ok(())
    }
}

/// The free functions and the notifier: each backend's item must have exactly this signature.
#[allow(dead_code)]
const SIGNATURES: () = {
    // The granularity of view offsets (4 KiB on Linux, 64 KiB on Windows). The core aligns
    // offsets itself; backends receive aligned offsets only.
    let _: fn() -> usize = super::page_size;
    let _: fn() -> usize = super::allocation_granularity;
    // The namespace: the directory it resolves to (`None` where names are not files), and its
    // maintenance.
    let _: fn(Option<&Path>) -> Option<PathBuf> = super::namespace_dir;
    let _: fn(&Name, Option<&Path>) -> Result<()> = super::remove;
    let _: fn(Option<&Path>) -> Result<Vec<ObjectInfo>> = super::list;
    let _: fn(Option<&Path>) -> Result<Vec<String>> = super::gc;
    let _: fn(&Inheritance) -> &str = Inheritance::token;
    // Blocking notification and process identity (see the module documentation of `sys`).
    let _: fn(Option<&Name>, bool) -> Result<Notifier> = Notifier::new;
    let _: fn(&Notifier, &AtomicU32, u32, Option<Duration>) -> io::Result<bool> = Notifier::wait;
    let _: fn(&Notifier, &AtomicU32) = Notifier::wake_all;
    let _: fn() -> u64 = super::process_token;
    let _: fn(u64) -> Option<bool> = super::process_alive;
    let _: fn(u64) -> Option<bool> = super::process_stopped;
    let _: fn() -> u64 = super::now_ms;
    let _: fn() -> u64 = super::fault_epoch;
};

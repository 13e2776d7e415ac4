//! The Windows backend, on the real Win32 API: a named object is a pagefile-backed section named
//! `Local\NAME` (or `Global\NAME` on request), an anonymous object is an unnamed section, a
//! file-backed object is a section over the file's handle.
//!
//! # How the Linux model maps onto Win32
//!
//! - **Lifetime.** [`Lifetime::Handle`] is native: the kernel removes a section's name when its
//!   last handle closes, also when the holders are killed. [`Lifetime::Persistent`] has no
//!   section equivalent (without a privilege only services have, no section outlives every handle
//!   to it), so a persistent object is a file in a per-user directory, `%LOCALAPPDATA%\mmf` (or
//!   `%MMF_DIR%`, or the directory given), that each process maps through a section of its own;
//!   `Namespace::remove` deletes it (`persistent.rs`, which also says how native programs open
//!   it). A name is either kind, never both.
//! - **Creation.** `CreateFileMappingW` creates, sizes and commits a section atomically, and
//!   reports `ERROR_ALREADY_EXISTS` when the name was taken, which gives `AlreadyExists` for
//!   `create` and `Created`/`Opened` for `open_or_create`. A section cannot be named after it was
//!   created, so the creator's initialiser runs right after creation, while openers may already
//!   map it; contents that need a ready flag publish one themselves (shared values do).
//! - **Size.** Pagefile-backed sections have a fixed size (`grow` is `Unsupported`), except
//!   growable ones, which shared values create: they reserve room and grow within it (`grow.rs`).
//!   A file (a mapped file, a persistent object) grows as on Linux: the file is extended, and
//!   views past the old end map a larger section over it (`file_growth.rs`). The size of a named
//!   section comes from `NtQuerySection` (`SectionBasicInformation`), the one call that reports
//!   it, for its creator as for every opener, so all handles agree on where the object ends. It
//!   may be rounded up to a whole page: Wine does so for pagefile-backed sections (a 10 000-byte
//!   object is 12 288 bytes there), so an object may have up to a page more than was asked for,
//!   all of it zero-filled and mappable. Size checks (`min_size`, `open_or_create`) compare
//!   against this size, so they never fail spuriously.
//! - **Commit.** [`CreateOptions::commit`](crate::CreateOptions::commit)`(true)` (the default) is
//!   `SEC_COMMIT`, charged at creation. `Commit::Reserve` is `SEC_RESERVE`: each view commits the
//!   pages it covers when it is mapped (`VirtualAlloc(MEM_COMMIT)`), so the charge follows what
//!   is actually mapped.
//! - **Permissions.** [`Permissions`](crate::Permissions) become a protected DACL on the new
//!   section (`security.rs`): the owner class is the creator's user, the group class its primary
//!   group, the other class Everyone; owner-only by default. `Global\` creation without
//!   `SeCreateGlobalPrivilege` is a `PermissionDenied` that names the privilege.
//! - **Ownership.** As on Linux, `open` refuses an object that belongs to someone else unless
//!   `allow_other_owner` is set: the section's owner (`GetSecurityInfo`) must be this process's
//!   user or its default owner. An owner always has `READ_CONTROL`, so an object that opens only
//!   without it is someone else's. Where the system records no owner, there is nothing to
//!   compare and the object is accepted. (Wine records the creator's primary group as a
//!   section's owner.)
//! - **Namespace maintenance.** `list` enumerates the sections of the session's NT object
//!   directory (`Local\`) and of `Global\` (listed as `Global\NAME`) through the native API
//!   (`objdir.rs`), with their sizes and handle counts, and the files of the persistent directory;
//!   mmf's own helper objects (`.mmf-…`) are left out. `remove` deletes a persistent object; for a
//!   handle-lifetime object it is `Unsupported` (a name goes away with its last handle and cannot
//!   be taken away from its holders), and `NotFound` for a missing one. `gc` removes what
//!   creators killed midway left in the persistent directory; the kernel itself removes every
//!   section name whose holders are gone.
//! - **Inheritance.** `inherit` duplicates the section handle as inheritable; the parent's copy is
//!   closed when the returned `Inheritance` is dropped. Win32 gives every inheritable handle to
//!   *every* child created meanwhile (`std` spawns with `bInheritHandles = TRUE`), so a child
//!   another thread spawns between `inherit` and the drop also receives it (without knowing its
//!   value); keep that window short. The child takes ownership of the handle value from the token
//!   and clears its inherit flag.
//!
//! # Safety
//!
//! This module calls Win32 functions, which are `unsafe` because they take raw pointers and
//! handles, and it creates and destroys views, memory the compiler does not know about. Each call
//! states the invariant it relies on; handles are owned by `OwnedHandle` as soon as they exist.
#![allow(unsafe_code)]

use crate::sys::contract::{CommitOps, ObjectOps};
use crate::sys::{Error, Result};
use crate::types::Lifetime;
use crate::{ErrorKind, Name};
use std::fs::File;
use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use windows_sys::Win32::Foundation::{HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Storage::FileSystem::READ_CONTROL;
use windows_sys::Win32::System::Memory::SECTION_QUERY;
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};

mod anonymous;
mod file_growth;
mod grow;
mod handover;
mod map;
mod named;
mod namespace;
// Blocking notification and process identity, for shared values (see `sys/mod.rs`).
mod notify;
mod objdir;
mod owner;
mod persistent;
mod section;
pub(crate) mod security;

pub(crate) use self::handover::Inheritance;
pub(crate) use self::map::RawMap;
pub(crate) use self::namespace::{gc, list, remove};
#[allow(unused_imports)]
pub(crate) use self::notify::*;

static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);
static GRANULARITY: AtomicUsize = AtomicUsize::new(0);

fn system_info() -> (usize, usize) {
    let page = PAGE_SIZE.load(Ordering::Relaxed);
    let gran = GRANULARITY.load(Ordering::Relaxed);
    if page != 0 && gran != 0 {
        return (page, gran);
    }
    // SAFETY: SYSTEM_INFO is plain data (integers, pointers and a union of integers), for which
    // all-zero bytes are a valid value; GetSystemInfo fills it and cannot fail.
    let mut info: SYSTEM_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid, writable SYSTEM_INFO.
    unsafe { GetSystemInfo(&mut info) };
    let page = (info.dwPageSize as usize).max(4096);
    let gran = (info.dwAllocationGranularity as usize).max(page);
    PAGE_SIZE.store(page, Ordering::Relaxed);
    GRANULARITY.store(gran, Ordering::Relaxed);
    (page, gran)
}

/// The directory of persistent objects (`persistent.rs`); handle-lifetime objects live in the
/// kernel namespace.
pub(crate) fn namespace_dir(dir: Option<&Path>) -> Option<std::path::PathBuf> {
    persistent::resolve_dir(dir)
}

/// The page size (`dwPageSize`).
pub(crate) fn page_size() -> usize {
    system_info().0
}

/// The granularity of view offsets (`dwAllocationGranularity`, 64 KiB).
pub(crate) fn allocation_granularity() -> usize {
    system_info().1
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

fn os_code(e: &io::Error) -> u32 {
    e.raw_os_error().map(|c| c as u32).unwrap_or(0)
}

/// The access to ask for to query a section without mapping it. `SECTION_QUERY` alone is 1,
/// which is also `FILE_MAP_COPY`, and `OpenFileMappingW` takes that as a request to map for
/// reading (refused where reading is not granted); `READ_CONTROL` beside it, which mmf grants
/// every class (`security.rs`), keeps it a query.
const QUERY_ACCESS: u32 = SECTION_QUERY | READ_CONTROL;

/// The namespace prefix of a kernel object name.
fn namespace(global: bool) -> &'static str {
    if global {
        "Global\\"
    } else {
        "Local\\"
    }
}

/// `NS\PREFIXNAME` as a NUL-terminated UTF-16 string, for the `...W` functions.
pub(crate) fn kernel_name(global: bool, prefix: &str, name: &str) -> Vec<u16> {
    namespace(global)
        .encode_utf16()
        .chain(prefix.encode_utf16())
        .chain(name.encode_utf16())
        .chain(std::iter::once(0))
        .collect()
}

fn split64(v: u64) -> (u32, u32) {
    ((v >> 32) as u32, v as u32)
}

/// Takes ownership of a handle a Win32 call just returned; `None` for the failure value (NULL).
///
/// # Safety
/// `h` is NULL or a handle this process owns and nothing else will close.
pub(crate) unsafe fn owned(h: HANDLE) -> Option<OwnedHandle> {
    if h.is_null() || h == INVALID_HANDLE_VALUE {
        None
    } else {
        // SAFETY: a valid handle owned by nobody else (forwarded from the caller).
        Some(unsafe { OwnedHandle::from_raw_handle(h as RawHandle) })
    }
}

fn raw(h: &OwnedHandle) -> HANDLE {
    h.as_raw_handle() as HANDLE
}

/// A named object's identity, kept for inheritance tokens.
#[derive(Clone)]
struct Named {
    name: Name,
    global: bool,
    /// A persistent object: a file in the directory of persistent objects (`persistent.rs`).
    persistent: bool,
}

impl Named {
    /// A named section, `Local\NAME` or `Global\NAME`.
    fn section(name: &Name, global: bool) -> Named {
        Named {
            name: name.clone(),
            global,
            persistent: false,
        }
    }

    /// A persistent object, a file (`persistent.rs`).
    fn persistent(name: &Name) -> Named {
        Named {
            name: name.clone(),
            global: false,
            persistent: true,
        }
    }
}

/// An open mapping object: a section handle (none for an empty file, which Win32 cannot map), its
/// size, and for a file the file handle, for `FlushFileBuffers` and growth.
pub(crate) struct Object {
    section: Option<OwnedHandle>,
    /// The size of `section`.
    size: u64,
    writable: bool,
    /// `SEC_RESERVE`: views commit their pages when they are mapped.
    reserve: bool,
    file: Option<File>,
    named: Option<Named>,
    /// The size record of a growable section (`grow.rs`); its size is then the object's.
    growth: Option<std::sync::Arc<grow::Trailer>>,
    /// A file that grew past `section` (here or in another process) gets a larger section over
    /// it, for the views that reach past `size` (`file_growth.rs`).
    larger: file_growth::Larger,
}

impl Object {
    /// An object over `section`, of `size` bytes, with no file, name or growth record (the
    /// constructors add what they have).
    fn over(section: Option<OwnedHandle>, size: u64, writable: bool, reserve: bool) -> Object {
        Object {
            section,
            size,
            writable,
            reserve,
            file: None,
            named: None,
            growth: None,
            larger: file_growth::Larger::default(),
        }
    }
}

fn unsupported(op: &'static str, why: &'static str) -> Error {
    Error::new(ErrorKind::Unsupported, why).at(op)
}

impl ObjectOps for Object {
    /// A section over `file` of `size` bytes (the file is at least that long). Win32 cannot map
    /// an empty file, so an empty file gets no section until it grows (`file_growth.rs`): until
    /// then its only views have length 0, which the core makes without calling `map`.
    fn from_file(file: File, size: u64, writable: bool) -> Result<Object> {
        let section = if size == 0 {
            None
        } else {
            Some(file_growth::section_over(&file, size, writable).map_err(|e| e.at("map"))?)
        };
        Ok(Object {
            file: Some(file),
            ..Object::over(section, size, writable, false)
        })
    }

    /// A pagefile-backed section's size, fixed for its whole life; for a growable section the
    /// size its trailer records (`grow.rs`); for a file, the file's size (it grows, `grow`).
    fn len(&self) -> Result<u64> {
        Ok(match (&self.growth, &self.file) {
            (Some(t), _) => t.size(),
            (None, Some(f)) => f.metadata()?.len(),
            (None, None) => self.size,
        })
    }

    /// A growable section grows within the range it reserved (`grow.rs`); a file grows on disk,
    /// as on Linux (`file_growth.rs`); other sections cannot grow, and a size within the current
    /// one is already satisfied.
    fn grow(&self, new_len: u64) -> Result<()> {
        if !self.writable {
            // The core checks first (`Mapping::grow`); a read-only trailer view must never be
            // written.
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "this handle is read-only",
            ));
        }
        if let Some(t) = &self.growth {
            return t.grow(new_len);
        }
        if let Some(file) = &self.file {
            return self.larger.grow(file, new_len);
        }
        if new_len <= self.size {
            return Ok(());
        }
        Err(Error::unsupported(
            "this Windows section has a fixed size and cannot grow (a pagefile-backed section, \
             or a file's section handed over without the file); create a larger object (shared \
             values and files grow)",
        ))
    }

    /// `FlushFileBuffers` on the file (nothing for memory-backed objects, or for a file-backed
    /// object handed over by inheritance, whose file handle stayed with the parent).
    fn sync_file(&self) -> Result<()> {
        match &self.file {
            Some(f) => Ok(f.sync_all()?),
            None => Ok(()),
        }
    }

    /// [`Lifetime::Persistent`] for a persistent object's file, else [`Lifetime::Handle`].
    fn lifetime(&self) -> Lifetime {
        match &self.named {
            Some(n) if n.persistent => Lifetime::Persistent,
            _ => Lifetime::Handle,
        }
    }

    fn writable(&self) -> bool {
        self.writable
    }

    /// Whether the name lives in the `Global\` namespace (where shared values must also keep
    /// their notification objects).
    fn global(&self) -> bool {
        self.named.as_ref().map_or(false, |n| n.global)
    }
}

impl Object {
    /// The section handle, for `AsHandle` on the public types; an empty file has no section
    /// (see `from_file`), and there it is the file's handle.
    pub(crate) fn handle(&self) -> std::os::windows::io::BorrowedHandle<'_> {
        use std::os::windows::io::AsHandle;
        match (&self.section, &self.file) {
            (Some(section), _) => section.as_handle(),
            (None, Some(file)) => file.as_handle(),
            (None, None) => unreachable!("an object without a section keeps its file"),
        }
    }
}

impl CommitOps for Object {
    /// Growth commits nothing up front on Windows: a growable section commits the pages views map
    /// (`map.rs`), and a file grows on disk, where a full disk fails the growth itself. So the
    /// core does not check the commit limit before a growth; a shortage shows when a view is
    /// mapped (`OutOfSpace`).
    fn commits_on_grow(&self) -> bool {
        false
    }

    /// Every page a view covers was committed when the view was mapped (see `map`), and the
    /// core commits only ranges inside a view, so there is nothing left to do. (Committing only
    /// on demand would let a safe read of an uncommitted page of a `SEC_RESERVE` view crash the
    /// process with an access violation.)
    fn commit_range(&self, _offset: u64, _len: u64) -> Result<()> {
        Ok(())
    }

    /// Windows cannot decommit a section's pages, nor punch holes through a mapping.
    fn decommit_range(&self, _offset: u64, _len: u64) -> Result<()> {
        Err(Error::unsupported(
            "committed pages of a Windows section cannot be decommitted until the section closes",
        ))
    }
}

//! The Windows backend, on the real Win32 API: a named object is a pagefile-backed section named
//! `Local\NAME` (or `Global\NAME` on request), an anonymous object is an unnamed section, a
//! file-backed object is a section over the file's handle.
//!
//! # How the Linux model maps onto Win32
//!
//! - **Lifetime.** [`Lifetime::Handle`] is native: the kernel removes a section's name when its
//!   last handle closes, also when the holders are killed. [`Lifetime::Persistent`] has no Win32
//!   equivalent (no section outlives every handle to it) and is refused with `Unsupported` rather
//!   than emulated: an emulation would need a process that holds the handle, and that process's
//!   death would silently end the "persistent" object.
//! - **Creation.** `CreateFileMappingW` creates, sizes and commits a section atomically, and
//!   reports `ERROR_ALREADY_EXISTS` when the name was taken, which gives `AlreadyExists` for
//!   `create` and `Created`/`Opened` for `open_or_create`. A section cannot be named after it was
//!   created, so the creator's initialiser runs right after creation, while openers may already
//!   map it; contents that need a ready flag publish one themselves (shared values do).
//! - **Size.** Sections have a fixed size (`grow` is `Unsupported`). The size of an opened section
//!   comes from `NtQuerySection` (`SectionBasicInformation`), the one call that reports it. It
//!   may be rounded up to a whole page: Wine does so for pagefile-backed sections (an opener of a
//!   10 000-byte object sees 12 288 bytes there; the creator sees 10 000), so an opener may see up
//!   to a page more than the creator asked for, all of it zero-filled and mappable. Size checks
//!   (`min_size`, `open_or_create`) compare against this size, so they never fail spuriously.
//! - **Commit.** [`CreateOptions::commit`](crate::CreateOptions::commit)`(true)` (the default) is
//!   `SEC_COMMIT`, charged at creation. `Commit::Reserve` is `SEC_RESERVE`: each view commits the
//!   pages it covers when it is mapped (`VirtualAlloc(MEM_COMMIT)`), so the charge follows what
//!   is actually mapped.
//! - **Permissions.** Only [`Permissions::OWNER_ONLY`] (the creator's default security
//!   descriptor) is available; other modes are `Unsupported`, since Unix mode bits have no exact
//!   Windows counterpart.
//! - **Ownership.** As on Linux, `open` refuses an object that belongs to someone else unless
//!   `allow_other_owner` is set: the section's owner (`GetSecurityInfo`) must be this process's
//!   user or its default owner. An owner always has `READ_CONTROL`, so an object that opens only
//!   without it is someone else's. Where the system records no owner for sections (Wine), there
//!   is nothing to compare and the object is accepted.
//! - **Namespace maintenance.** Win32 cannot enumerate sections (only the undocumented NT object
//!   directory can), so `list` is `Unsupported`. `gc` has nothing to do, since the kernel already
//!   removes every name whose holders are gone, and returns an empty list. `remove` is
//!   `Unsupported` for an existing object (a name goes away with its last handle and cannot be
//!   taken away from its holders) and `NotFound` for a missing one. A directory for named objects
//!   exists only on Linux.
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

use super::{backing_tag, parse_token, CreateSpec, Init, OpenSpec};
use crate::types::{
    Access, Advice, Backing, Disposition, Lifetime, ObjectInfo, Permissions, UncheckedAdvice,
};
use crate::{Error, ErrorKind, Name, Result};
use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use windows_sys::Win32::Foundation::LocalFree;
use windows_sys::Win32::Foundation::{
    DuplicateHandle, GetHandleInformation, SetHandleInformation, BOOL, DUPLICATE_SAME_ACCESS,
    ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_FILE_INVALID, ERROR_INVALID_ADDRESS,
    ERROR_INVALID_HANDLE, ERROR_NOT_LOCKED, FALSE, HANDLE, HANDLE_FLAG_INHERIT,
    INVALID_HANDLE_VALUE, TRUE,
};
use windows_sys::Win32::Security::Authorization::{GetSecurityInfo, SE_KERNEL_OBJECT};
use windows_sys::Win32::Security::{
    EqualSid, GetTokenInformation, TokenOwner, TokenUser, OWNER_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR, PSID, TOKEN_OWNER, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::Storage::FileSystem::READ_CONTROL;
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, FlushViewOfFile, MapViewOfFileEx, OpenFileMappingW, UnmapViewOfFile,
    VirtualAlloc, VirtualLock, VirtualProtect, VirtualUnlock, FILE_MAP_COPY, FILE_MAP_READ,
    FILE_MAP_WRITE, MEMORY_MAPPED_VIEW_ADDRESS, MEM_COMMIT, PAGE_READONLY, PAGE_READWRITE,
    PAGE_WRITECOPY, SECTION_QUERY, SEC_COMMIT, SEC_RESERVE, WIN32_MEMORY_RANGE_ENTRY,
};
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

// Blocking notification and process identity, for shared values (see `sys/mod.rs`).
#[path = "notify_windows.rs"]
mod notify;
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

/// Windows names live in kernel namespaces, not in a directory.
pub(crate) fn namespace_dir(_dir: Option<&Path>) -> Option<std::path::PathBuf> {
    None
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

// --- NtQuerySection: the one way to learn an existing section's size and attributes -------------

#[repr(C)]
struct SectionBasicInformation {
    base_address: *mut c_void,
    allocation_attributes: u32,
    maximum_size: i64,
}

#[link(name = "ntdll")]
extern "system" {
    fn NtQuerySection(
        section: HANDLE,
        class: u32,
        info: *mut c_void,
        info_len: usize,
        result_len: *mut usize,
    ) -> i32;
    fn RtlNtStatusToDosError(status: i32) -> u32;
}

const SECTION_BASIC_INFORMATION: u32 = 0;

struct SectionInfo {
    size: u64,
    reserve: bool,
}

/// Size and attributes of the section `h` (which needs `SECTION_QUERY` access).
fn query_section(h: HANDLE) -> io::Result<SectionInfo> {
    let mut info = SectionBasicInformation {
        base_address: std::ptr::null_mut(),
        allocation_attributes: 0,
        maximum_size: 0,
    };
    let mut got = 0usize;
    // SAFETY: `info` is a writable buffer of the size passed; `got` is writable. A handle that
    // is not a section makes the call fail, it does not corrupt anything.
    let status = unsafe {
        NtQuerySection(
            h,
            SECTION_BASIC_INFORMATION,
            &mut info as *mut SectionBasicInformation as *mut c_void,
            std::mem::size_of::<SectionBasicInformation>(),
            &mut got,
        )
    };
    if status < 0 {
        // SAFETY: a pure conversion of a status code.
        let code = unsafe { RtlNtStatusToDosError(status) };
        return Err(io::Error::from_raw_os_error(code as i32));
    }
    Ok(SectionInfo {
        size: info.maximum_size.max(0) as u64,
        reserve: info.allocation_attributes & SEC_RESERVE != 0,
    })
}

// --- ownership: the Windows side of the name-squatting protection -------------------------------

/// Frees memory the system allocated with `LocalAlloc` (a security descriptor) on drop.
struct LocalMem(*mut c_void);

impl Drop for LocalMem {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from a function that allocates with LocalAlloc and hands
            // ownership to the caller; it is freed once, here.
            unsafe { LocalFree(self.0) };
        }
    }
}

/// One `TOKEN_INFORMATION_CLASS` of this process's token, in a buffer aligned for the structure.
fn token_info(token: &OwnedHandle, class: i32) -> io::Result<Vec<u64>> {
    let mut need = 0u32;
    // SAFETY: asks for the size only (no buffer); `need` is writable.
    unsafe { GetTokenInformation(raw(token), class, std::ptr::null_mut(), 0, &mut need) };
    let mut buf = vec![0u64; (need as usize + 7) / 8 + 1];
    let len = (buf.len() * 8) as u32;
    // SAFETY: `buf` is writable for `len` bytes and 8-byte aligned.
    let ok = unsafe {
        GetTokenInformation(
            raw(token),
            class,
            buf.as_mut_ptr() as *mut c_void,
            len,
            &mut need,
        )
    };
    if ok == 0 {
        return Err(last_error());
    }
    Ok(buf)
}

/// Whether the section `h` (opened with `READ_CONTROL`) is owned by this process's user, or by
/// the default owner its objects get (the Administrators group, for an elevated process). A
/// section without a recorded owner counts as ours.
fn owned_by_us(h: HANDLE) -> io::Result<bool> {
    let mut owner: PSID = std::ptr::null_mut();
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: every out-pointer is writable or null; on success `sd` holds the descriptor that
    // `owner` points into, freed by `_sd` after the last use of `owner`.
    let rc = unsafe {
        GetSecurityInfo(
            h,
            SE_KERNEL_OBJECT,
            OWNER_SECURITY_INFORMATION,
            &mut owner,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut sd,
        )
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc as i32));
    }
    let _sd = LocalMem(sd);
    if owner.is_null() {
        // No owner recorded (Wine keeps none for sections): nothing to compare, so nothing to
        // refuse. Windows gives every named section an owner.
        return Ok(true);
    }
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: the pseudo-handle of this process and a writable out-pointer.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(last_error());
    }
    // SAFETY: OpenProcessToken succeeded: `token` is a new handle we own.
    let token = unsafe { owned(token) }
        .ok_or_else(|| io::Error::new(io::ErrorKind::Other, "no process token"))?;
    let user = token_info(&token, TokenUser)?;
    let default_owner = token_info(&token, TokenOwner)?;
    // SAFETY: GetTokenInformation filled the buffers with a TOKEN_USER and a TOKEN_OWNER, whose
    // SID pointers point into the same buffers, alive until the end of this function.
    let (user_sid, owner_sid) = unsafe {
        (
            (*(user.as_ptr() as *const TOKEN_USER)).User.Sid,
            (*(default_owner.as_ptr() as *const TOKEN_OWNER)).Owner,
        )
    };
    // SAFETY: three valid SIDs (see above).
    Ok(unsafe { EqualSid(owner, user_sid) != 0 || EqualSid(owner, owner_sid) != 0 })
}

// --- objects -------------------------------------------------------------------------------------

/// A named object's identity, kept for inheritance tokens.
#[derive(Clone)]
struct Named {
    name: Name,
    global: bool,
}

/// An open mapping object: a section handle (none for an empty file, which Win32 cannot map), its
/// size, and for a file the file handle, for `FlushFileBuffers`.
pub(crate) struct Object {
    section: Option<OwnedHandle>,
    size: u64,
    writable: bool,
    /// `SEC_RESERVE`: views commit their pages when they are mapped.
    reserve: bool,
    file: Option<File>,
    named: Option<Named>,
}

fn unsupported(op: &'static str, what: String, why: &'static str) -> Error {
    Error::new(ErrorKind::Unsupported, op, what, why)
}

fn no_dir(op: &'static str, what: String) -> Error {
    unsupported(
        op,
        what,
        "a directory for named objects exists only on Linux; Windows names live in the \
         Local\\ or Global\\ kernel namespace",
    )
}

/// Checks the parts of a create request that Windows cannot honour.
fn check_create(spec: &CreateSpec<'_>, op: &'static str) -> Result<()> {
    let what = spec.name.describe();
    if spec.dir.is_some() {
        return Err(no_dir(op, what));
    }
    if spec.lifetime == Lifetime::Persistent {
        return Err(unsupported(
            op,
            what,
            "persistent lifetime has no Windows equivalent: a section lives only while some \
             process holds a handle or a view of it; keep a Mapping open, or map a file",
        ));
    }
    if spec.permissions != Permissions::OWNER_ONLY {
        return Err(unsupported(
            op,
            what,
            "Unix permission bits have no Windows equivalent; only Permissions::OWNER_ONLY (the \
             creator's default security descriptor) is available",
        ));
    }
    Ok(())
}

fn protection(commit: bool) -> u32 {
    PAGE_READWRITE | if commit { SEC_COMMIT } else { SEC_RESERVE }
}

/// The error for a failed CreateFileMappingW/OpenFileMappingW on a name.
fn name_error(op: &'static str, what: String, global: bool, e: io::Error) -> Error {
    match os_code(&e) {
        ERROR_INVALID_HANDLE => Error::new(
            ErrorKind::AlreadyExists,
            op,
            what,
            "the name belongs to another kind of kernel object (an event, mutex or semaphore), \
             which shares the namespace with file mappings",
        )
        .with_source(e),
        ERROR_ACCESS_DENIED if global && op != "open" => Error::new(
            ErrorKind::PermissionDenied,
            op,
            what,
            "creating objects in the Global\\ namespace needs SeCreateGlobalPrivilege (run as a \
             service or an administrator), or use the Local\\ namespace",
        )
        .with_source(e),
        _ => Error::os(op, what, e),
    }
}

/// CreateFileMappingW on the paging file. Returns the handle and whether the name existed.
fn create_section(spec: &CreateSpec<'_>, op: &'static str) -> Result<(OwnedHandle, bool)> {
    let what = spec.name.describe();
    let wname = kernel_name(spec.global, "", spec.name.as_str());
    let (hi, lo) = split64(spec.size);
    // SAFETY: INVALID_HANDLE_VALUE asks for a pagefile-backed section; `wname` is NUL-terminated
    // and outlives the call; no security attributes.
    let h = unsafe {
        CreateFileMappingW(
            INVALID_HANDLE_VALUE,
            std::ptr::null(),
            protection(spec.commit),
            hi,
            lo,
            wname.as_ptr(),
        )
    };
    // Read before anything else can change the thread's last error.
    let err = last_error();
    // SAFETY: `h` is what CreateFileMappingW returned: NULL or a new handle we own.
    match unsafe { owned(h) } {
        Some(h) => Ok((h, os_code(&err) == ERROR_ALREADY_EXISTS)),
        None => Err(name_error(op, what, spec.global, err)),
    }
}

/// The access an opener asks for.
fn open_access(writable: bool) -> u32 {
    SECTION_QUERY | FILE_MAP_READ | if writable { FILE_MAP_WRITE } else { 0 }
}

/// OpenFileMappingW with `access`.
fn open_raw(spec: &OpenSpec<'_>, access: u32) -> io::Result<OwnedHandle> {
    let wname = kernel_name(spec.global, "", spec.name.as_str());
    // SAFETY: `wname` is NUL-terminated and outlives the call.
    let h = unsafe { OpenFileMappingW(access, FALSE, wname.as_ptr()) };
    let err = last_error();
    // SAFETY: NULL or a new handle we own.
    unsafe { owned(h) }.ok_or(err)
}

fn other_owner(what: String) -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        "open",
        what,
        "it belongs to another user; opening another user's object must be asked for \
         explicitly (OpenOptions::allow_other_owner)",
    )
}

/// OpenFileMappingW; `Ok(None)` if no object has the name. Unless `allow_other_owner`, the
/// object must belong to this user (the handle then also asks for `READ_CONTROL`, which an
/// owner always has, to read the owner).
fn open_section(spec: &OpenSpec<'_>) -> Result<Option<Object>> {
    let what = spec.name.describe();
    if spec.dir.is_some() {
        return Err(no_dir("open", what));
    }
    let _ = spec.lock_timeout; // Windows has no lock to wait for
    let access = open_access(spec.writable);
    let check_owner = !spec.allow_other_owner;
    let first = open_raw(spec, access | if check_owner { READ_CONTROL } else { 0 });
    let h = match first {
        Ok(h) => h,
        Err(e) if check_owner && os_code(&e) == ERROR_ACCESS_DENIED => {
            // An owner always has READ_CONTROL: if the object opens without it, it is not ours.
            match open_raw(spec, access) {
                Ok(_) => return Err(other_owner(what)),
                Err(e) => return open_error(what, spec.writable, e),
            }
        }
        Err(e) => return open_error(what, spec.writable, e),
    };
    if check_owner && !owned_by_us(raw(&h)).map_err(|e| Error::os("open", what.clone(), e))? {
        return Err(other_owner(what));
    }
    let info = query_section(raw(&h)).map_err(|e| Error::os("open", what.clone(), e))?;
    Ok(Some(Object {
        section: Some(h),
        size: info.size,
        writable: spec.writable,
        reserve: info.reserve,
        file: None,
        named: Some(Named {
            name: spec.name.clone(),
            global: spec.global,
        }),
    }))
}

/// `Ok(None)` for a missing name, the right error otherwise.
fn open_error(what: String, writable: bool, err: io::Error) -> Result<Option<Object>> {
    if err.kind() == io::ErrorKind::NotFound {
        return Ok(None);
    }
    Err(match os_code(&err) {
        ERROR_INVALID_HANDLE => Error::new(
            ErrorKind::InvalidInput,
            "open",
            what,
            "the name belongs to another kind of kernel object (an event, mutex or semaphore), \
             not a file mapping",
        )
        .with_source(err),
        ERROR_ACCESS_DENIED if writable => Error::new(
            ErrorKind::PermissionDenied,
            "open",
            what,
            "no write access; open it read-only or ask its owner to grant access",
        )
        .with_source(err),
        _ => Error::os("open", what, err),
    })
}

fn not_found(name: &Name, global: bool, op: &'static str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        op,
        name.describe(),
        format!(
            "no object of that name in the {} namespace",
            namespace(global).trim_end_matches('\\')
        ),
    )
}

impl Object {
    /// A second handle to the same section (not inheritable), for the creator's initialiser.
    fn duplicate(&self, what: &str) -> Result<Object> {
        let section = match &self.section {
            Some(h) => Some(
                h.try_clone()
                    .map_err(|e| Error::os("create", what.to_owned(), e))?,
            ),
            None => None,
        };
        Ok(Object {
            section,
            size: self.size,
            writable: self.writable,
            reserve: self.reserve,
            file: None,
            named: None,
        })
    }

    fn created(h: OwnedHandle, spec: &CreateSpec<'_>) -> Object {
        Object {
            section: Some(h),
            size: spec.size,
            writable: true,
            reserve: !spec.commit,
            file: None,
            named: Some(Named {
                name: spec.name.clone(),
                global: spec.global,
            }),
        }
    }

    /// `CreateFileMappingW(INVALID_HANDLE_VALUE, .., NAME)`; `AlreadyExists` if the name existed.
    pub(crate) fn create(spec: &CreateSpec<'_>, init: &mut Init<'_>) -> Result<Object> {
        check_create(spec, "create")?;
        let what = spec.name.describe();
        let (h, existed) = create_section(spec, "create")?;
        if existed {
            drop(h);
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                "create",
                what,
                "an object of that name already exists; open it, or wait until its last handle \
                 closes",
            ));
        }
        let obj = Object::created(h, spec);
        init(obj.duplicate(&what)?)?;
        Ok(obj)
    }

    /// `OpenFileMappingW`; `NotFound` if no object has the name.
    pub(crate) fn open(spec: &OpenSpec<'_>) -> Result<Object> {
        match open_section(spec)? {
            Some(o) => Ok(o),
            None => Err(not_found(spec.name, spec.global, "open")),
        }
    }

    /// `CreateFileMappingW`, which opens an existing object atomically and says so with
    /// `ERROR_ALREADY_EXISTS`. An opener then reopens the object with exactly the access `o` asks
    /// for (holding the first handle meanwhile, so the object cannot vanish in between).
    pub(crate) fn open_or_create(
        c: &CreateSpec<'_>,
        o: &OpenSpec<'_>,
        init: &mut Init<'_>,
    ) -> Result<(Object, Disposition)> {
        check_create(c, "open or create")?;
        let what = c.name.describe();
        // CreateFileMappingW is itself the atomic open-or-create: no retry loop is needed.
        match create_section(c, "open or create") {
            Ok((h, false)) => {
                let obj = Object::created(h, c);
                init(obj.duplicate(&what)?)?;
                Ok((obj, Disposition::Created))
            }
            Ok((h, true)) => {
                let reopened = open_section(o)?;
                drop(h);
                match reopened {
                    Some(obj) => Ok((obj, Disposition::Opened)),
                    None => Err(not_found(o.name, o.global, "open")),
                }
            }
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                // The existing object refuses the read-write access CreateFileMappingW asks for;
                // the opener may still be allowed what it asked for. With nothing to open, the
                // denial was for creating (Global\ without SeCreateGlobalPrivilege).
                match open_section(o)? {
                    Some(obj) => Ok((obj, Disposition::Opened)),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// An unnamed pagefile-backed section.
    pub(crate) fn anonymous(size: u64, commit: bool) -> Result<Object> {
        let what = "anonymous object";
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
        let h = unsafe { owned(h) }.ok_or_else(|| Error::os("create", what, err))?;
        Ok(Object {
            section: Some(h),
            size,
            writable: true,
            reserve: !commit,
            file: None,
            named: None,
        })
    }

    /// Large-page sections are not offered on Windows.
    pub(crate) fn anonymous_huge(_size: u64) -> Result<Object> {
        Err(unsupported(
            "create",
            "anonymous huge-page object".to_owned(),
            "large-page sections (SEC_LARGE_PAGES) need SeLockMemoryPrivilege and views at \
             large-page-aligned addresses, which mmf does not provide on Windows",
        ))
    }

    /// Windows enforces its commit limit itself (`ERROR_COMMITMENT_LIMIT` when a view commits).
    pub(crate) fn shortage(&self, _offset: u64, _len: u64) -> Option<super::Shortage> {
        None
    }

    /// Sections never grow in place on Windows (see `grow`).
    pub(crate) fn commits_on_grow(&self) -> bool {
        false
    }

    /// Every page a view covers was committed when the view was mapped (see `map`), and the
    /// core commits only ranges inside a view, so there is nothing left to do. (Committing only
    /// on demand would let a safe read of an uncommitted page of a `SEC_RESERVE` view crash the
    /// process with an access violation.)
    pub(crate) fn commit_range(&self, _offset: u64, _len: u64) -> io::Result<()> {
        Ok(())
    }

    /// Windows cannot decommit a section's pages, nor punch holes through a mapping.
    pub(crate) fn decommit_range(&self, _offset: u64, _len: u64) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "committed pages of a Windows section cannot be decommitted until the section closes",
        ))
    }

    /// A section over `file` of `size` bytes (the file is at least that long). Win32 cannot map
    /// an empty file, so an empty file gets no section: its only views have length 0, which the
    /// core makes without calling `map`.
    pub(crate) fn from_file(file: File, size: u64, writable: bool, what: &str) -> Result<Object> {
        if size == 0 {
            return Ok(Object {
                section: None,
                size: 0,
                writable,
                reserve: false,
                file: Some(file),
                named: None,
            });
        }
        // PAGE_WRITECOPY allows read-only and copy-on-write views with a read-only file handle.
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
        let h = match unsafe { owned(h) } {
            Some(h) => h,
            None if os_code(&err) == ERROR_FILE_INVALID => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "map",
                    what.to_owned(),
                    "Windows cannot map this file (empty, or not a disk file)",
                )
                .with_source(err))
            }
            None => return Err(Error::os("map", what.to_owned(), err)),
        };
        Ok(Object {
            section: Some(h),
            size,
            writable,
            reserve: false,
            file: Some(file),
            named: None,
        })
    }

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

    /// The section's size: fixed for its whole life.
    pub(crate) fn len(&self) -> io::Result<u64> {
        Ok(self.size)
    }

    /// Sections cannot grow; a size within the current one is already satisfied.
    pub(crate) fn grow(&self, new_len: u64) -> io::Result<()> {
        if new_len <= self.size {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a Windows section has a fixed size and cannot grow; create a larger object",
        ))
    }

    /// `FlushFileBuffers` on the file (nothing for memory-backed objects, or for a file-backed
    /// object handed over by inheritance, whose file handle stayed with the parent).
    pub(crate) fn sync_file(&self) -> io::Result<()> {
        match &self.file {
            Some(f) => f.sync_all(),
            None => Ok(()),
        }
    }

    /// Always [`Lifetime::Handle`]: the only lifetime Windows has.
    pub(crate) fn lifetime(&self) -> Lifetime {
        Lifetime::Handle
    }

    pub(crate) fn writable(&self) -> bool {
        self.writable
    }

    /// Whether the name lives in the `Global\` namespace (where shared values must also keep
    /// their notification objects).
    pub(crate) fn global(&self) -> bool {
        self.named.as_ref().map_or(false, |n| n.global)
    }

    /// Maps `len` bytes at `offset` (`MapViewOfFileEx`), committing them first for a
    /// `SEC_RESERVE` section.
    ///
    /// # Safety
    /// `offset` is a multiple of the allocation granularity, `len > 0`, and `offset + len` lies
    /// within the object. With `at`, Windows maps only if the range is free; it never replaces
    /// an existing mapping.
    pub(crate) unsafe fn map(
        &self,
        offset: u64,
        len: usize,
        access: Access,
        at: Option<usize>,
    ) -> io::Result<RawMap> {
        let section = match &self.section {
            Some(h) => raw(h),
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "an empty file has no bytes to map",
                ))
            }
        };
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
                return Err(io::Error::from_raw_os_error(ERROR_ALREADY_EXISTS as i32));
            }
            return Err(err);
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
                return Err(last_error());
            }
            if first != commit_prot {
                let (at, mut old) = (map.ptr as *const c_void, 0);
                // SAFETY: changes the protection of the same pages of our own view, which the
                // view's access (FILE_MAP_COPY) allows.
                let ok = unsafe { VirtualProtect(at, len, commit_prot, &mut old) };
                if ok == 0 {
                    return Err(last_error());
                }
            }
        }
        Ok(map)
    }

    /// Duplicates the section handle as inheritable for the child spawned from `_cmd` (Win32
    /// passes every inheritable handle to children created with `bInheritHandles`, which `std`
    /// always sets). The token is `mmf:KIND:ACCESS:HANDLE`, and for a named object
    /// `:NAMESPACE\NAME` after it.
    pub(crate) fn inherit(
        &self,
        backing: Backing,
        _cmd: &mut Command,
        what: &str,
    ) -> Result<Inheritance> {
        let section = match &self.section {
            Some(h) => raw(h),
            None => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "hand over",
                    what.to_owned(),
                    "an empty file has no mapping object to hand over; map the file itself in \
                     the child",
                ))
            }
        };
        let mut dup: HANDLE = std::ptr::null_mut();
        // SAFETY: duplicates a handle we hold into this same process; `dup` is writable.
        let ok = unsafe {
            DuplicateHandle(
                GetCurrentProcess(),
                section,
                GetCurrentProcess(),
                &mut dup,
                0,
                TRUE,
                DUPLICATE_SAME_ACCESS,
            )
        };
        if ok == 0 {
            return Err(Error::os("hand over", what.to_owned(), last_error()));
        }
        // SAFETY: DuplicateHandle succeeded: `dup` is a new handle we own.
        let handle = unsafe { owned(dup) }.ok_or_else(|| {
            Error::new(ErrorKind::Other, "hand over", what.to_owned(), "no handle")
        })?;
        let mut token = format!(
            "mmf:{}:{}:{}",
            backing_tag(backing),
            if self.writable { "rw" } else { "ro" },
            dup as usize
        );
        if let Some(n) = &self.named {
            token.push(':');
            token.push_str(namespace(n.global));
            token.push_str(n.name.as_str());
        }
        Ok(Inheritance {
            token,
            _handle: handle,
        })
    }

    /// Takes over a section handle inherited from the parent, described by `token`.
    pub(crate) fn from_inherited(token: &str) -> Result<(Object, Backing, Option<Name>)> {
        let what = || format!("inherited handle {:?}", token);
        let bad = || {
            Error::new(
                ErrorKind::InvalidInput,
                "take over",
                what(),
                "not a token made by Mapping::inherit on Windows (expected \
                 mmf:KIND:ACCESS:HANDLE[:NAMESPACE\\NAME])",
            )
        };
        let (backing, writable, rest) = parse_token(token).ok_or_else(bad)?;
        let mut parts = rest.splitn(2, ':');
        let value: usize = parts.next().unwrap_or("").parse().map_err(|_| bad())?;
        let named = match parts.next() {
            None => None,
            Some(full) => {
                let (global, bare) = if let Some(b) = full.strip_prefix("Global\\") {
                    (true, b)
                } else if let Some(b) = full.strip_prefix("Local\\") {
                    (false, b)
                } else {
                    return Err(bad());
                };
                Some(Named {
                    name: Name::new(bare).map_err(|_| bad())?,
                    global,
                })
            }
        };
        if value == 0 || value as HANDLE == INVALID_HANDLE_VALUE {
            return Err(bad());
        }
        let h = value as HANDLE;
        let mut flags = 0u32;
        // SAFETY: only reads the flags of whatever `h` is; an invalid value makes it fail.
        if unsafe { GetHandleInformation(h, &mut flags) } == 0 {
            return Err(Error::new(
                ErrorKind::NotFound,
                "take over",
                what(),
                "no such handle is open in this process; was the child spawned after \
                 Mapping::inherit, and before the Inheritance was dropped?",
            )
            .with_source(last_error()));
        }
        let info = query_section(h).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                "take over",
                what(),
                "the handle is not a file mapping (section) handle",
            )
            .with_source(e)
        })?;
        // An inherited handle is inheritable; taking it over clears the flag (below). A handle
        // without it belongs to this process already (taken over before, or never inherited):
        // taking it would close it twice.
        if flags & HANDLE_FLAG_INHERIT == 0 {
            return Err(Error::new(
                ErrorKind::NotFound,
                "take over",
                what(),
                "that handle is not an inherited one (taken over already?)",
            ));
        }
        // SAFETY: `h` is open (checked above), it is a section, and the parent handed it to this
        // process to own: nothing else here knows its value.
        let section = unsafe { OwnedHandle::from_raw_handle(h as RawHandle) };
        // Our own children do not get it unless asked again.
        // SAFETY: changes a flag of a handle we own.
        unsafe { SetHandleInformation(h, HANDLE_FLAG_INHERIT, 0) };
        let name = named.as_ref().map(|n| n.name.clone());
        Ok((
            Object {
                section: Some(section),
                size: info.size,
                writable,
                reserve: info.reserve,
                file: None,
                named,
            },
            backing,
            name,
        ))
    }
}

/// An inheritable duplicate of a section handle, closed in this process on drop; see
/// `Object::inherit`.
pub(crate) struct Inheritance {
    token: String,
    _handle: OwnedHandle,
}

impl Inheritance {
    pub(crate) fn token(&self) -> &str {
        &self.token
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

impl RawMap {
    /// The first byte of the mapping.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }
}

impl RawMap {
    fn at(&self, offset: usize) -> *const c_void {
        debug_assert!(offset <= self.len);
        // SAFETY: callers pass an offset within the view (checked by the core), so the pointer
        // stays inside this live view.
        unsafe { self.ptr.add(offset) as *const c_void }
    }

    /// Access-pattern advice. Windows has no per-range readahead hints for views, so `Normal`,
    /// `Sequential` and `Random` are accepted and change nothing; `WillNeed` starts reading the
    /// range in (`PrefetchVirtualMemory`, Windows 8 and later; nothing on older systems);
    /// transparent huge pages do not exist on Windows, so `NoHugePage` holds already and
    /// `HugePage` is `Unsupported`.
    pub(crate) fn advise(&self, offset: usize, len: usize, advice: Advice) -> io::Result<()> {
        super::span(self.len, offset, len)?;
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
                    return Err(last_error());
                }
                Ok(())
            }
            // Windows has no transparent huge pages: never using them is what it does anyway.
            Advice::NoHugePage => Ok(()),
            Advice::HugePage => Err(io::Error::new(
                io::ErrorKind::Unsupported,
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
    pub(crate) unsafe fn advise_unchecked(
        &self,
        offset: usize,
        len: usize,
        advice: UncheckedAdvice,
    ) -> io::Result<()> {
        super::span(self.len, offset, len)?;
        match advice {
            UncheckedAdvice::DontNeed if self.access != Access::CopyOnWrite => {
                // SAFETY: a range inside this live view; unlocking pages that are not locked only
                // removes them from the working set, contents stay.
                let ok = unsafe { VirtualUnlock(self.at(offset), len) };
                let err = last_error();
                if ok == 0 && os_code(&err) != ERROR_NOT_LOCKED {
                    return Err(err);
                }
                Ok(())
            }
            UncheckedAdvice::DontNeed => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "Windows cannot discard the private pages of a copy-on-write view; map it again",
            )),
            UncheckedAdvice::Remove => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "Windows cannot free the memory of a section while it exists",
            )),
        }
    }

    /// Faults every page of the range in by touching it: an atomic load, or for `write` an atomic
    /// add of zero, which makes the page present and writable without changing any byte, even
    /// while other processes write. Pagefile-backed sections are charged at creation (or at
    /// mapping, for `SEC_RESERVE`), so this cannot run out of memory.
    pub(crate) fn populate(&self, offset: usize, len: usize, write: bool) -> io::Result<()> {
        super::span(self.len, offset, len)?;
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
    pub(crate) fn lock(&self, offset: usize, len: usize) -> io::Result<()> {
        super::span(self.len, offset, len)?;
        // SAFETY: a range inside this live view; locking does not change contents.
        if unsafe { VirtualLock(self.at(offset), len) } == 0 {
            return Err(last_error());
        }
        Ok(())
    }

    /// `VirtualUnlock`.
    pub(crate) fn unlock(&self, offset: usize, len: usize) -> io::Result<()> {
        super::span(self.len, offset, len)?;
        // SAFETY: as for `lock`.
        if unsafe { VirtualUnlock(self.at(offset), len) } == 0 {
            return Err(last_error());
        }
        Ok(())
    }

    /// `FlushViewOfFile` on `[offset, offset + len)` of this view. Windows starts the writes and
    /// returns; `wait` changes nothing (durability needs `FlushFileBuffers`, see `sync_file`).
    pub(crate) fn flush(&self, offset: usize, len: usize, _wait: bool) -> io::Result<()> {
        super::span(self.len, offset, len)?;
        if len == 0 {
            // FlushViewOfFile treats 0 as "to the end of the view".
            return Ok(());
        }
        // SAFETY: the range lies within this live view (caller-checked); flushing does not change
        // memory contents.
        let ok = unsafe { FlushViewOfFile(self.at(offset), len) };
        if ok == 0 {
            return Err(last_error());
        }
        Ok(())
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

/// Windows cannot take a name away from its holders: it goes when the last handle closes.
pub(crate) fn remove(name: &Name, dir: Option<&Path>) -> Result<()> {
    let what = name.describe();
    if dir.is_some() {
        return Err(no_dir("remove", what));
    }
    let wname = kernel_name(false, "", name.as_str());
    // SAFETY: `wname` is NUL-terminated and outlives the call.
    let h = unsafe { OpenFileMappingW(SECTION_QUERY, FALSE, wname.as_ptr()) };
    let err = last_error();
    // SAFETY: NULL or a new handle we own (closed at once).
    match unsafe { owned(h) } {
        None if err.kind() == io::ErrorKind::NotFound => {
            let mut e = not_found(name, false, "open");
            e.set_op("remove");
            Err(e)
        }
        None => Err(Error::os("remove", what, err)),
        Some(_) => Err(unsupported(
            "remove",
            what,
            "on Windows a name goes away by itself when the last handle to the object closes; \
             it cannot be taken away from the processes that hold it",
        )),
    }
}

/// Win32 offers no way to enumerate sections.
pub(crate) fn list(dir: Option<&Path>) -> Result<Vec<ObjectInfo>> {
    if dir.is_some() {
        return Err(no_dir("list", "the object namespace".to_owned()));
    }
    Err(unsupported(
        "list",
        "the object namespace".to_owned(),
        "the Win32 API cannot enumerate file-mapping objects (only the undocumented NT object \
         directory can)",
    ))
}

/// Nothing to collect: the kernel removes a name as soon as its last holder is gone.
pub(crate) fn gc(dir: Option<&Path>) -> Result<Vec<String>> {
    if dir.is_some() {
        return Err(no_dir(
            "collect garbage in",
            "the object namespace".to_owned(),
        ));
    }
    Ok(Vec::new())
}

//! Persistent objects: files in a per-user directory, mapped through a section of their own in
//! each process.
//!
//! Win32 has no section that outlives every handle to it without a privilege only services have
//! (`OBJ_PERMANENT` needs SeCreatePermanentPrivilege), so a [`Lifetime::Persistent`] object is a
//! file, as in Boost.Interprocess: `DIR\NAME`, where `DIR` is the directory given
//! (`CreateOptions::dir`, `Namespace::at`), else `%MMF_DIR%`, else `%LOCALAPPDATA%\mmf` (made
//! by the first `create` there; it is private to the user, like the rest of `%LOCALAPPDATA%`). Each process that
//! opens the object opens the file and makes an unnamed section over it: views of sections over
//! the same file share its pages, so every process sees every write at once, as with one section.
//! A native program does the same: `CreateFileW(DIR\NAME, GENERIC_READ | GENERIC_WRITE,
//! FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING, 0, NULL)`, then
//! `CreateFileMappingW(file, NULL, PAGE_READWRITE, 0, 0, NULL)` and `MapViewOfFile`.
//!
//! - **Creation** builds the file under a hidden name, `.mmf-new.TOKEN.N` (`TOKEN`: the creator's
//!   process token), sizes it, runs the initialiser and only then gives it its name with
//!   `MoveFileExW` without `MOVEFILE_REPLACE_EXISTING`, which fails if the name exists. An opener
//!   therefore never sees a half-made object, and a creator killed midway leaves only a hidden
//!   file, which `gc` removes once that process is gone.
//! - **One name, one object.** A name is either a handle-lifetime section (`Local\NAME`) or a
//!   persistent file: creating either kind fails with `AlreadyExists` while the other exists, and
//!   `open` looks for the section first, then the file. (The two checks are not atomic with each
//!   other: two processes creating the same name with different lifetimes at the same moment may
//!   both succeed.)
//! - **Removal** renames the file to a hidden name, `.mmf-removed.TOKEN.N`, and deletes it: the
//!   name is free at once, processes that have the object open keep using it (every handle mmf
//!   opens shares deletion, `FILE_SHARE_DELETE`), and the file goes with its last handle. A program
//!   that holds the file open without sharing deletion makes the removal fail with
//!   `PermissionDenied`.
//! - **Checks.** The file must be a regular file (not a directory or a link) and, unless
//!   `allow_other_owner`, belong to this user (its owner SID, as for sections). Its size is the
//!   file's, exactly; an empty file has no section (Win32 cannot map one) and only empty views.
//! - **Names** must also be valid Windows file names: none of `<>:"|?*` or control characters, no
//!   trailing dot or space, and not a device name such as `CON` or `NUL`.
//! - **Growth** extends the file, as for any mapped file (`file_growth.rs`): other processes take
//!   the size from the file and map a larger section over it when they need the new bytes.
//! - **Permissions** are the file's: [`Permissions`] become its protected DACL, as for a section
//!   (`security.rs`), so a new object is owner-only by default.
//!
//! # Safety
//!
//! Two Win32 calls (`CreateFileW`, `MoveFileExW`) take raw pointers; each states the invariant it
//! relies on.
#![allow(unsafe_code)]

use super::owner::owned_by_us;
use super::security::{describe, Kind, Security};
use super::{os_code, Named, Object};
use crate::error::Detail;
use crate::sys::contract::ObjectOps;
use crate::sys::{process_alive, process_token, CreateSpec, Init, OpenSpec};
use crate::sys::{Error, Result};
use crate::types::{Lifetime, ObjectInfo, Permissions};
use crate::{ErrorKind, Name};
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::windows::ffi::OsStrExt;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, RawHandle};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_FILE_EXISTS, ERROR_SHARING_VIOLATION,
    GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Security::Authorization::SE_FILE_OBJECT;
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, MoveFileExW, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, FILE_FLAG_OPEN_REPARSE_POINT,
    FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
};

/// Prefix of a file under construction (`.mmf-new.TOKEN.N`).
const NEW_PREFIX: &str = ".mmf-new.";
/// Prefix of a removed file that is still open somewhere (`.mmf-removed.TOKEN.N`).
const REMOVED_PREFIX: &str = ".mmf-removed.";

/// The directory of persistent objects: the one given, else `%MMF_DIR%`, else
/// `%LOCALAPPDATA%\mmf` (which the first `create` there makes). `None` only when there is no
/// `LOCALAPPDATA` to default to.
pub(crate) fn resolve_dir(dir: Option<&Path>) -> Option<PathBuf> {
    resolve(dir).map(|(d, _)| d)
}

/// [`resolve_dir`], and whether it is the default, `%LOCALAPPDATA%\mmf`.
fn resolve(dir: Option<&Path>) -> Option<(PathBuf, bool)> {
    if let Some(d) = dir {
        return Some((d.to_path_buf(), false));
    }
    match std::env::var_os("MMF_DIR") {
        Some(d) if !d.is_empty() => return Some((PathBuf::from(d), false)),
        _ => {}
    }
    let base = std::env::var_os("LOCALAPPDATA").filter(|d| !d.is_empty())?;
    Some((Path::new(&base).join("mmf"), true))
}

/// The directory to create an object in, or the error saying why there is none. The default
/// directory is made when missing; one given (or in `%MMF_DIR%`) must exist, as on Linux.
fn dir_for_create(dir: Option<&Path>) -> Result<PathBuf> {
    let (d, default) = resolve(dir).ok_or_else(|| {
        Error::new(
            ErrorKind::NotFound,
            "no directory for persistent objects: LOCALAPPDATA is not set; set MMF_DIR or give \
             a directory",
        )
    })?;
    if default && !d.is_dir() {
        // Best effort: a failure shows up as the missing directory below.
        let _ = std::fs::create_dir_all(&d);
    }
    if !d.is_dir() {
        return Err(Error::new(ErrorKind::NotFound, Detail::NoDirectory(d)));
    }
    Ok(d)
}

/// Refuses names Windows cannot use as file names.
pub(super) fn check_file_name(name: &Name) -> Result<()> {
    let s = name.as_str();
    let bad = |why: &'static str| Err(Error::new(ErrorKind::InvalidName, why));
    if s.chars().any(|c| "<>:\"|?*".contains(c) || (c as u32) < 32) {
        return bad(
            "a persistent object on Windows is a file, and file names cannot contain <>:\"|?* \
             or control characters",
        );
    }
    if s.ends_with('.') || s.ends_with(' ') {
        return bad(
            "a persistent object on Windows is a file, and file names cannot end with '.' or ' '",
        );
    }
    let stem = s
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_uppercase();
    let device = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    if device {
        return bad("a persistent object on Windows is a file, and this name is a device (CON, NUL, COM1, ...)");
    }
    Ok(())
}

/// How mmf opens object files: sharing everything, deletion included (see `remove`), and never
/// through a link.
fn options(write: bool) -> OpenOptions {
    let mut o = OpenOptions::new();
    o.read(true)
        .write(write)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    o
}

/// A new file at `path` (which must not exist), shared as `options` shares it, whose protected
/// DACL grants what `perms` does (`security.rs`, `Kind::File`): a persistent object's
/// permissions are its file's.
fn create_file(path: &Path, perms: Permissions) -> io::Result<File> {
    let security = Security::new(perms, Kind::File)?;
    let attributes = security.attributes();
    let wpath = wide(path);
    // SAFETY: a NUL-terminated path and security attributes that point into `security`; both
    // outlive the call. CREATE_NEW fails if the file exists.
    let h = unsafe {
        CreateFileW(
            wpath.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            &attributes,
            CREATE_NEW,
            FILE_ATTRIBUTE_NORMAL,
            std::ptr::null_mut(),
        )
    };
    if h == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: CreateFileW succeeded: `h` is a new file handle that nothing else owns.
    Ok(unsafe { File::from_raw_handle(h as RawHandle) })
}

/// A hidden name in `dir`: `PREFIX TOKEN.N`, unique among this process's names.
fn hidden(dir: &Path, prefix: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{}{}.{}", prefix, process_token(), n))
}

fn wide(p: &Path) -> Vec<u16> {
    OsStr::new(p)
        .encode_wide()
        .chain(std::iter::once(0))
        .collect()
}

/// Renames `from` to `to`, failing if `to` exists.
fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    let (f, t) = (wide(from), wide(to));
    // SAFETY: two NUL-terminated paths that outlive the call; flags 0: no replacing, no copying
    // across volumes.
    if unsafe { MoveFileExW(f.as_ptr(), t.as_ptr(), 0) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn exists(dir: &Path) -> Error {
    Error::new(ErrorKind::AlreadyExists, Detail::ExistsIn(dir.to_owned()))
}

fn not_regular() -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        "it is not a regular file, so not a persistent object (a directory or a link has the \
         name)",
    )
}

/// Removes a file under construction unless it was published.
struct Unpublished(Option<PathBuf>);

impl Drop for Unpublished {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Creates the persistent object `spec.name` (see the module documentation).
pub(super) fn create(spec: &CreateSpec<'_>, init: &mut Init<'_>) -> Result<Object> {
    check_file_name(spec.name)?;
    let dir = dir_for_create(spec.dir)?;
    let path = dir.join(spec.name.as_str());
    if std::fs::symlink_metadata(&path).is_ok() {
        return Err(exists(&dir));
    }
    let tmp = hidden(&dir, NEW_PREFIX);
    let file = create_file(&tmp, spec.permissions).map_err(|e| Error::os(e).at("create"))?;
    let guard = Unpublished(Some(tmp.clone()));
    file.set_len(spec.size)
        .map_err(|e| Error::os(e).at("size"))?;
    let mut obj = Object::from_file(file, spec.size, true)?;
    obj.named = Some(Named::persistent(spec.name));
    init(obj.duplicate()?).map_err(Error::from)?;
    match rename_no_replace(&tmp, &path) {
        Ok(()) => {}
        Err(e) if matches!(os_code(&e), ERROR_ALREADY_EXISTS | ERROR_FILE_EXISTS) => {
            return Err(exists(&dir));
        }
        Err(e) => return Err(Error::os(e).at("name")),
    }
    std::mem::forget(guard);
    Ok(obj)
}

/// Opens the persistent object `spec.name`; `Ok(None)` if there is none (also where there is no
/// directory of persistent objects: handle-lifetime objects need none).
pub(super) fn open(spec: &OpenSpec<'_>) -> Result<Option<Object>> {
    if check_file_name(spec.name).is_err() {
        return Ok(None); // no file can have that name
    }
    let dir = match resolve_dir(spec.dir) {
        Some(d) => d,
        None => return Ok(None),
    };
    let path = dir.join(spec.name.as_str());
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::os(e).at("open")),
    };
    if !meta.is_file() {
        return Err(not_regular().at("open"));
    }
    let file = match options(spec.writable).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if os_code(&e) == ERROR_ACCESS_DENIED && spec.writable => {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "no write access to its file; open it read-only or ask its owner to grant access",
            )
            .at("open")
            .with_os(e))
        }
        Err(e) => return Err(Error::os(e).at("open")),
    };
    let meta = file.metadata().map_err(|e| Error::os(e).at("open"))?;
    if !meta.is_file() {
        return Err(not_regular().at("open"));
    }
    if !spec.allow_other_owner
        && !owned_by_us(file.as_raw_handle() as HANDLE, SE_FILE_OBJECT)
            .map_err(|e| Error::os(e).at("open"))?
    {
        return Err(super::named::other_owner());
    }
    let mut obj = Object::from_file(file, meta.len(), spec.writable)?;
    obj.named = Some(Named::persistent(spec.name));
    Ok(Some(obj))
}

/// Whether a persistent object `name` exists (for the checks against a section of that name).
pub(super) fn exists_named(name: &Name, dir: Option<&Path>) -> bool {
    check_file_name(name).is_ok()
        && resolve_dir(dir).map_or(false, |d| {
            std::fs::symlink_metadata(d.join(name.as_str())).is_ok()
        })
}

/// Removes the persistent object `name`: `Ok(false)` if there is none.
pub(super) fn remove(name: &Name, dir: Option<&Path>) -> Result<bool> {
    if check_file_name(name).is_err() {
        return Ok(false);
    }
    let dir = match resolve_dir(dir) {
        Some(d) => d,
        None => return Ok(false),
    };
    let path = dir.join(name.as_str());
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(not_regular()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::os(e)),
    }
    let trash = hidden(&dir, REMOVED_PREFIX);
    match rename_no_replace(&path, &trash) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) if os_code(&e) == ERROR_SHARING_VIOLATION => {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "a program holds its file open without sharing deletion (FILE_SHARE_DELETE); \
                 close it first",
            )
            .with_os(e))
        }
        Err(e) => return Err(Error::os(e)),
    }
    // Deleted now, or once the last process that has it open closes it (then `gc` retries).
    let _ = std::fs::remove_file(&trash);
    Ok(true)
}

/// The entries of the directory of persistent objects whose names are text, with their paths
/// (none where there is no directory); `op` names the operation in errors.
fn entries(dir: Option<&Path>, op: &'static str) -> Result<Vec<(String, PathBuf)>> {
    let dir = match resolve_dir(dir) {
        Some(d) => d,
        None => return Ok(Vec::new()),
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::os(e).at(op)),
    };
    Ok(entries
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.to_owned(), e.path())))
        .collect())
}

/// The persistent objects in the directory, for `list` (a missing directory holds none).
pub(super) fn list(dir: Option<&Path>, out: &mut Vec<ObjectInfo>) -> Result<()> {
    for (name, path) in entries(dir, "list")? {
        if Name::new(&name).is_err() {
            continue; // hidden files (ours start with `.mmf-`) and names mmf cannot use
        }
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => m,
            _ => continue,
        };
        let mut magic = [0u8; 8];
        let mut security = None;
        if let Ok(mut f) = options(false).open(&path) {
            let _ = f.read(&mut magic);
            security = describe(f.as_raw_handle() as HANDLE, Kind::File).ok();
        }
        out.push(ObjectInfo {
            name,
            size: meta.len(),
            owner_uid: 0,
            owner_name: security.as_ref().and_then(|s| s.owner.clone()),
            mode: security.map_or(0, |s| s.mode),
            lifetime: Some(Lifetime::Persistent),
            holders: None,
            holder_pids: Vec::new(),
            magic,
        });
    }
    Ok(())
}

/// Removes what creators that died midway and removals of open objects left behind: hidden
/// files under construction whose creator is gone, and removed files nobody has open any more.
pub(super) fn gc(dir: Option<&Path>, removed: &mut Vec<String>) -> Result<()> {
    for (name, path) in entries(dir, "collect garbage in")? {
        let reap = if let Some(rest) = name.strip_prefix(NEW_PREFIX) {
            let token = rest.split('.').next().and_then(|t| t.parse::<u64>().ok());
            token.map_or(false, |t| process_alive(t) == Some(false))
        } else {
            name.starts_with(REMOVED_PREFIX)
        };
        if reap && std::fs::remove_file(&path).is_ok() && !path.exists() {
            removed.push(name);
        }
    }
    Ok(())
}

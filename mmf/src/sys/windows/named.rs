//! Named sections: creating one (with the checks for what Windows cannot honour), opening an
//! existing one, and the errors that name the object.
//!
//! # Safety
//!
//! Win32 calls take raw pointers and handles; each call states the invariant it relies on (see
//! `windows/mod.rs`).
#![allow(unsafe_code)]

use super::grow;
use super::owner::owned_by_us;
use super::section::query_section;
use super::security::{privilege_enabled, Kind, Security};
use super::{
    kernel_name, last_error, namespace, os_code, owned, persistent, raw, split64, unsupported,
    Named, Object, QUERY_ACCESS,
};
use crate::error::Detail;
use crate::sys::contract::NamedObject;
use crate::sys::{CreateSpec, Init, OpenSpec};
use crate::sys::{Error, Result};
use crate::types::{Disposition, Lifetime};
use crate::{ErrorKind, Name};
use std::io;
use std::os::windows::io::OwnedHandle;
use std::path::Path;
use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_INVALID_HANDLE, FALSE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Security::Authorization::SE_KERNEL_OBJECT;
use windows_sys::Win32::Storage::FileSystem::READ_CONTROL;
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, OpenFileMappingW, FILE_MAP_READ, FILE_MAP_WRITE, PAGE_READWRITE,
    SECTION_QUERY, SEC_COMMIT, SEC_RESERVE,
};

/// Checks the parts of a create request that Windows cannot honour.
fn check_create(spec: &CreateSpec<'_>, op: &'static str) -> Result<()> {
    if spec.lifetime == Lifetime::Persistent && spec.global {
        return Err(unsupported(
            op,
            "a persistent object is a file in the directory of persistent objects, which has no \
             Global\\ namespace; use Scope::Local, or handle lifetime",
        ));
    }
    Ok(())
}

/// Whether a section `Local\NAME` exists (a handle-lifetime object, which a persistent object of
/// the same name must not shadow).
fn section_exists(name: &Name) -> bool {
    let wname = kernel_name(false, "", name.as_str());
    // SAFETY: `wname` is NUL-terminated and outlives the call.
    let h = unsafe { OpenFileMappingW(QUERY_ACCESS, FALSE, wname.as_ptr()) };
    let err = last_error();
    // SAFETY: NULL or a new handle we own (closed at once).
    unsafe { owned(h) }.is_some() || err.kind() != io::ErrorKind::NotFound
}

fn already_exists(op: &'static str) -> Error {
    Error::new(
        ErrorKind::AlreadyExists,
        "an object of that name already exists; open it, or wait until its last handle closes \
         (a persistent one: remove it)",
    )
    .at(op)
}

pub(super) fn protection(commit: bool) -> u32 {
    PAGE_READWRITE | if commit { SEC_COMMIT } else { SEC_RESERVE }
}

/// The error for a failed CreateFileMappingW/OpenFileMappingW on a name.
fn name_error(op: &'static str, global: bool, e: io::Error) -> Error {
    match os_code(&e) {
        ERROR_INVALID_HANDLE => Error::new(
            ErrorKind::AlreadyExists,
            "the name belongs to another kind of kernel object (an event, mutex or semaphore), \
             which shares the namespace with file mappings",
        )
        .at(op)
        .with_os(e),
        ERROR_ACCESS_DENIED if global && op != "open" => {
            global_denied(privilege_enabled(CREATE_GLOBAL))
                .at(op)
                .with_os(e)
        }
        _ => Error::os(e).at(op),
    }
}

/// The privilege that creating names in `Global\` needs.
const CREATE_GLOBAL: &str = "SeCreateGlobalPrivilege";

/// Why a create in `Global\` was refused, given whether this process holds `SeCreateGlobalPrivilege`
/// enabled (`None`: its token could not be read).
fn global_denied(privilege: Option<bool>) -> Error {
    let why = match privilege {
        Some(true) => {
            "an object of that name exists in the Global\\ namespace and its security descriptor \
             refuses this user read-write access; open it with the access its owner granted"
        }
        Some(false) => {
            "creating objects in the Global\\ namespace needs SeCreateGlobalPrivilege, which this \
             process does not hold enabled; run it as an administrator (elevated) or as a service, \
             or create the object in the Local\\ namespace (the default)"
        }
        None => {
            "creating objects in the Global\\ namespace needs SeCreateGlobalPrivilege (held by \
             administrators and services; this process's token could not be read to tell), or \
             the name exists there and refuses this user; use the Local\\ namespace (the \
             default), or run as an administrator or a service"
        }
    };
    Error::new(ErrorKind::PermissionDenied, why)
}

/// CreateFileMappingW on the paging file. Returns the handle and whether the name existed.
fn create_section(spec: &CreateSpec<'_>, op: &'static str) -> Result<(OwnedHandle, bool)> {
    let wname = kernel_name(spec.global, "", spec.name.as_str());
    // A growable section reserves its maximum and commits what views map (`grow.rs`).
    let (size, commit) = if spec.growable {
        let max = grow::maximum(spec.size).ok_or_else(|| {
            Error::new(
                ErrorKind::OutOfSpace,
                "the size is too large for a growable section",
            )
            .at(op)
        })?;
        (max, false)
    } else {
        (spec.size, spec.commit)
    };
    let (hi, lo) = split64(size);
    let security =
        Security::new(spec.permissions, Kind::Section).map_err(|e| Error::os(e).at(op))?;
    let attributes = security.attributes();
    // SAFETY: INVALID_HANDLE_VALUE asks for a pagefile-backed section; `wname` is NUL-terminated
    // and outlives the call; `attributes` points into `security`, which outlives the call.
    let h = unsafe {
        CreateFileMappingW(
            INVALID_HANDLE_VALUE,
            &attributes,
            protection(commit),
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
        None => Err(name_error(op, spec.global, err)),
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

pub(super) fn other_owner() -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        "it belongs to another user; opening another user's object must be asked for \
         explicitly (OpenOptions::allow_other_owner)",
    )
    .at("open")
    .for_other_owner()
}

/// OpenFileMappingW; `Ok(None)` if no object has the name. Unless `allow_other_owner`, the
/// object must belong to this user (the handle then also asks for `READ_CONTROL`, which an
/// owner always has, to read the owner).
fn open_section(spec: &OpenSpec<'_>) -> Result<Option<Object>> {
    let _ = spec.lock_timeout; // Windows has no lock to wait for
    let access = open_access(spec.writable);
    let check_owner = !spec.allow_other_owner;
    let first = open_raw(spec, access | if check_owner { READ_CONTROL } else { 0 });
    let h = match first {
        Ok(h) => h,
        Err(e) if check_owner && os_code(&e) == ERROR_ACCESS_DENIED => {
            // An owner always has READ_CONTROL: if the object opens without it, it is not ours.
            match open_raw(spec, access) {
                Ok(_) => return Err(other_owner()),
                Err(e) => return open_error(spec.writable, e),
            }
        }
        Err(e) => return open_error(spec.writable, e),
    };
    if check_owner
        && !owned_by_us(raw(&h), SE_KERNEL_OBJECT).map_err(|e| Error::os(e).at("open"))?
    {
        return Err(other_owner());
    }
    let info = query_section(raw(&h)).map_err(|e| Error::os(e).at("open"))?;
    let growth = grow::attach(raw(&h), &info, spec.writable).map_err(|e| e.at("open"))?;
    Ok(Some(Object {
        named: Some(Named::section(spec.name, spec.global)),
        growth,
        ..Object::over(Some(h), info.size, spec.writable, info.reserve)
    }))
}

/// `Ok(None)` for a missing name, the right error otherwise.
fn open_error(writable: bool, err: io::Error) -> Result<Option<Object>> {
    if err.kind() == io::ErrorKind::NotFound {
        return Ok(None);
    }
    Err(match os_code(&err) {
        ERROR_INVALID_HANDLE => Error::new(
            ErrorKind::InvalidInput,
            "the name belongs to another kind of kernel object (an event, mutex or semaphore), \
             not a file mapping",
        )
        .at("open")
        .with_os(err),
        ERROR_ACCESS_DENIED if writable => Error::new(
            ErrorKind::PermissionDenied,
            "no write access; open it read-only or ask its owner to grant access",
        )
        .at("open")
        .with_os(err),
        _ => Error::os(err).at("open"),
    })
}

/// `NotFound`, naming where the object was looked for: the kernel namespace, and for `Local\\`
/// also the directory of persistent objects.
pub(super) fn not_found(global: bool, dir: Option<&Path>, op: &'static str) -> Error {
    let ns = namespace(global).trim_end_matches('\\');
    let detail = match persistent::resolve_dir(dir) {
        Some(d) if !global => Detail::NotFoundInNamespaceOrDir(ns, d),
        _ => Detail::NotFoundInNamespace(ns),
    };
    Error::new(ErrorKind::NotFound, detail).at(op)
}

/// The object `spec` names: a section, else (in `Local\\`) a persistent object's file.
fn open_any(spec: &OpenSpec<'_>) -> Result<Option<Object>> {
    if let Some(o) = open_section(spec)? {
        return Ok(Some(o));
    }
    if spec.global {
        return Ok(None);
    }
    persistent::open(spec)
}

impl NamedObject for Object {
    /// `CreateFileMappingW(INVALID_HANDLE_VALUE, .., NAME)`; `AlreadyExists` if the name existed.
    fn create(spec: &CreateSpec<'_>, init: &mut Init<'_>) -> Result<Object> {
        check_create(spec, "create")?;
        if spec.lifetime == Lifetime::Persistent {
            if section_exists(spec.name) {
                return Err(already_exists("create"));
            }
            return persistent::create(spec, init).map_err(|e| e.at("create"));
        }
        if !spec.global && persistent::exists_named(spec.name, spec.dir) {
            return Err(already_exists("create"));
        }
        let (h, existed) = create_section(spec, "create")?;
        if existed {
            drop(h);
            return Err(already_exists("create"));
        }
        let obj = Object::created(h, spec, "create")?;
        init(obj.duplicate()?).map_err(Error::from)?;
        Ok(obj)
    }

    /// `OpenFileMappingW`, else the persistent object's file; `NotFound` if neither exists.
    fn open(spec: &OpenSpec<'_>) -> Result<Object> {
        match open_any(spec)? {
            Some(o) => Ok(o),
            None => Err(not_found(spec.global, spec.dir, "open")),
        }
    }

    /// `CreateFileMappingW`, which opens an existing object atomically and says so with
    /// `ERROR_ALREADY_EXISTS`. An opener then reopens the object with exactly the access `o` asks
    /// for (holding the first handle meanwhile, so the object cannot vanish in between).
    fn open_or_create(
        c: &CreateSpec<'_>,
        o: &OpenSpec<'_>,
        init: &mut Init<'_>,
    ) -> Result<(Object, Disposition)> {
        check_create(c, "open or create")?;
        if c.lifetime == Lifetime::Persistent {
            // A file cannot be created and opened atomically with its contents initialised: try
            // both until one succeeds (a racing creator makes `create` fail, and then `open`
            // finds its object; one that is removed meanwhile makes `open` find nothing).
            for _ in 0..100 {
                if let Some(obj) = open_any(o)? {
                    return Ok((obj, Disposition::Opened));
                }
                match persistent::create(c, init) {
                    Ok(obj) => return Ok((obj, Disposition::Created)),
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e.at("open or create")),
                }
            }
            return Err(already_exists("open or create"));
        }
        if !c.global {
            if let Some(obj) = persistent::open(o)? {
                return Ok((obj, Disposition::Opened));
            }
        }
        // CreateFileMappingW is itself the atomic open-or-create: no retry loop is needed.
        match create_section(c, "open or create") {
            Ok((h, false)) => {
                let obj = Object::created(h, c, "open or create")?;
                init(obj.duplicate()?).map_err(Error::from)?;
                Ok((obj, Disposition::Created))
            }
            Ok((h, true)) => {
                let reopened = open_section(o)?;
                drop(h);
                match reopened {
                    Some(obj) => Ok((obj, Disposition::Opened)),
                    None => Err(not_found(o.global, o.dir, "open")),
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
}

impl Object {
    /// A second handle to the same object (not inheritable), for the creator's initialiser: the
    /// section, and the file of a file-backed object (which may then grow it).
    pub(super) fn duplicate(&self) -> Result<Object> {
        let clone = |e: std::io::Error| Error::os(e).at("create");
        let section = match &self.section {
            Some(h) => Some(h.try_clone().map_err(clone)?),
            None => None,
        };
        let file = match &self.file {
            Some(f) => Some(f.try_clone().map_err(clone)?),
            None => None,
        };
        Ok(Object {
            file,
            growth: self.growth.clone(),
            ..Object::over(section, self.size, self.writable, self.reserve)
        })
    }

    /// The object for a section this process just created. Its size is what the system reports
    /// for the section, as every opener learns it (`NtQuerySection`; Wine rounds a pagefile-backed
    /// section up to whole pages), so that every handle agrees on where the object ends.
    fn created(h: OwnedHandle, spec: &CreateSpec<'_>, op: &'static str) -> Result<Object> {
        let info = query_section(raw(&h)).map_err(|e| Error::os(e).at(op))?;
        let growth = if spec.growable {
            let t = grow::Trailer::create(raw(&h), info.size, spec.size).map_err(|e| e.at(op))?;
            Some(std::sync::Arc::new(t))
        } else {
            None
        };
        let reserve = spec.growable || !spec.commit;
        Ok(Object {
            named: Some(Named::section(spec.name, spec.global)),
            growth,
            ..Object::over(Some(h), info.size.max(spec.size), true, reserve)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{global_denied, name_error, privilege_enabled, CREATE_GLOBAL};
    use crate::sys::imp::security::privilege_luid;
    use crate::ErrorKind;
    use windows_sys::Win32::Foundation::{
        GetLastError, ERROR_ACCESS_DENIED, ERROR_NOT_ALL_ASSIGNED, FALSE, HANDLE,
    };
    use windows_sys::Win32::Security::{
        AdjustTokenPrivileges, LUID_AND_ATTRIBUTES, SE_PRIVILEGE_ENABLED, TOKEN_ADJUST_PRIVILEGES,
        TOKEN_PRIVILEGES, TOKEN_QUERY,
    };
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

    /// Enables or disables the privilege `name` in this process's token; `false` if the token
    /// does not hold it (or cannot be changed).
    fn set_privilege(name: &str, enable: bool) -> bool {
        let luid = match privilege_luid(name) {
            Some(luid) => luid,
            None => return false,
        };
        let mut token: HANDLE = std::ptr::null_mut();
        let access = TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY;
        // SAFETY: the pseudo-handle of this process and a writable out-pointer.
        if unsafe { OpenProcessToken(GetCurrentProcess(), access, &mut token) } == FALSE {
            return false;
        }
        // SAFETY: OpenProcessToken succeeded: a new handle we own, closed on drop.
        let token = unsafe { super::owned(token) }.expect("a token handle");
        let privileges = TOKEN_PRIVILEGES {
            PrivilegeCount: 1,
            Privileges: [LUID_AND_ATTRIBUTES {
                Luid: luid,
                Attributes: if enable { SE_PRIVILEGE_ENABLED } else { 0 },
            }],
        };
        // SAFETY: a token opened for adjusting, a TOKEN_PRIVILEGES with one entry, no previous
        // state asked for.
        let ok = unsafe {
            AdjustTokenPrivileges(
                super::raw(&token),
                FALSE,
                &privileges,
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        // ERROR_NOT_ALL_ASSIGNED: the token does not hold the privilege at all.
        // SAFETY: reads this thread's last error.
        ok != FALSE && unsafe { GetLastError() } != ERROR_NOT_ALL_ASSIGNED
    }

    /// The check a refused `Global\` create makes, on this process's real token: with the
    /// privilege disabled, the refusal names it; enabled, it blames the existing object. (Wine
    /// does not enforce the privilege, so a create is never refused there for lacking it: the
    /// refusal itself cannot be provoked.)
    #[test]
    fn a_refused_global_create_reads_the_privilege_from_this_processs_token() {
        let held = match privilege_enabled(CREATE_GLOBAL) {
            Some(held) => held,
            None => {
                println!("SKIPPED: this process's token cannot be read");
                return;
            }
        };
        if !set_privilege(CREATE_GLOBAL, false) {
            println!(
                "SKIPPED: this process's token does not hold {}",
                CREATE_GLOBAL
            );
            return;
        }
        let denied = || std::io::Error::from_raw_os_error(ERROR_ACCESS_DENIED as i32);
        assert_eq!(privilege_enabled(CREATE_GLOBAL), Some(false));
        let e = name_error("create", true, denied())
            .context("create", "o")
            .to_string();
        assert!(e.contains("does not hold"), "{}", e);
        assert!(set_privilege(CREATE_GLOBAL, true));
        assert_eq!(privilege_enabled(CREATE_GLOBAL), Some(true));
        let e = name_error("create", true, denied())
            .context("create", "o")
            .to_string();
        assert!(!e.contains("SeCreateGlobalPrivilege"), "{}", e);
        assert!(e.contains("security descriptor"), "{}", e);
        // A refused open, or a refusal in `Local\`, is not about the privilege.
        let e = name_error("open", true, denied())
            .context("open", "o")
            .to_string();
        assert!(!e.contains("SeCreateGlobalPrivilege"), "{}", e);
        let e = name_error("create", false, denied())
            .context("create", "o")
            .to_string();
        assert!(!e.contains("SeCreateGlobalPrivilege"), "{}", e);
        set_privilege(CREATE_GLOBAL, held);
    }

    /// The refusal as built, for both answers of the check.
    #[test]
    fn a_global_create_without_the_privilege_says_what_is_missing_and_what_to_do() {
        let e = global_denied(Some(false)).context("create", "o");
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        let msg = e.to_string();
        assert!(msg.contains("SeCreateGlobalPrivilege"), "{}", msg);
        assert!(msg.contains("does not hold"), "{}", msg);
        assert!(msg.contains("administrator"), "{}", msg);
        assert!(msg.contains("Local\\"), "{}", msg);
        // With the privilege, the refusal is the existing object's descriptor, not the namespace.
        let e = global_denied(Some(true)).context("create", "o").to_string();
        assert!(!e.contains("SeCreateGlobalPrivilege"), "{}", e);
        assert!(e.contains("security descriptor"), "{}", e);
    }
}

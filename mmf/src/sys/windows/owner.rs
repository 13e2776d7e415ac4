//! Ownership: the Windows side of the name-squatting protection (who owns a section found by
//! name).
//!
//! # Safety
//!
//! Win32 calls take raw pointers and handles; each call states the invariant it relies on (see
//! `windows/mod.rs`).
#![allow(unsafe_code)]

use super::{last_error, owned, raw};
use std::ffi::c_void;
use std::io;
use std::os::windows::io::OwnedHandle;
use windows_sys::Win32::Foundation::{LocalFree, HANDLE};
use windows_sys::Win32::Security::Authorization::{GetSecurityInfo, SE_OBJECT_TYPE};
use windows_sys::Win32::Security::{
    EqualSid, GetTokenInformation, TokenOwner, TokenUser, ACL, OWNER_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR, PSID, TOKEN_OWNER, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

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

/// Parts of an object's security descriptor (`GetSecurityInfo`): null where not asked for or not
/// recorded. They point into the descriptor, which this owns and frees on drop: valid while it
/// lives.
pub(super) struct SecurityInfo {
    pub(super) owner: PSID,
    pub(super) group: PSID,
    pub(super) dacl: *mut ACL,
    _sd: LocalMem,
}

/// The parts `what` (`…_SECURITY_INFORMATION` flags) of the security descriptor of `h`, an
/// object of type `object` opened with `READ_CONTROL`.
pub(super) fn security_info(
    h: HANDLE,
    object: SE_OBJECT_TYPE,
    what: u32,
) -> io::Result<SecurityInfo> {
    let (mut owner, mut group): (PSID, PSID) = (std::ptr::null_mut(), std::ptr::null_mut());
    let mut dacl: *mut ACL = std::ptr::null_mut();
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: every out-pointer is writable; on success `sd` holds the descriptor the others
    // point into, which the returned value owns.
    let rc = unsafe {
        GetSecurityInfo(
            h,
            object,
            what,
            &mut owner,
            &mut group,
            &mut dacl,
            std::ptr::null_mut(),
            &mut sd,
        )
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc as i32));
    }
    Ok(SecurityInfo {
        owner,
        group,
        dacl,
        _sd: LocalMem(sd),
    })
}

/// This process's access token, for queries.
pub(super) fn process_token() -> io::Result<OwnedHandle> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: the pseudo-handle of this process and a writable out-pointer.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(last_error());
    }
    // SAFETY: OpenProcessToken succeeded: `token` is a new handle we own.
    unsafe { owned(token) }.ok_or_else(|| io::Error::new(io::ErrorKind::Other, "no process token"))
}

/// One `TOKEN_INFORMATION_CLASS` of this process's token, in a buffer aligned for the structure.
pub(super) fn token_info(token: &OwnedHandle, class: i32) -> io::Result<Vec<u64>> {
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

/// Whether the object `h` (a section, or a persistent object's file: `object` says which;
/// opened with `READ_CONTROL`) is owned by this process's user, or by the default owner its
/// objects get (the Administrators group, for an elevated process). An object without a
/// recorded owner counts as ours.
pub(super) fn owned_by_us(h: HANDLE, object: SE_OBJECT_TYPE) -> io::Result<bool> {
    let info = security_info(h, object, OWNER_SECURITY_INFORMATION)?;
    let owner = info.owner;
    if owner.is_null() {
        // No owner recorded: nothing to compare, so nothing to refuse. (Windows records one for
        // every named section; Wine records the creator's primary group there.)
        return Ok(true);
    }
    let token = process_token()?;
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

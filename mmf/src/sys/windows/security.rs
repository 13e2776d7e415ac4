//! Security descriptors for new objects: [`Permissions`] (Unix mode bits) as a DACL, and the
//! `Global\` privilege check.
//!
//! # The mapping
//!
//! Each class of the mode that grants something becomes one access-allowed ACE, in a protected
//! DACL (nothing is inherited from the namespace directory), so that a new object is owner-only
//! by default, as on Linux:
//!
//! | mode bits | trustee (SID) |
//! |---|---|
//! | owner (`0o600`) | the creator's user (`TokenUser`); always present, with `DELETE`, `READ_CONTROL`, `WRITE_DAC`, `WRITE_OWNER` and `SECTION_QUERY` even without `r`/`w`, so the owner can still inspect the object and change its DACL |
//! | group (`0o060`) | the creator's primary group (`TokenPrimaryGroup`: "None" for a local account, "Domain Users" in a domain), as Cygwin maps a file's group; left out when the primary group is the user itself |
//! | other (`0o006`) | Everyone (`S-1-1-0`) |
//!
//! `r` grants `SECTION_MAP_READ` (`FILE_MAP_READ`) and `w` grants `SECTION_MAP_WRITE`
//! (`FILE_MAP_WRITE`) with `SECTION_MAP_EXECUTE` and `SECTION_EXTEND_SIZE`, each with
//! `SECTION_QUERY` and `READ_CONTROL` (what an opener needs to learn the size and check the
//! owner). The owner's `rw` is therefore `SECTION_ALL_ACCESS`, so a program of the owner that
//! opens with `FILE_MAP_ALL_ACCESS` (as the seed did) works; another user's program granted `rw`
//! by the group or other class must ask for `FILE_MAP_READ | FILE_MAP_WRITE`, since only the owner
//! holds `WRITE_DAC`, `WRITE_OWNER` and `DELETE` (only the owner may `chmod` on Unix). For files
//! (`Kind::File`, for file-backed objects in a directory) `r` and `w` grant `FILE_GENERIC_READ`
//! and `FILE_GENERIC_WRITE`.
//!
//! Windows has no class precedence: allowed ACEs add up, so the owner or a group member also gets
//! what `other` grants (on Linux `0o066` locks the owner out; on Windows Everyone's ACE lets the
//! owner in). The modes [`Permissions`] names never differ in that way.
//!
//! A process that creates an object gets the access it asked for whatever the DACL says; the DACL
//! decides for every later open (`OpenFileMappingW`, also by the creator itself).
//!
//! # Reading it back
//!
//! Listings show an object's owner and mode ([`describe`]), read back by the same table. The
//! owner class is the allowed ACE that grants `WRITE_DAC` (mmf gives it to the owner only): the
//! one for the descriptor's owner, else the first that is not Local System's or Everyone's (an
//! elevated process's objects are owned by Administrators, and Wine records the primary group as
//! a section's owner, while the owner ACE is the creator's user), else, for a DACL made by another
//! program that grants no `WRITE_DAC`, the ACE for the descriptor's owner. Its trustee is the
//! owner shown. The ACE for the descriptor's group gives the group bits, Everyone's the other
//! bits; `r` where an ACE grants reading the data (`SECTION_MAP_READ`, `FILE_READ_DATA`), `w`
//! where it grants writing it (`SECTION_MAP_WRITE`, `FILE_WRITE_DATA`). Deny ACEs and other
//! trustees are left out, so for a DACL made by another program the mode is what those three
//! classes are granted; a NULL DACL, which grants everyone everything, reads as `0o666`. (Wine
//! keeps a file's DACL as Unix mode bits and shows neither a group entry nor write access for
//! Everyone: there a persistent object's group bits and other `w` read as 0.)
//!
//! # Safety
//!
//! Win32 calls take raw pointers into buffers owned here; each call states the invariant it
//! relies on (see `windows/mod.rs`).
#![allow(unsafe_code)]

use super::owner::{process_token, security_info, token_info};
use crate::types::Permissions;
use std::ffi::c_void;
use std::io;
use windows_sys::Win32::Foundation::{FALSE, HANDLE, LUID, TRUE};
use windows_sys::Win32::Security::Authorization::{SE_FILE_OBJECT, SE_KERNEL_OBJECT};
use windows_sys::Win32::Security::{
    AddAccessAllowedAce, CreateWellKnownSid, EqualSid, GetLengthSid, InitializeAcl,
    InitializeSecurityDescriptor, LookupPrivilegeValueW, SetSecurityDescriptorControl,
    SetSecurityDescriptorDacl, TokenPrimaryGroup, TokenPrivileges, TokenUser, WinWorldSid, ACL,
    ACL_REVISION, LUID_AND_ATTRIBUTES, PSID, SECURITY_ATTRIBUTES, SECURITY_DESCRIPTOR,
    SECURITY_MAX_SID_SIZE, SE_DACL_PROTECTED, SE_PRIVILEGE_ENABLED, TOKEN_PRIMARY_GROUP,
    TOKEN_PRIVILEGES, TOKEN_USER,
};
use windows_sys::Win32::Security::{
    GetAce, LookupAccountSidW, WinLocalSystemSid, ACCESS_ALLOWED_ACE, DACL_SECURITY_INFORMATION,
    GROUP_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION, SID_NAME_USE, WELL_KNOWN_SID_TYPE,
};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_GENERIC_READ, FILE_GENERIC_WRITE, FILE_READ_ATTRIBUTES, FILE_READ_DATA, FILE_WRITE_DATA,
    READ_CONTROL, STANDARD_RIGHTS_REQUIRED, SYNCHRONIZE, WRITE_DAC,
};
use windows_sys::Win32::System::Memory::{
    SECTION_EXTEND_SIZE, SECTION_MAP_EXECUTE, SECTION_MAP_READ, SECTION_MAP_WRITE, SECTION_QUERY,
};

/// `SECURITY_DESCRIPTOR_REVISION` (in windows-sys' `System_SystemServices`, not enabled here).
const SD_REVISION: u32 = 1;

/// What kind of object a descriptor is for: the rights differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A section (`CreateFileMappingW`).
    Section,
    /// A file (`CreateFileW`): a persistent object's (`persistent.rs`).
    File,
}

/// The access mask an ACE grants for one class's bits (`0o6`: `r` = 4, `w` = 2; `x` is ignored).
/// The owner's ACE also carries the standard rights (see the module documentation).
pub(crate) fn rights(kind: Kind, bits: u32, owner: bool) -> u32 {
    let (base, read, write) = match kind {
        Kind::Section => (
            SECTION_QUERY | READ_CONTROL,
            SECTION_MAP_READ,
            // What FILE_MAP_ALL_ACCESS asks beyond reading, so that programs that open with it
            // (the seed did) work wherever writing is allowed.
            SECTION_MAP_WRITE | SECTION_MAP_EXECUTE | SECTION_EXTEND_SIZE,
        ),
        Kind::File => (
            FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE,
            FILE_GENERIC_READ,
            FILE_GENERIC_WRITE,
        ),
    };
    let mut mask = base;
    if bits & 4 != 0 {
        mask |= read;
    }
    if bits & 2 != 0 {
        mask |= write;
    }
    if owner {
        mask |= STANDARD_RIGHTS_REQUIRED;
    }
    mask
}

/// Who an ACE is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trustee {
    /// The creator's user.
    Owner,
    /// The creator's primary group.
    Group,
    /// Everyone.
    Everyone,
}

/// The ACEs for `perms`, in order: the owner always; the group and Everyone when their bits grant
/// something.
pub(crate) fn aces(perms: Permissions, kind: Kind) -> Vec<(Trustee, u32)> {
    let mode = perms.mode();
    let mut out = vec![(Trustee::Owner, rights(kind, (mode >> 6) & 6, true))];
    if (mode >> 3) & 6 != 0 {
        out.push((Trustee::Group, rights(kind, (mode >> 3) & 6, false)));
    }
    if mode & 6 != 0 {
        out.push((Trustee::Everyone, rights(kind, mode & 6, false)));
    }
    out
}

/// A self-relative copy of a SID, in a buffer aligned for it.
struct Sid(Vec<u64>);

impl Sid {
    fn ptr(&self) -> PSID {
        self.0.as_ptr() as PSID
    }

    /// Copies the SID at `sid`.
    ///
    /// # Safety
    /// `sid` points to a valid SID, readable for the call.
    unsafe fn copy(sid: PSID) -> Sid {
        // SAFETY: `sid` is a valid SID (the caller's promise).
        let len = unsafe { GetLengthSid(sid) } as usize;
        let mut buf = vec![0u64; (len + 7) / 8];
        // SAFETY: `sid` is valid for `len` bytes and `buf` is at least that long; they do not
        // overlap (`buf` is new).
        unsafe {
            std::ptr::copy_nonoverlapping(sid as *const u8, buf.as_mut_ptr() as *mut u8, len)
        };
        Sid(buf)
    }

    fn len(&self) -> u32 {
        // SAFETY: the buffer holds a valid SID (see `copy` and `everyone`).
        unsafe { GetLengthSid(self.ptr()) }
    }

    fn everyone() -> io::Result<Sid> {
        Sid::well_known(WinWorldSid)
    }

    /// A well-known SID that needs no domain (Everyone, Local System).
    fn well_known(kind: WELL_KNOWN_SID_TYPE) -> io::Result<Sid> {
        let mut buf = vec![0u64; (SECURITY_MAX_SID_SIZE as usize + 7) / 8];
        let mut len = (buf.len() * 8) as u32;
        // SAFETY: `buf` is writable for `len` bytes; `kind` needs no domain (the callers').
        let ok = unsafe {
            CreateWellKnownSid(
                kind,
                std::ptr::null_mut(),
                buf.as_mut_ptr() as PSID,
                &mut len,
            )
        };
        if ok == FALSE {
            return Err(io::Error::last_os_error());
        }
        Ok(Sid(buf))
    }
}

/// The creator's user and primary group SIDs.
fn user_and_group() -> io::Result<(Sid, Sid)> {
    let token = process_token()?;
    let user = token_info(&token, TokenUser)?;
    let group = token_info(&token, TokenPrimaryGroup)?;
    // SAFETY: GetTokenInformation filled the buffers with a TOKEN_USER and a TOKEN_PRIMARY_GROUP,
    // whose SID pointers point to valid SIDs in the same buffers, alive until the copies are
    // made (what `Sid::copy` asks).
    unsafe {
        Ok((
            Sid::copy((*(user.as_ptr() as *const TOKEN_USER)).User.Sid),
            Sid::copy((*(group.as_ptr() as *const TOKEN_PRIMARY_GROUP)).PrimaryGroup),
        ))
    }
}

/// An absolute security descriptor with its DACL, for `SECURITY_ATTRIBUTES`.
pub(crate) struct Security {
    /// Boxed, so that the descriptor's address (and the ACL's, in `acl`'s heap buffer) stay put
    /// when the `Security` moves.
    sd: Box<SECURITY_DESCRIPTOR>,
    _acl: Vec<u64>,
}

impl Security {
    /// The descriptor for a new object of `kind` with `perms` (see the module documentation).
    pub(crate) fn new(perms: Permissions, kind: Kind) -> io::Result<Security> {
        let (user, group) = user_and_group()?;
        let everyone = Sid::everyone()?;
        // SAFETY: two valid SIDs.
        let group_is_user = unsafe { EqualSid(user.ptr(), group.ptr()) } != 0;
        let list: Vec<(&Sid, u32)> = aces(perms, kind)
            .into_iter()
            .filter(|(t, _)| !(group_is_user && *t == Trustee::Group))
            .map(|(t, mask)| {
                let sid = match t {
                    Trustee::Owner => &user,
                    Trustee::Group => &group,
                    Trustee::Everyone => &everyone,
                };
                (sid, mask)
            })
            .collect();
        // ACL header, then per ACE its header, mask and SID (ACCESS_ALLOWED_ACE ends where the
        // SID begins: 8 bytes before it).
        let size: u32 = std::mem::size_of::<ACL>() as u32
            + list.iter().map(|(sid, _)| 8 + sid.len()).sum::<u32>();
        let mut acl = vec![0u64; (size as usize + 7) / 8];
        let acl_ptr = acl.as_mut_ptr() as *mut ACL;
        // SAFETY: `acl` is writable for at least `size` bytes and 8-byte aligned.
        if unsafe { InitializeAcl(acl_ptr, size, ACL_REVISION) } == FALSE {
            return Err(io::Error::last_os_error());
        }
        for (sid, mask) in &list {
            // SAFETY: an initialised ACL with room for this ACE (sized above); a valid SID, which
            // the call copies.
            if unsafe { AddAccessAllowedAce(acl_ptr, ACL_REVISION, *mask, sid.ptr()) } == FALSE {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: SECURITY_DESCRIPTOR is plain data (integers and pointers), valid all-zero;
        // InitializeSecurityDescriptor then sets it up.
        let mut sd: Box<SECURITY_DESCRIPTOR> = Box::new(unsafe { std::mem::zeroed() });
        let sd_ptr = &mut *sd as *mut SECURITY_DESCRIPTOR as *mut c_void;
        // SAFETY: `sd_ptr` points to a writable SECURITY_DESCRIPTOR; the DACL it is given lives
        // in `acl`, which the returned `Security` keeps (heap memory: it does not move).
        let ok = unsafe {
            InitializeSecurityDescriptor(sd_ptr, SD_REVISION) != FALSE
                && SetSecurityDescriptorDacl(sd_ptr, TRUE, acl_ptr, FALSE) != FALSE
                && SetSecurityDescriptorControl(sd_ptr, SE_DACL_PROTECTED, SE_DACL_PROTECTED)
                    != FALSE
        };
        if !ok {
            return Err(io::Error::last_os_error());
        }
        Ok(Security { sd, _acl: acl })
    }

    /// The attributes to pass to a `Create...W` call (not inheritable); they point into `self`,
    /// which must outlive the call.
    pub(crate) fn attributes(&self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: &*self.sd as *const SECURITY_DESCRIPTOR as *mut c_void,
            bInheritHandle: FALSE,
        }
    }
}

/// An object's owner and mode, read back from its security descriptor (see "Reading it back").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Described {
    /// The owner class's trustee, `DOMAIN\user` (`None` if the system cannot name it).
    pub(crate) owner: Option<String>,
    /// The mode bits the DACL grants.
    pub(crate) mode: u32,
}

/// Reads the owner and the mode of the object of `kind` behind `h` (opened with `READ_CONTROL`).
pub(crate) fn describe(h: HANDLE, kind: Kind) -> io::Result<Described> {
    let object = match kind {
        Kind::Section => SE_KERNEL_OBJECT,
        Kind::File => SE_FILE_OBJECT,
    };
    let what = OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
    // `info` keeps the descriptor these point into until the end of this function.
    let info = security_info(h, object, what)?;
    let (owner, group, acl) = (info.owner, info.group, info.dacl);
    if acl.is_null() {
        return Ok(Described {
            // SAFETY: null, or the descriptor's owner SID, valid while `info` lives.
            owner: unsafe { account(owner) },
            mode: 0o666,
        });
    }
    let everyone = Sid::everyone()?;
    // Reading and writing the data decide (the other rights `rights` adds vary between programs).
    let (read, write) = match kind {
        Kind::Section => (SECTION_MAP_READ, SECTION_MAP_WRITE),
        Kind::File => (FILE_READ_DATA, FILE_WRITE_DATA),
    };
    let bits = |mask: u32| {
        (if mask & read == read { 4 } else { 0 }) | (if mask & write == write { 2 } else { 0 })
    };
    // The access-allowed ACEs, with their masks.
    let mut allowed: Vec<(u32, PSID)> = Vec::new();
    // SAFETY: `acl` points to a valid ACL inside the descriptor (see above).
    let count = unsafe { (*acl).AceCount };
    for i in 0..count as u32 {
        let mut ace: *mut c_void = std::ptr::null_mut();
        // SAFETY: a valid ACL and an index below its count; `ace` is writable.
        if unsafe { GetAce(acl, i, &mut ace) } == FALSE {
            return Err(io::Error::last_os_error());
        }
        let ace = ace as *const ACCESS_ALLOWED_ACE;
        // SAFETY: GetAce points `ace` at an ACE of the ACL; every ACE starts with its header.
        // Only access-allowed ones (type 0) are read further, as ACCESS_ALLOWED_ACE, whose SID
        // starts at `SidStart` and lies inside the ACE (in the descriptor `info` holds).
        unsafe {
            if (*ace).Header.AceType == 0 {
                allowed.push(((*ace).Mask, std::ptr::addr_of!((*ace).SidStart) as PSID));
            }
        }
    }
    let same = |a: PSID, b: PSID| {
        // SAFETY: both non-null (checked first), and every SID compared here is valid while
        // this function runs: the ACEs' and the descriptor's (in the descriptor `info` holds
        // until the end), and `everyone`'s and `system`'s.
        !a.is_null() && !b.is_null() && unsafe { EqualSid(a, b) } != 0
    };
    let system = Sid::well_known(WinLocalSystemSid)?;
    let owns = |(mask, _): &&(u32, PSID)| mask & WRITE_DAC != 0;
    let owner_ace = allowed
        .iter()
        .filter(owns)
        .find(|(_, sid)| same(*sid, owner))
        .or_else(|| {
            allowed
                .iter()
                .filter(owns)
                .find(|(_, sid)| !same(*sid, system.ptr()) && !same(*sid, everyone.ptr()))
        })
        .or_else(|| allowed.iter().find(|(_, sid)| same(*sid, owner)))
        .map(|(_, sid)| *sid);
    let mut mode = 0;
    for &(mask, sid) in &allowed {
        if same(sid, everyone.ptr()) {
            mode |= bits(mask);
        } else if owner_ace == Some(sid) {
            mode |= bits(mask) << 6;
        } else if same(sid, group) {
            mode |= bits(mask) << 3;
        }
    }
    Ok(Described {
        // SAFETY: an ACE's SID or the descriptor's owner (or null), valid while `info` lives.
        owner: unsafe { account(owner_ace.unwrap_or(owner)) },
        mode,
    })
}

/// The account `sid` names, as `DOMAIN\user` (just `user` without a domain); `None` for a null
/// SID or one the system cannot name.
///
/// # Safety
/// `sid` is null or points to a valid SID, readable for the call.
unsafe fn account(sid: PSID) -> Option<String> {
    if sid.is_null() {
        return None;
    }
    let (mut name, mut domain) = ([0u16; 256], [0u16; 256]);
    let (mut name_len, mut domain_len) = (name.len() as u32, domain.len() as u32);
    let mut kind: SID_NAME_USE = 0;
    // SAFETY: a valid SID; two writable buffers of the lengths passed; `kind` is writable.
    let ok = unsafe {
        LookupAccountSidW(
            std::ptr::null(),
            sid,
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut kind,
        )
    };
    if ok == FALSE {
        return None;
    }
    let text = |b: &[u16], n: u32| String::from_utf16_lossy(&b[..(n as usize).min(b.len())]);
    let (name, domain) = (text(&name, name_len), text(&domain, domain_len));
    Some(if domain.is_empty() {
        name
    } else {
        format!("{}\\{}", domain, name)
    })
}

/// The identifier of the privilege `name` on this system (`None` if it has no such privilege).
pub(crate) fn privilege_luid(name: &str) -> Option<LUID> {
    let wname: Vec<u16> = name.encode_utf16().chain(std::iter::once(0)).collect();
    let mut luid = LUID {
        LowPart: 0,
        HighPart: 0,
    };
    // SAFETY: `wname` is NUL-terminated and outlives the call; `luid` is writable.
    if unsafe { LookupPrivilegeValueW(std::ptr::null(), wname.as_ptr(), &mut luid) } == FALSE {
        return None;
    }
    Some(luid)
}

/// Whether this process's token holds the privilege `name` enabled (`None`: it could not be told).
pub(crate) fn privilege_enabled(name: &str) -> Option<bool> {
    let luid = privilege_luid(name)?;
    let token = process_token().ok()?;
    let buf = token_info(&token, TokenPrivileges).ok()?;
    let head = buf.as_ptr() as *const TOKEN_PRIVILEGES;
    // SAFETY: GetTokenInformation filled `buf` with a TOKEN_PRIVILEGES whose `PrivilegeCount`
    // entries lie inside it.
    let all: &[LUID_AND_ATTRIBUTES] = unsafe {
        std::slice::from_raw_parts(
            std::ptr::addr_of!((*head).Privileges) as *const LUID_AND_ATTRIBUTES,
            (*head).PrivilegeCount as usize,
        )
    };
    Some(all.iter().any(|p| {
        p.Luid.LowPart == luid.LowPart
            && p.Luid.HighPart == luid.HighPart
            && p.Attributes & SE_PRIVILEGE_ENABLED != 0
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_only_is_one_ace_for_the_owner() {
        let a = aces(Permissions::OWNER_ONLY, Kind::Section);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].0, Trustee::Owner);
        let m = a[0].1;
        assert_eq!(
            m & (SECTION_MAP_READ | SECTION_MAP_WRITE),
            SECTION_MAP_READ | SECTION_MAP_WRITE
        );
        assert_ne!(m & SECTION_QUERY, 0);
    }

    #[test]
    fn classes_map_to_group_and_everyone() {
        let a = aces(Permissions::from_mode(0o640), Kind::Section);
        assert_eq!(a.len(), 2);
        assert_eq!(a[1].0, Trustee::Group);
        assert_ne!(a[1].1 & SECTION_MAP_READ, 0);
        assert_eq!(a[1].1 & SECTION_MAP_WRITE, 0);
        let a = aces(Permissions::EVERYONE_READ_WRITE, Kind::File);
        assert_eq!(a.len(), 3);
        assert_eq!(a[2].0, Trustee::Everyone);
        assert_eq!(a[2].1 & FILE_GENERIC_WRITE, FILE_GENERIC_WRITE);
        // An owner without bits keeps the standard rights, but maps nothing.
        let a = aces(Permissions::from_mode(0o004), Kind::Section);
        assert_eq!(a[0].1 & (SECTION_MAP_READ | SECTION_MAP_WRITE), 0);
        assert_eq!(a[0].1 & STANDARD_RIGHTS_REQUIRED, STANDARD_RIGHTS_REQUIRED);
    }

    #[test]
    fn a_descriptor_is_built_for_every_mode() {
        for mode in [0o600, 0o640, 0o660, 0o644, 0o666, 0o400, 0o000] {
            for kind in [Kind::Section, Kind::File] {
                Security::new(Permissions::from_mode(mode), kind).unwrap();
            }
        }
    }
}

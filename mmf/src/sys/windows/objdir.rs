//! The NT object directories that hold named sections: the session's
//! (`\Sessions\N\BaseNamedObjects`, what `Local\` designates; `\BaseNamedObjects` in session 0)
//! and the global one (`\BaseNamedObjects`, `Global\`). Win32 cannot enumerate sections; the
//! native `NtOpenDirectoryObject` and `NtQueryDirectoryObject` can, one entry per call (the only
//! mode Wine implements). `NtQueryObject` gives the number of handles to a section.
//!
//! # Safety
//!
//! These native calls take raw pointers and handles; each call states the invariant it relies on.
#![allow(unsafe_code)]

use super::owner::{process_token, token_info};
use super::section::{query_section, status_error};
use super::security::{describe, Described, Kind};
use super::{kernel_name, owned, raw, QUERY_ACCESS};
use std::ffi::c_void;
use std::io;
use std::os::windows::io::OwnedHandle;
use windows_sys::Win32::Foundation::{FALSE, HANDLE};
use windows_sys::Win32::Security::TokenSessionId;
use windows_sys::Win32::Storage::FileSystem::READ_CONTROL;
use windows_sys::Win32::System::Memory::{
    MapViewOfFile, OpenFileMappingW, UnmapViewOfFile, VirtualAlloc, FILE_MAP_READ,
    MEMORY_MAPPED_VIEW_ADDRESS, MEM_COMMIT, PAGE_READONLY, SECTION_QUERY,
};

#[repr(C)]
struct UnicodeString {
    length: u16,
    maximum_length: u16,
    buffer: *mut u16,
}

#[repr(C)]
struct ObjectAttributes {
    length: u32,
    root_directory: HANDLE,
    object_name: *const UnicodeString,
    attributes: u32,
    security_descriptor: *mut c_void,
    security_quality_of_service: *mut c_void,
}

#[repr(C)]
struct ObjectDirectoryInformation {
    name: UnicodeString,
    type_name: UnicodeString,
}

#[repr(C)]
struct ObjectBasicInformation {
    attributes: u32,
    granted_access: u32,
    handle_count: u32,
    pointer_count: u32,
    reserved: [u32; 10],
}

#[link(name = "ntdll")]
extern "system" {
    fn NtOpenDirectoryObject(
        handle: *mut HANDLE,
        access: u32,
        attributes: *const ObjectAttributes,
    ) -> i32;
    fn NtQueryDirectoryObject(
        handle: HANDLE,
        buffer: *mut c_void,
        length: u32,
        single_entry: u8,
        restart_scan: u8,
        context: *mut u32,
        return_length: *mut u32,
    ) -> i32;
    fn NtQueryObject(
        handle: HANDLE,
        class: u32,
        info: *mut c_void,
        length: u32,
        return_length: *mut u32,
    ) -> i32;
}

const DIRECTORY_QUERY: u32 = 0x0001;
const OBJ_CASE_INSENSITIVE: u32 = 0x40;
const STATUS_NO_MORE_ENTRIES: i32 = 0x8000_001A_u32 as i32;
const STATUS_BUFFER_TOO_SMALL: i32 = 0xC000_0023_u32 as i32;
const STATUS_MORE_ENTRIES: i32 = 0x0000_0105;
const OBJECT_BASIC_INFORMATION: u32 = 0;

/// This process's session (the `N` of `\Sessions\N`).
fn session_id() -> io::Result<u32> {
    let info = token_info(&process_token()?, TokenSessionId)?;
    // A DWORD at the start of the (8-byte aligned) buffer.
    Ok(info[0].to_le() as u32)
}

/// The NT path of the directory that `Local\` (`global` false) or `Global\` designates.
pub(super) fn directory_path(global: bool) -> io::Result<String> {
    let session = if global { 0 } else { session_id()? };
    Ok(if session == 0 {
        "\\BaseNamedObjects".to_owned()
    } else {
        format!("\\Sessions\\{}\\BaseNamedObjects", session)
    })
}

fn from_unicode(s: &UnicodeString) -> String {
    if s.buffer.is_null() || s.length == 0 {
        return String::new();
    }
    // SAFETY: the system filled `s` to point at `length` bytes of UTF-16 inside the buffer the
    // caller still holds.
    let units = unsafe { std::slice::from_raw_parts(s.buffer, s.length as usize / 2) };
    String::from_utf16_lossy(units)
}

/// The names of the sections in the NT directory `path`, sorted.
///
/// The scan's context is an index into the directory, so a section removed during a pass shifts
/// the ones after it and the pass may skip one; passes repeat (at most 8) until one finds nothing
/// the earlier ones did not. A section that is gone by then is left out by the caller, which
/// opens each one.
pub(super) fn sections_in(path: &str) -> io::Result<Vec<String>> {
    let mut all = std::collections::BTreeSet::new();
    for pass in 0..8 {
        let before = all.len();
        all.extend(one_pass(path)?);
        if pass > 0 && all.len() == before {
            break;
        }
    }
    Ok(all.into_iter().collect())
}

/// One scan of the NT directory `path`: the names of the sections in it.
fn one_pass(path: &str) -> io::Result<Vec<String>> {
    let mut wpath: Vec<u16> = path.encode_utf16().collect();
    let name = UnicodeString {
        length: (wpath.len() * 2) as u16,
        maximum_length: (wpath.len() * 2) as u16,
        buffer: wpath.as_mut_ptr(),
    };
    let attrs = ObjectAttributes {
        length: std::mem::size_of::<ObjectAttributes>() as u32,
        root_directory: std::ptr::null_mut(),
        object_name: &name,
        attributes: OBJ_CASE_INSENSITIVE,
        security_descriptor: std::ptr::null_mut(),
        security_quality_of_service: std::ptr::null_mut(),
    };
    let mut h: HANDLE = std::ptr::null_mut();
    // SAFETY: `attrs` and the name it points to outlive the call; `h` is writable.
    let status = unsafe { NtOpenDirectoryObject(&mut h, DIRECTORY_QUERY, &attrs) };
    if status < 0 {
        return Err(status_error(status));
    }
    // SAFETY: the call succeeded: `h` is a new handle we own.
    let dir: OwnedHandle = unsafe { owned(h) }
        .ok_or_else(|| io::Error::new(io::ErrorKind::Other, "no directory handle"))?;
    let mut out = Vec::new();
    let mut buf = vec![0u64; 512];
    let mut context = 0u32;
    let mut first = true;
    loop {
        let mut got = 0u32;
        let len = (buf.len() * 8) as u32;
        // SAFETY: `buf` is writable for `len` bytes and aligned for the structure; `context` and
        // `got` are writable. One entry per call.
        let status = unsafe {
            NtQueryDirectoryObject(
                raw(&dir),
                buf.as_mut_ptr() as *mut c_void,
                len,
                1,
                u8::from(first),
                &mut context,
                &mut got,
            )
        };
        if status == STATUS_NO_MORE_ENTRIES {
            break;
        }
        if status == STATUS_BUFFER_TOO_SMALL && buf.len() < 1 << 16 {
            buf = vec![0u64; buf.len() * 4];
            continue;
        }
        if status < 0 {
            return Err(status_error(status));
        }
        first = false;
        // SAFETY: on success the buffer starts with an OBJECT_DIRECTORY_INFORMATION whose strings
        // point into the buffer, which lives until the next call.
        let info = unsafe { &*(buf.as_ptr() as *const ObjectDirectoryInformation) };
        if from_unicode(&info.type_name) == "Section" {
            out.push(from_unicode(&info.name));
        }
        if status != 0 && status != STATUS_MORE_ENTRIES {
            break;
        }
    }
    Ok(out)
}

/// What a listing shows of a named section: its size, handles held by others, first bytes, owner
/// and mode (`None` where its descriptor cannot be read).
pub(super) struct SectionFacts {
    pub(super) size: u64,
    pub(super) holders: Option<usize>,
    pub(super) magic: [u8; 8],
    pub(super) security: Option<Described>,
}

/// The owner and mode of the section `NS\name`, through a handle of its own that asks for
/// `READ_CONTROL` alone (which every class mmf grants anything has; see `security.rs`).
fn section_security(wname: &[u16]) -> Option<Described> {
    // SAFETY: `wname` is NUL-terminated and outlives the call.
    let h = unsafe { OpenFileMappingW(READ_CONTROL, FALSE, wname.as_ptr()) };
    // SAFETY: NULL or a new handle we own.
    let h = unsafe { owned(h) }?;
    describe(raw(&h), Kind::Section).ok()
}

/// Opens the section `NS\name` to describe it; `None` if it is gone or cannot be opened.
pub(super) fn section_facts(global: bool, name: &str) -> Option<SectionFacts> {
    let wname = kernel_name(global, "", name);
    // SAFETY: `wname` is NUL-terminated and outlives the call.
    let h = unsafe { OpenFileMappingW(SECTION_QUERY | FILE_MAP_READ, FALSE, wname.as_ptr()) };
    // SAFETY: NULL or a new handle we own.
    let h = match unsafe { owned(h) } {
        Some(h) => h,
        None => {
            // Readable only with less access (another user's): the size alone, if at all.
            // SAFETY: as above.
            let h = unsafe { OpenFileMappingW(QUERY_ACCESS, FALSE, wname.as_ptr()) };
            // SAFETY: NULL or a new handle we own.
            let h = unsafe { owned(h) }?;
            let info = query_section(raw(&h)).ok()?;
            return Some(SectionFacts {
                size: info.size,
                holders: handles(&h),
                magic: [0; 8],
                security: section_security(&wname),
            });
        }
    };
    let info = query_section(raw(&h)).ok()?;
    // A growable section (a shared value's, `grow.rs`) records its size in its last page.
    let growth = super::grow::attach(raw(&h), &info, false).ok().flatten();
    let size = growth.as_ref().map_or(info.size, |t| t.size());
    let mut magic = [0u8; 8];
    // A reserved section's first page may be uncommitted: reading it would fault. A growable
    // one's is committed first (read-only), as every view of it commits what it maps.
    if size >= 8 && (!info.reserve || growth.is_some()) {
        // SAFETY: a read-only view of the first bytes of a section we hold; unmapped below.
        let view = unsafe { MapViewOfFile(raw(&h), FILE_MAP_READ, 0, 0, 8) };
        if !view.Value.is_null() {
            // Only for a growable section, whose pages views commit when they map them.
            let committed = growth.is_none() || {
                // SAFETY: commits the first page of the view just mapped, read-only.
                let p = unsafe { VirtualAlloc(view.Value, 8, MEM_COMMIT, PAGE_READONLY) };
                !p.is_null()
            };
            if committed {
                let first = view.Value as *const u8;
                for (i, b) in magic.iter_mut().enumerate() {
                    // SAFETY: the view is at least 8 bytes long, committed and readable; another
                    // process may write it meanwhile, so it is read as plain bytes, volatile.
                    *b = unsafe { std::ptr::read_volatile(first.add(i)) };
                }
            }
            // SAFETY: the view mapped above, unmapped once.
            unsafe { UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS { Value: view.Value }) };
        }
    }
    Some(SectionFacts {
        size,
        holders: handles(&h),
        magic,
        security: section_security(&wname),
    })
}

/// Handles to the section other than `h` itself (at least 1: a section with a name is held by
/// someone, through a handle or a view).
fn handles(h: &OwnedHandle) -> Option<usize> {
    let mut info = ObjectBasicInformation {
        attributes: 0,
        granted_access: 0,
        handle_count: 0,
        pointer_count: 0,
        reserved: [0; 10],
    };
    let mut got = 0u32;
    // SAFETY: `info` is writable for the size passed; `got` is writable.
    let status = unsafe {
        NtQueryObject(
            raw(h),
            OBJECT_BASIC_INFORMATION,
            &mut info as *mut ObjectBasicInformation as *mut c_void,
            std::mem::size_of::<ObjectBasicInformation>() as u32,
            &mut got,
        )
    };
    if status < 0 || info.handle_count == 0 {
        return None;
    }
    Some((info.handle_count as usize - 1).max(1))
}

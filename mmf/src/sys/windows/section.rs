//! `NtQuerySection`: the one way to learn an existing section's size and attributes.
//!
//! # Safety
//!
//! Win32 calls take raw pointers and handles; each call states the invariant it relies on (see
//! `windows/mod.rs`).
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::io;
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Memory::SEC_RESERVE;

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

/// The Win32 error an NT status stands for.
pub(super) fn status_error(status: i32) -> io::Error {
    // SAFETY: a pure conversion of a status code.
    let code = unsafe { RtlNtStatusToDosError(status) };
    io::Error::from_raw_os_error(code as i32)
}

pub(super) struct SectionInfo {
    pub(super) size: u64,
    pub(super) reserve: bool,
}

/// Size and attributes of the section `h` (which needs `SECTION_QUERY` access).
pub(super) fn query_section(h: HANDLE) -> io::Result<SectionInfo> {
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
        return Err(status_error(status));
    }
    Ok(SectionInfo {
        size: info.maximum_size.max(0) as u64,
        reserve: info.allocation_attributes & SEC_RESERVE != 0,
    })
}

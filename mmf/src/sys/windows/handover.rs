//! Handing a section to a child process: an inheritable handle and the token that names it.
//!
//! # Safety
//!
//! Win32 calls take raw pointers and handles; each call states the invariant it relies on (see
//! `windows/mod.rs`).
#![allow(unsafe_code)]

use super::section::query_section;
use super::{last_error, namespace, owned, Named, Object};
use crate::sys::contract::{HandOver, ObjectOps};
use crate::sys::{backing_tag, parse_token};
use crate::sys::{Error, Result};
use crate::types::Backing;
use crate::{ErrorKind, Name};
use std::os::windows::io::{FromRawHandle, OwnedHandle, RawHandle};
use std::process::Command;
use windows_sys::Win32::Foundation::{
    DuplicateHandle, GetHandleInformation, SetHandleInformation, DUPLICATE_SAME_ACCESS, HANDLE,
    HANDLE_FLAG_INHERIT, INVALID_HANDLE_VALUE, TRUE,
};
use windows_sys::Win32::System::Threading::GetCurrentProcess;

/// What a token puts before a persistent object's name (a section's gets its namespace).
const PERSISTENT_PREFIX: &str = "File\\";

impl HandOver for Object {
    /// Duplicates the section handle as inheritable for the child spawned from `_cmd` (Win32
    /// passes every inheritable handle to children created with `bInheritHandles`, which `std`
    /// always sets). The token is `mmf:KIND:ACCESS:HANDLE`, and for a named object
    /// `:NAMESPACE\NAME` after it (`Local\`, `Global\`, or `File\` for a persistent object).
    fn inherit(&self, backing: Backing, _cmd: &mut Command) -> Result<Inheritance> {
        // A file that grew since it was opened hands over a section of its current size.
        let end = self.len()?;
        let dup = self
            .with_section(end, |section| {
                let mut dup: HANDLE = std::ptr::null_mut();
                // SAFETY: duplicates a handle we hold (open while `with_section` runs) into this
                // same process; `dup` is writable.
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
                    return Err(Error::os(last_error()));
                }
                Ok(dup)
            })
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidInput => Error::new(
                    ErrorKind::InvalidInput,
                    "an empty file has no mapping object to hand over; map the file itself in \
                     the child",
                ),
                _ => e,
            })
            .map_err(|e| e.at("hand over"))?;
        // SAFETY: DuplicateHandle succeeded: `dup` is a new handle we own.
        let handle = unsafe { owned(dup) }
            .ok_or_else(|| Error::new(ErrorKind::Other, "no handle").at("hand over"))?;
        let mut token = format!(
            "mmf:{}:{}:{}",
            backing_tag(backing),
            if self.writable { "rw" } else { "ro" },
            dup as usize
        );
        if let Some(n) = &self.named {
            token.push(':');
            // A persistent object's name is a file's (`persistent.rs`), not a section's.
            token.push_str(if n.persistent {
                PERSISTENT_PREFIX
            } else {
                namespace(n.global)
            });
            token.push_str(n.name.as_str());
        }
        Ok(Inheritance {
            token,
            _handle: handle,
        })
    }

    /// Takes over a section handle inherited from the parent, described by `token`.
    fn from_inherited(token: &str) -> Result<(Object, Backing, Option<Name>)> {
        let bad = || {
            Error::new(
                ErrorKind::InvalidInput,
                "not a token made by Mapping::inherit on Windows (expected \
                 mmf:KIND:ACCESS:HANDLE[:NAMESPACE\\NAME], NAMESPACE Local, Global or File)",
            )
            .at("take over")
        };
        let (backing, writable, rest) = parse_token(token).ok_or_else(bad)?;
        let mut parts = rest.splitn(2, ':');
        let value: usize = parts.next().unwrap_or("").parse().map_err(|_| bad())?;
        let named = match parts.next() {
            None => None,
            Some(full) => {
                let (named, bare): (fn(&Name) -> Named, &str) =
                    if let Some(b) = full.strip_prefix("Global\\") {
                        (|n| Named::section(n, true), b)
                    } else if let Some(b) = full.strip_prefix("Local\\") {
                        (|n| Named::section(n, false), b)
                    } else if let Some(b) = full.strip_prefix(PERSISTENT_PREFIX) {
                        (Named::persistent, b)
                    } else {
                        return Err(bad());
                    };
                Some(named(&Name::new(bare).map_err(|_| bad())?))
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
                "no such handle is open in this process; was the child spawned after \
                 Mapping::inherit, and before the Inheritance was dropped?",
            )
            .at("take over")
            .with_os(last_error()));
        }
        let info = query_section(h).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                "the handle is not a file mapping (section) handle",
            )
            .at("take over")
            .with_os(e)
        })?;
        // An inherited handle is inheritable; taking it over clears the flag (below). A handle
        // without it belongs to this process already (taken over before, or never inherited):
        // taking it would close it twice.
        if flags & HANDLE_FLAG_INHERIT == 0 {
            return Err(Error::new(
                ErrorKind::NotFound,
                "that handle is not an inherited one (taken over already?)",
            )
            .at("take over"));
        }
        // SAFETY: `h` is open (checked above), it is a section, and the parent handed it to this
        // process to own: nothing else here knows its value.
        let section = unsafe { OwnedHandle::from_raw_handle(h as RawHandle) };
        // Our own children do not get it unless asked again.
        // SAFETY: changes a flag of a handle we own.
        unsafe { SetHandleInformation(h, HANDLE_FLAG_INHERIT, 0) };
        let name = named.as_ref().map(|n| n.name.clone());
        // A growable section's creator published its trailer long before handing it over.
        let growth = super::grow::attach(h, &info, writable).map_err(|e| e.at("take over"))?;
        Ok((
            Object {
                named,
                growth,
                ..Object::over(Some(section), info.size, writable, info.reserve)
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

//! The namespace operations: `remove`, `list` and `gc`, over the two places named objects live on
//! Windows: sections in the kernel namespace (handle lifetime, `objdir.rs`) and files in the
//! directory of persistent objects (`persistent.rs`).
//!
//! # Safety
//!
//! Win32 calls take raw pointers and handles; each call states the invariant it relies on (see
//! `windows/mod.rs`).
#![allow(unsafe_code)]

use super::named::not_found;
use super::objdir::{directory_path, section_facts, sections_in};
use super::{kernel_name, last_error, owned, persistent, unsupported, QUERY_ACCESS};
use crate::sys::{Error, Result};
use crate::types::{Lifetime, ObjectInfo};
use crate::Name;
use std::io;
use std::path::Path;
use windows_sys::Win32::Foundation::FALSE;
use windows_sys::Win32::System::Memory::OpenFileMappingW;

/// Removes a persistent object's file (see `persistent.rs`). A handle-lifetime section cannot be
/// removed: its name goes when its last handle closes.
pub(crate) fn remove(name: &Name, dir: Option<&Path>) -> Result<()> {
    if persistent::remove(name, dir).map_err(|e| e.at("remove"))? {
        return Ok(());
    }
    let wname = kernel_name(false, "", name.as_str());
    // SAFETY: `wname` is NUL-terminated and outlives the call.
    let h = unsafe { OpenFileMappingW(QUERY_ACCESS, FALSE, wname.as_ptr()) };
    let err = last_error();
    // SAFETY: NULL or a new handle we own (closed at once).
    match unsafe { owned(h) } {
        None if err.kind() == io::ErrorKind::NotFound => Err(not_found(false, dir, "remove")),
        None => Err(Error::os(err).at("remove")),
        Some(_) => Err(unsupported(
            "remove",
            "it is a handle-lifetime object, and on Windows its name goes away by itself when \
             the last handle to it closes; it cannot be taken away from the processes that hold \
             it",
        )),
    }
}

/// The sections of one kernel namespace, named as `open` takes them (`Global\NAME` for the global
/// one); mmf's own objects (`.mmf-…`) and names mmf cannot open are left out.
fn sections(global: bool, out: &mut Vec<ObjectInfo>) -> Result<()> {
    let path = directory_path(global).map_err(|e| Error::os(e).at("list"))?;
    let names = sections_in(&path).map_err(|e| Error::os(e).at("list"))?;
    for name in names {
        // `Name::new` refuses mmf's own objects (`.mmf-…`) too.
        if Name::new(&name).is_err() {
            continue;
        }
        let facts = match section_facts(global, &name) {
            Some(f) => f,
            None => continue, // gone meanwhile
        };
        out.push(ObjectInfo {
            name: if global {
                format!("Global\\{}", name)
            } else {
                name
            },
            size: facts.size,
            owner_uid: 0,
            owner_name: facts.security.as_ref().and_then(|s| s.owner.clone()),
            mode: facts.security.map_or(0, |s| s.mode),
            lifetime: Some(Lifetime::Handle),
            holders: facts.holders,
            holder_pids: Vec::new(),
            magic: facts.magic,
        });
    }
    Ok(())
}

/// The handle-lifetime sections of the session (`Local\`) and of `Global\`, and the persistent
/// objects in the directory, sorted by name.
pub(crate) fn list(dir: Option<&Path>) -> Result<Vec<ObjectInfo>> {
    let mut out = Vec::new();
    sections(false, &mut out)?;
    // In session 0, `Local\` and `Global\` are the same directory.
    if directory_path(false).ok() != directory_path(true).ok() {
        // The global directory may not be readable for everyone: then only the session's.
        let _ = sections(true, &mut out);
    }
    persistent::list(dir, &mut out)?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}

/// The kernel removes a section's name as soon as its last holder is gone; what is left to
/// collect are files in the directory of persistent objects: those of creators that died before
/// publishing, and removed files that were still open.
pub(crate) fn gc(dir: Option<&Path>) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    persistent::gc(dir, &mut removed)?;
    removed.sort();
    Ok(removed)
}

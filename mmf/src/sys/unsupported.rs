//! The fallback backend, for every target without one of its own (wasm32, Android, and Unix
//! systems other than Linux, macOS, iOS and the BSDs; see `mod.rs`): every operation is `Unsupported`. It exists so
//! that crates depending on mmf build everywhere; CI compiles it for `wasm32-unknown-unknown`.
//!
//! # Safety
//!
//! No unsafe operation happens here; `unsafe` appears only because the contract declares `map`
//! and `advise_unchecked` as unsafe functions, which this backend implements by refusing.
#![allow(unsafe_code)]

use super::{CreateSpec, Init, OpenSpec};
use crate::sys::contract::{
    AnonymousObject, CommitOps, HandOver, MapOps, Maps, NamedObject, ObjectOps,
};
use crate::sys::{Error, Result};
use crate::types::{Access, Advice, Backing, Disposition, Lifetime, ObjectInfo, UncheckedAdvice};
use crate::Name;
use std::fs::File;
use std::path::Path;
use std::process::Command;

// Blocking notification and process identity, for shared values (see `sys/mod.rs`).
#[path = "notify_unsupported.rs"]
mod notify;
#[allow(unused_imports)]
pub(crate) use self::notify::*;

/// Why nothing works here.
const WHY: &str = "mmf has no backend for this platform (it supports Linux, Windows, macOS, iOS \
                   and the BSDs)";

fn unsupported<T>() -> Result<T> {
    Err(Error::unsupported(WHY))
}

pub(crate) fn namespace_dir(_dir: Option<&Path>) -> Option<std::path::PathBuf> {
    None
}

pub(crate) fn page_size() -> usize {
    4096
}

pub(crate) fn allocation_granularity() -> usize {
    4096
}

pub(crate) struct Object(());

impl NamedObject for Object {
    fn create(_spec: &CreateSpec<'_>, _init: &mut Init<'_>) -> Result<Object> {
        unsupported()
    }

    fn open(_spec: &OpenSpec<'_>) -> Result<Object> {
        unsupported()
    }

    fn open_or_create(
        _c: &CreateSpec<'_>,
        _o: &OpenSpec<'_>,
        _init: &mut Init<'_>,
    ) -> Result<(Object, Disposition)> {
        unsupported()
    }
}

impl AnonymousObject for Object {
    fn anonymous(_size: u64, _commit: bool) -> Result<Object> {
        unsupported()
    }

    fn anonymous_huge(_size: u64) -> Result<Object> {
        unsupported()
    }
}

impl ObjectOps for Object {
    fn from_file(_f: File, _size: u64, _w: bool) -> Result<Object> {
        unsupported()
    }

    fn len(&self) -> Result<u64> {
        Ok(0)
    }

    fn grow(&self, _new_len: u64) -> Result<()> {
        unsupported()
    }

    fn sync_file(&self) -> Result<()> {
        Ok(())
    }

    fn lifetime(&self) -> Lifetime {
        Lifetime::Persistent
    }

    fn writable(&self) -> bool {
        false
    }

    fn global(&self) -> bool {
        false
    }
}

impl CommitOps for Object {
    fn commit_range(&self, _offset: u64, _len: u64) -> Result<()> {
        unsupported()
    }

    fn decommit_range(&self, _offset: u64, _len: u64) -> Result<()> {
        unsupported()
    }

    fn commits_on_grow(&self) -> bool {
        false
    }
}

impl HandOver for Object {
    fn inherit(&self, _backing: Backing, _cmd: &mut Command) -> Result<Inheritance> {
        unsupported()
    }

    fn from_inherited(_token: &str) -> Result<(Object, Backing, Option<Name>)> {
        unsupported()
    }

    #[cfg(unix)]
    fn send(&self, _backing: Backing, _sock: &std::os::unix::net::UnixStream) -> Result<()> {
        unsupported()
    }

    #[cfg(unix)]
    fn receive(_sock: &std::os::unix::net::UnixStream) -> Result<(Object, Backing, Option<Name>)> {
        unsupported()
    }
}

impl Maps for Object {
    unsafe fn map(
        &self,
        _offset: u64,
        _len: usize,
        _access: Access,
        _at: Option<usize>,
    ) -> Result<RawMap> {
        unsupported()
    }
}

/// Never made here.
pub(crate) struct Inheritance {
    token: String,
}

impl Inheritance {
    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

/// Never made here: no object can be mapped.
pub(crate) struct RawMap {
    ptr: *mut u8,
    #[allow(dead_code)] // read by the other backends' `Drop`
    len: usize,
}

impl MapOps for RawMap {
    /// The first byte of the mapping.
    fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    fn flush(&self, _offset: usize, _len: usize, _wait: bool) -> Result<()> {
        Ok(())
    }

    fn advise(&self, _offset: usize, _len: usize, _advice: Advice) -> Result<()> {
        unsupported()
    }

    /// # Safety
    /// None needed (nothing is done); the signature matches the other backends.
    unsafe fn advise_unchecked(
        &self,
        _offset: usize,
        _len: usize,
        _advice: UncheckedAdvice,
    ) -> Result<()> {
        unsupported()
    }

    fn populate(&self, _offset: usize, _len: usize, _write: bool) -> Result<()> {
        unsupported()
    }

    fn lock(&self, _offset: usize, _len: usize) -> Result<()> {
        unsupported()
    }

    fn unlock(&self, _offset: usize, _len: usize) -> Result<()> {
        unsupported()
    }
}

pub(crate) fn remove(_name: &Name, _dir: Option<&Path>) -> Result<()> {
    unsupported()
}

pub(crate) fn list(_dir: Option<&Path>) -> Result<Vec<ObjectInfo>> {
    unsupported()
}

pub(crate) fn gc(_dir: Option<&Path>) -> Result<Vec<String>> {
    unsupported()
}

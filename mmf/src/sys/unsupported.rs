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
use crate::sys::{Error, Result};
use crate::types::{Access, Advice, Backing, Disposition, Lifetime, ObjectInfo, UncheckedAdvice};
use crate::Name;
use std::fs::File;
use std::io;
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

fn unsupported_io<T>() -> io::Result<T> {
    Err(io::Error::new(io::ErrorKind::Unsupported, WHY))
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

impl Object {
    pub(crate) fn create(_spec: &CreateSpec<'_>, _init: &mut Init<'_>) -> Result<Object> {
        unsupported()
    }
    pub(crate) fn open(_spec: &OpenSpec<'_>) -> Result<Object> {
        unsupported()
    }
    pub(crate) fn open_or_create(
        _c: &CreateSpec<'_>,
        _o: &OpenSpec<'_>,
        _init: &mut Init<'_>,
    ) -> Result<(Object, Disposition)> {
        unsupported()
    }
    pub(crate) fn anonymous(_size: u64, _commit: bool) -> Result<Object> {
        unsupported()
    }
    pub(crate) fn anonymous_huge(_size: u64) -> Result<Object> {
        unsupported()
    }
    pub(crate) fn commit_range(&self, _offset: u64, _len: u64) -> io::Result<()> {
        unsupported_io()
    }
    pub(crate) fn decommit_range(&self, _offset: u64, _len: u64) -> io::Result<()> {
        unsupported_io()
    }
    pub(crate) fn inherit(&self, _backing: Backing, _cmd: &mut Command) -> Result<Inheritance> {
        unsupported()
    }
    pub(crate) fn from_inherited(_token: &str) -> Result<(Object, Backing, Option<Name>)> {
        unsupported()
    }
    #[cfg(unix)]
    pub(crate) fn send(
        &self,
        _backing: Backing,
        _sock: &std::os::unix::net::UnixStream,
    ) -> Result<()> {
        unsupported()
    }
    #[cfg(unix)]
    pub(crate) fn receive(
        _sock: &std::os::unix::net::UnixStream,
    ) -> Result<(Object, Backing, Option<Name>)> {
        unsupported()
    }
    pub(crate) fn from_file(_f: File, _size: u64, _w: bool) -> Result<Object> {
        unsupported()
    }
    pub(crate) fn len(&self) -> io::Result<u64> {
        Ok(0)
    }
    pub(crate) fn grow(&self, _new_len: u64) -> io::Result<()> {
        unsupported_io()
    }
    pub(crate) fn shortage(&self, _offset: u64, _len: u64) -> Option<super::Shortage> {
        None
    }
    pub(crate) fn commits_on_grow(&self) -> bool {
        false
    }
    pub(crate) fn sync_file(&self) -> io::Result<()> {
        Ok(())
    }
    pub(crate) fn lifetime(&self) -> Lifetime {
        Lifetime::Persistent
    }
    pub(crate) fn writable(&self) -> bool {
        false
    }
    pub(crate) fn global(&self) -> bool {
        false
    }
    pub(crate) unsafe fn map(
        &self,
        _offset: u64,
        _len: usize,
        _access: Access,
        _at: Option<usize>,
    ) -> io::Result<RawMap> {
        unsupported_io()
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

impl RawMap {
    /// The first byte of the mapping.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }
}

impl RawMap {
    pub(crate) fn flush(&self, _offset: usize, _len: usize, _wait: bool) -> io::Result<()> {
        Ok(())
    }
    pub(crate) fn advise(&self, _offset: usize, _len: usize, _advice: Advice) -> io::Result<()> {
        unsupported_io()
    }
    /// # Safety
    /// None needed (nothing is done); the signature matches the other backends.
    pub(crate) unsafe fn advise_unchecked(
        &self,
        _offset: usize,
        _len: usize,
        _advice: UncheckedAdvice,
    ) -> io::Result<()> {
        unsupported_io()
    }
    pub(crate) fn populate(&self, _offset: usize, _len: usize, _write: bool) -> io::Result<()> {
        unsupported_io()
    }
    pub(crate) fn lock(&self, _offset: usize, _len: usize) -> io::Result<()> {
        unsupported_io()
    }
    pub(crate) fn unlock(&self, _offset: usize, _len: usize) -> io::Result<()> {
        unsupported_io()
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

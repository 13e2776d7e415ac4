//! Backend for platforms that are neither Unix nor Windows: every operation is `Unsupported`.

use super::{CreateSpec, Init, OpenSpec};
use crate::{Access, Disposition, Error, ErrorKind, Lifetime, Name, ObjectInfo, Result};
use std::fs::File;
use std::io;
use std::path::Path;

fn unsupported<T>(what: impl Into<String>) -> Result<T> {
    Err(Error::new(
        ErrorKind::Unsupported,
        "use",
        what,
        "mmf supports Linux and Windows only",
    ))
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
    pub(crate) fn create(spec: &CreateSpec<'_>, _init: &mut Init<'_>) -> Result<Object> {
        unsupported(spec.name.describe())
    }
    pub(crate) fn open(spec: &OpenSpec<'_>) -> Result<Object> {
        unsupported(spec.name.describe())
    }
    pub(crate) fn open_or_create(
        c: &CreateSpec<'_>,
        _o: &OpenSpec<'_>,
        _init: &mut Init<'_>,
    ) -> Result<(Object, Disposition)> {
        unsupported(c.name.describe())
    }
    pub(crate) fn anonymous(_size: u64, _commit: bool) -> Result<Object> {
        unsupported("anonymous object")
    }
    pub(crate) fn from_file(_f: File, _size: u64, _w: bool, what: &str) -> Result<Object> {
        unsupported(what)
    }
    pub(crate) fn len(&self) -> io::Result<u64> {
        Ok(0)
    }
    pub(crate) fn grow(&self, _new_len: u64) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
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
        Err(io::ErrorKind::Unsupported.into())
    }
}

pub(crate) struct RawMap {
    pub ptr: *mut u8,
    pub len: usize,
}

impl RawMap {
    /// Runs `f`: there are no mappings on this platform, so nothing to catch.
    pub(crate) fn guard<R>(
        &self,
        _object: &Object,
        _offset: usize,
        _len: usize,
        f: impl FnOnce() -> R,
    ) -> std::result::Result<R, super::Fault> {
        Ok(f())
    }

    /// Calls `f` once for the whole range, unguarded (see `guard`).
    pub(crate) fn guard_each(
        &self,
        _object: &Object,
        offset: usize,
        len: usize,
        mut f: impl FnMut(usize, usize),
    ) -> std::result::Result<(), super::Fault> {
        if len > 0 {
            f(offset, len);
        }
        Ok(())
    }
}

impl RawMap {
    pub(crate) fn flush(&self, _offset: usize, _len: usize, _wait: bool) -> io::Result<()> {
        Ok(())
    }
}

pub(crate) fn remove(name: &Name, _dir: Option<&Path>) -> Result<()> {
    unsupported(name.describe())
}

pub(crate) fn list(_dir: Option<&Path>) -> Result<Vec<ObjectInfo>> {
    unsupported("the object namespace")
}

pub(crate) fn gc(_dir: Option<&Path>) -> Result<Vec<String>> {
    unsupported("the object namespace")
}

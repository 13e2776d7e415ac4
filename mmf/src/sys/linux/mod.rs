//! The Linux backend: named objects are files in a shared-memory directory (`/dev/shm` by default,
//! where `shm_open("/NAME")` finds them), anonymous objects are memfds, file-backed objects are the
//! file's own descriptor. It runs on Linux 5.4 and later (see the README's Platforms section for
//! what needs newer kernels).
//!
//! # Lifetime without bytes in the object
//!
//! Every holder of a named object (each `Mapping` and the views made from it share one open file
//! description) holds a shared `flock` on it. The kernel drops that lock when the descriptor is
//! closed, including when the process is killed. A holder that can convert its lock to an
//! exclusive one without waiting is the last one; for [`Lifetime::Handle`] it then removes the
//! name. Any process that finds a handle-lifetime object of its own user that nobody holds (every
//! holder was killed) removes it before going on.
//!
//! ## The lifetime marker: the sticky bit
//!
//! A handle-lifetime object carries the sticky bit (`S_ISVTX`, mode `01000`, shown by `ls -l` as
//! a trailing `T`). Design note, on why this bit and not an extended attribute:
//!
//! - Linux ignores the sticky bit on regular files, so it changes nothing about the object. Every
//!   filesystem keeps it, on every kernel: tmpfs has user extended attributes only since 6.6,
//!   ramfs none at all, so an xattr marker made handle lifetime fail on Debian 12, Ubuntu 22.04
//!   and RHEL 9.
//! - Only the owner (or root) can set it (`chmod`); writing or truncating the file, which anyone
//!   with write access can do, leaves it alone (only the set-user-ID and set-group-ID bits are
//!   cleared by writes). A `user.*` attribute could be set by any process with write access, so a
//!   peer could get another user's object deleted by its owner's next `list` or `gc`.
//! - A foreign program does not produce it by accident: `shm_open` and Python's `SharedMemory`
//!   create `0600`/`0666`-style modes, and nothing creates shared memory with the sticky bit.
//! - Reaping trusts nothing a non-owner could write: an object is reaped only when it carries the
//!   bit, belongs to the reaping process's own user, and nobody holds a lock on it.
//!
//! An object that loses the bit (its owner ran `chmod`) is persistent from then on. mmf also
//! writes `user.mmf.lifetime` where the filesystem has user attributes, but only to tell objects
//! made by mmf from foreign ones in listings; it decides nothing.
//!
//! # Creation without a half-made window
//!
//! A new object is built as an unnamed file (`O_TMPFILE` in the namespace directory): sized,
//! committed with `fallocate` after checking the commit limit (so a full `/dev/shm` or a memory
//! cgroup is `OutOfSpace` now rather than `SIGBUS` or the OOM killer later), given its mode, and
//! locked; only then does it get its name, with `linkat`, which fails if the name exists. An
//! opener therefore never sees a zero-sized or half-initialised object, no reaper can see (let
//! alone remove) an object under construction, and a creator killed midway leaves nothing at all.
//!
//! Where `O_TMPFILE` is not available (a filesystem without it, or no `/proc` to link through),
//! the file is built under a hidden temporary name, `.mmf-new.TOKEN.N`, where `TOKEN` is the
//! creator's process token (pid and start time), and published with `RENAME_NOREPLACE`. `gc`
//! removes such a file only when it is its own user's, unlocked, and its creator is surely gone,
//! so a live creator is never interrupted.
//!
//! # Safety
//!
//! This module calls `mmap`, `munmap`, `msync` and `madvise`, which are unsafe because they create
//! and destroy memory the compiler does not know about. Each call states the invariant it relies on.
#![allow(unsafe_code)]

use crate::sys::{Error, Result};
use crate::types::Lifetime;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self as rfs, AtFlags, FlockOperation};
use rustix::io::Errno;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use self::space::commit;
use crate::sys::contract::ObjectOps;

mod anonymous;
mod commit_limit;
mod fault;
mod handover;
mod map;
mod named;
mod namespace;
// Blocking notification and process identity, for shared values (see `sys/mod.rs`).
mod notify;
mod proc_locks;
mod space;
// The mmap range, shared with the POSIX backend.
#[path = "../unix_map.rs"]
mod unix_map;

pub(crate) use self::handover::Inheritance;
pub(crate) use self::map::RawMap;
pub(crate) use self::namespace::{gc, list, remove};
#[allow(unused_imports)]
pub(crate) use self::notify::*;

/// Bumped whenever a page is patched anywhere in the process (see `fault.rs`); a wait that sees
/// it change gives up early so its guard can report the fault.
pub(crate) fn fault_epoch() -> u64 {
    fault::epoch()
}

/// Where named objects live unless told otherwise: the directory `shm_open` uses.
pub(crate) const DEFAULT_DIR: &str = "/dev/shm";
/// Informational only: tells objects made by mmf from foreign ones in listings (see above).
const XATTR_LIFETIME: &str = "user.mmf.lifetime";
const TMP_PREFIX: &str = ".mmf-new.";
/// The sticky bit: the handle-lifetime marker (see the module documentation).
const HANDLE_BIT: u32 = 0o1000;

pub(crate) fn page_size() -> usize {
    rustix::param::page_size()
}

pub(crate) fn allocation_granularity() -> usize {
    page_size()
}

/// The directory named objects live in (see `resolve_dir`); always one on Linux.
pub(crate) fn namespace_dir(dir: Option<&Path>) -> Option<PathBuf> {
    Some(resolve_dir(dir))
}

/// The directory for named objects: the one given, else `$MMF_DIR`, else `/dev/shm`.
pub(crate) fn resolve_dir(dir: Option<&Path>) -> PathBuf {
    match dir {
        Some(d) => d.to_path_buf(),
        None => match std::env::var_os("MMF_DIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => PathBuf::from(DEFAULT_DIR),
        },
    }
}

fn ioerr(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

#[allow(clippy::unnecessary_cast)] // the field types differ between architectures
fn ident(st: &rfs::Stat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}

#[allow(clippy::unnecessary_cast)]
fn size_of(st: &rfs::Stat) -> u64 {
    st.st_size as u64
}

fn is_regular(st: &rfs::Stat) -> bool {
    rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::RegularFile
}

/// The lifetime an object's mode says it has: the sticky bit marks handle lifetime.
fn lifetime_of(st: &rfs::Stat) -> Lifetime {
    #[allow(clippy::unnecessary_cast)]
    if (st.st_mode as u32) & HANDLE_BIT != 0 {
        Lifetime::Handle
    } else {
        Lifetime::Persistent
    }
}

/// Whether this process may remove the object once nobody holds it: a regular file with the
/// handle-lifetime marker that belongs to our own user. Nothing a non-owner can change decides it.
fn reapable(st: &rfs::Stat) -> bool {
    reapable_by(st, rustix::process::geteuid().as_raw())
}

/// [`reapable`] for a process whose effective user ID is `me`.
fn reapable_by(st: &rfs::Stat, me: u32) -> bool {
    is_regular(st) && lifetime_of(st) == Lifetime::Handle && st.st_uid == me
}

/// The identity of a named object: where it lives and which inode it was.
struct Named {
    path: PathBuf,
    lifetime: Lifetime,
    /// Removed by its last holder: handle lifetime and our own user's object.
    reap: bool,
    dev: u64,
    ino: u64,
}

/// An open mapping object. See the module documentation for how named objects are released.
pub(crate) struct Object {
    fd: OwnedFd,
    writable: bool,
    /// Grow with `fallocate` too (memory-backed objects), not only `ftruncate`.
    commit: bool,
    named: Option<Named>,
}

impl Drop for Object {
    fn drop(&mut self) {
        if let Some(n) = &self.named {
            if n.reap && last_holder(self.fd.as_fd()) {
                unlink_if_same(&n.path, n.dev, n.ino);
            }
        }
        // Closing the descriptor (OwnedFd's drop) releases our lock.
    }
}

/// Converts our shared lock to an exclusive one if nobody else holds the object.
fn last_holder(fd: BorrowedFd<'_>) -> bool {
    rfs::flock(fd, FlockOperation::NonBlockingLockExclusive).is_ok()
}

/// Removes `path` if it still names the inode `(dev, ino)`.
fn unlink_if_same(path: &Path, dev: u64, ino: u64) -> bool {
    match rfs::statat(rfs::CWD, path, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if ident(&st) == (dev, ino) => {
            rfs::unlinkat(rfs::CWD, path, AtFlags::empty()).is_ok()
        }
        _ => false,
    }
}

/// Whether mmf made the object: it has the handle marker or mmf's (informational) attribute.
fn made_by_mmf(fd: BorrowedFd<'_>, st: &rfs::Stat) -> bool {
    if lifetime_of(st) == Lifetime::Handle {
        return true;
    }
    let mut buf = [0u8; 16];
    rfs::fgetxattr(fd, XATTR_LIFETIME, &mut buf).is_ok()
}

impl ObjectOps for Object {
    fn from_file(file: File, _size: u64, writable: bool) -> Result<Object> {
        Ok(Object {
            fd: OwnedFd::from(file),
            writable,
            commit: false,
            named: None,
        })
    }

    fn len(&self) -> Result<u64> {
        rfs::fstat(&self.fd)
            .map(|st| size_of(&st))
            .map_err(Error::os)
    }

    /// Grows the object to `new_len` (never shrinks it).
    fn grow(&self, new_len: u64) -> Result<()> {
        let cur = self.len()?;
        if new_len <= cur {
            return Ok(());
        }
        if self.commit {
            // Commit first: if the space is not there, the size does not change either.
            commit(self.fd.as_fd(), cur, new_len - cur).map_err(Error::os)?;
        }
        rfs::ftruncate(&self.fd, new_len).map_err(Error::os)
    }

    /// Makes file data and metadata durable (`fsync`).
    fn sync_file(&self) -> Result<()> {
        rfs::fsync(&self.fd).map_err(Error::os)
    }

    fn lifetime(&self) -> Lifetime {
        self.named
            .as_ref()
            .map(|n| n.lifetime)
            .unwrap_or(Lifetime::Handle)
    }

    fn writable(&self) -> bool {
        self.writable
    }

    /// Linux has one namespace (the directory); `Global\` is a Windows notion.
    fn global(&self) -> bool {
        false
    }
}

/// Writers may fill new space through the descriptor (`Object::write_through`).
pub(crate) const WRITES_THROUGH: bool = true;

/// Waking a futex nobody waits on is a system call here: writers wake only when `waiters` says
/// someone waits, and read-only handles count themselves through `Object::reopen_writable`.
pub(crate) const WAKE_IS_CHEAP: bool = false;

impl Object {
    /// The object's descriptor, for `AsFd` on the public types.
    pub(crate) fn fd(&self) -> rustix::fd::BorrowedFd<'_> {
        rustix::fd::AsFd::as_fd(&self.fd)
    }

    /// Writes `data` at object offset `offset` through the descriptor (`pwrite`), for a writer
    /// filling fresh space of a large value: the kernel copies into the object's pages without
    /// mapping them into this process, so there are no page faults and no page-table entries to
    /// make and drop again, and no `SIGBUS` to guard against (a full file system or memory
    /// cgroup is `ENOSPC`/`ENOMEM`, an `OutOfSpace` error). `None` where the platform has no
    /// such write (never here). The caller keeps `offset + data.len()` within the object's
    /// size: a write past the end would grow it.
    pub(crate) fn write_through(&self, offset: u64, data: &[u8]) -> Option<Result<()>> {
        let mut done = 0;
        while done < data.len() {
            match rustix::io::pwrite(&self.fd, &data[done..], offset + done as u64) {
                Ok(0) => return Some(Err(Error::os(Errno::NOSPC))),
                Ok(n) => done += n,
                Err(e) if e == Errno::INTR => {}
                Err(e) => return Some(Err(Error::os(e))),
            }
        }
        Some(Ok(()))
    }

    /// Reads object bytes from `offset` into `buf` through the descriptor (`pread`), for a
    /// reader copying out a large value: nothing is mapped into this process, so there are no
    /// page faults. Returns how many bytes were read: fewer than asked only where the object
    /// ends sooner. `None` where the platform has no such read (never here).
    pub(crate) fn read_through(&self, offset: u64, buf: &mut [u8]) -> Option<Result<usize>> {
        let mut done = 0;
        while done < buf.len() {
            match rustix::io::pread(&self.fd, &mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e == Errno::INTR => {}
                Err(e) => return Some(Err(Error::os(e))),
            }
        }
        Some(Ok(done))
    }

    /// Grows the object to `new_len` without committing the new space (`ftruncate` only), for
    /// a writer that fills it with [`write_through`](Self::write_through). Never shrinks.
    pub(crate) fn grow_uncommitted(&self, new_len: u64) -> Result<()> {
        if new_len <= self.len()? {
            return Ok(());
        }
        rfs::ftruncate(&self.fd, new_len).map_err(Error::os)
    }

    /// A second descriptor of the same object, opened for writing through `/proc/self/fd/N`
    /// (permission-checked against the object's mode like an `open` of its name, but immune to the
    /// name being replaced meanwhile), for a read-only handle that must count itself in the
    /// object's `waiters` word. `None` where that is not allowed (the object's mode, a read-only
    /// file system, no procfs). Not a holder for handle lifetime (it takes no lock); the handle
    /// it serves is one already.
    pub(crate) fn reopen_writable(&self) -> Option<Object> {
        use rustix::fd::AsRawFd;
        let path = format!("/proc/self/fd/{}", self.fd.as_raw_fd());
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .ok()?;
        Some(Object {
            fd: OwnedFd::from(file),
            writable: true,
            commit: false,
            named: None,
        })
    }
}

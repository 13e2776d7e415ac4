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

use super::{backing_tag, parse_backing, parse_token, shortage_error, CreateSpec, Init, OpenSpec};
use crate::types::{Access, Advice, Backing, Disposition, Lifetime, ObjectInfo, UncheckedAdvice};
use crate::{Error, ErrorKind, Name, Result};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self as rfs, AtFlags, FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use rustix::mm::{self, MapFlags, MsyncFlags, ProtFlags};
use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

// Blocking notification and process identity, for shared values (see `sys/mod.rs`).
#[path = "notify_linux.rs"]
mod notify;
#[allow(unused_imports)]
pub(crate) use self::notify::*;

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
    is_regular(st)
        && lifetime_of(st) == Lifetime::Handle
        && st.st_uid == rustix::process::geteuid().as_raw()
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

/// A new object under construction: unnamed (`O_TMPFILE`), or under a temporary name that is
/// removed on drop unless the object was published.
struct Tmp {
    fd: Option<OwnedFd>,
    /// `None` for an unnamed file.
    path: Option<PathBuf>,
}

impl Drop for Tmp {
    fn drop(&mut self) {
        if let (Some(_), Some(path)) = (&self.fd, &self.path) {
            let _ = rfs::unlinkat(rfs::CWD, path, AtFlags::empty());
        }
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn dir_error(op: &'static str, what: String, dir: &Path, e: Errno) -> Error {
    if e == Errno::NOENT {
        Error::new(
            ErrorKind::NotFound,
            op,
            what,
            format!("the directory {} does not exist", dir.display()),
        )
        .with_source(ioerr(e))
    } else {
        Error::os(op, what, ioerr(e))
    }
}

fn out_of_space(op: &'static str, what: String, dir: &Path, size: u64, e: Errno) -> Error {
    let free = rfs::statvfs(dir)
        .map(|s| format!("{} bytes free", s.f_bavail.saturating_mul(s.f_frsize)))
        .unwrap_or_else(|_| "free space unknown".into());
    Error::new(
        ErrorKind::OutOfSpace,
        op,
        what,
        format!(
            "{} cannot hold {} more bytes ({}); remove unused objects (mmf gc) or enlarge it",
            dir.display(),
            size,
            free
        ),
    )
    .with_source(ioerr(e))
}

/// Runs the creator's initialiser on the temporary object (through a duplicate descriptor),
/// before anyone can open it by name.
fn run_init(tmp: &Tmp, init: &mut Init<'_>, what: &str) -> Result<()> {
    let fd = match &tmp.fd {
        Some(fd) => rustix::io::fcntl_dupfd_cloexec(fd, 0)
            .map_err(|e| Error::os("create", what.to_owned(), ioerr(e)))?,
        None => return Ok(()),
    };
    init(Object {
        fd,
        writable: true,
        commit: true,
        named: None,
    })
}

/// Whether unnamed files can be given a name here: `linkat` through `/proc/self/fd` needs
/// `/proc` (0: not looked yet, 1: yes, 2: no).
static PROC_FD: AtomicU8 = AtomicU8::new(0);

fn proc_fd_available() -> bool {
    match PROC_FD.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let yes = Path::new("/proc/self/fd").is_dir();
            PROC_FD.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
            yes
        }
    }
}

/// The temporary name of an object under construction when `O_TMPFILE` is unavailable: it
/// carries the creator's process token, so a reaper can tell a live creator from a dead one.
fn tmp_name(n: u64) -> String {
    format!("{}{:x}.{}", TMP_PREFIX, super::process_token(), n)
}

/// Whether a temporary name's creator is surely gone. Names without a token (older versions of
/// mmf wrote `.mmf-new.PID.N.NANOS`) are judged by their age instead.
fn tmp_creator_gone(name: &str, st: &rfs::Stat) -> bool {
    let rest = &name[TMP_PREFIX.len()..];
    let mut parts = rest.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(token), Some(_), None) => match u64::from_str_radix(token, 16) {
            Ok(t) => super::process_alive(t) == Some(false),
            Err(_) => false,
        },
        _ => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            #[allow(clippy::unnecessary_cast)]
            let age = now - st.st_mtime as i64;
            age > 600
        }
    }
}

/// Creates the file the new object is built in: unnamed where possible, else under a temporary
/// name (see the module documentation).
fn new_file(dir: &Path, what: &str, unnamed: bool) -> Result<Tmp> {
    if unnamed {
        match rfs::openat(
            rfs::CWD,
            dir,
            OFlags::RDWR | OFlags::TMPFILE | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => {
                return Ok(Tmp {
                    fd: Some(fd),
                    path: None,
                })
            }
            // No O_TMPFILE on this filesystem (or kernel): fall back to a temporary name.
            Err(e) if e == Errno::OPNOTSUPP || e == Errno::ISDIR || e == Errno::INVAL => {}
            Err(e) => return Err(dir_error("create", what.to_owned(), dir, e)),
        }
    }
    let path = dir.join(tmp_name(TMP_COUNTER.fetch_add(1, Ordering::Relaxed)));
    let fd = rfs::openat(
        rfs::CWD,
        &path,
        OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| dir_error("create", what.to_owned(), dir, e))?;
    // From here on, dropping the Tmp removes the file again: every error leaves nothing.
    Ok(Tmp {
        fd: Some(fd),
        path: Some(path),
    })
}

fn build_tmp(spec: &CreateSpec<'_>, dir: &Path) -> Result<Tmp> {
    let what = spec.name.describe();
    let tmp = new_file(dir, &what, proc_fd_available())?;
    let fd = match &tmp.fd {
        Some(fd) => fd.as_fd(),
        None => unreachable!("set by new_file"),
    };
    // Held from before the object has its name, so it is never seen unheld.
    rfs::flock(fd, FlockOperation::LockShared)
        .map_err(|e| Error::os("create", what.clone(), ioerr(e)))?;
    let marker = match spec.lifetime {
        Lifetime::Handle => HANDLE_BIT,
        Lifetime::Persistent => 0,
    };
    rfs::fchmod(fd, Mode::from_raw_mode(spec.permissions.mode() | marker))
        .map_err(|e| Error::os("create", what.clone(), ioerr(e)))?;
    if rfs::fstat(fd).map(|st| lifetime_of(&st)).ok() != Some(spec.lifetime) {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "create",
            what,
            format!(
                "the filesystem of {} does not keep the sticky bit, which marks handle lifetime; \
                 use a tmpfs or ramfs directory, or Lifetime::Persistent",
                dir.display()
            ),
        ));
    }
    // Informational, where the filesystem has user attributes (see the module documentation).
    let tag: &[u8] = match spec.lifetime {
        Lifetime::Handle => b"handle",
        Lifetime::Persistent => b"persistent",
    };
    let _ = rfs::fsetxattr(fd, XATTR_LIFETIME, tag, rfs::XattrFlags::empty());
    if spec.commit {
        if let Some(short) = super::commit_limit::shortage(fd, 0, spec.size) {
            return Err(shortage_error("create", what, &short));
        }
    }
    rfs::ftruncate(fd, spec.size).map_err(|e| {
        if e == Errno::FBIG || e == Errno::NOSPC {
            out_of_space("create", what.clone(), dir, spec.size, e)
        } else {
            Error::os("create", what.clone(), ioerr(e))
        }
    })?;
    if spec.commit {
        commit(fd, 0, spec.size)
            .map_err(|e| out_of_space("create", what.clone(), dir, spec.size, e))?;
    }
    Ok(tmp)
}

/// Reserves backing store for `[offset, offset + len)`, so later writes cannot fault for lack of
/// space. Filesystems that cannot preallocate are left as they are.
fn commit(fd: BorrowedFd<'_>, offset: u64, len: u64) -> std::result::Result<(), Errno> {
    match rfs::fallocate(fd, rfs::FallocateFlags::empty(), offset, len) {
        Ok(()) => Ok(()),
        Err(e) if e == Errno::OPNOTSUPP || e == Errno::NOSYS => Ok(()),
        Err(e) => Err(e),
    }
}

/// Gives the new object its name. `Ok(None)` if the name is taken.
fn publish(tmp: &mut Tmp, path: &Path, what: &str) -> Result<Option<OwnedFd>> {
    let r = match (&tmp.fd, &tmp.path) {
        (None, _) => return Ok(None),
        // An unnamed file: link(2) never replaces an existing name.
        (Some(fd), None) => rfs::linkat(
            rfs::CWD,
            format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(fd)).as_str(),
            rfs::CWD,
            path,
            AtFlags::SYMLINK_FOLLOW,
        ),
        (Some(_), Some(tmp_path)) => {
            match rfs::renameat_with(
                rfs::CWD,
                tmp_path,
                rfs::CWD,
                path,
                rfs::RenameFlags::NOREPLACE,
            ) {
                Err(e) if e == Errno::INVAL || e == Errno::NOSYS => {
                    // The filesystem has no RENAME_NOREPLACE: link(2) is just as exclusive.
                    rfs::linkat(rfs::CWD, tmp_path, rfs::CWD, path, AtFlags::empty()).map(|()| {
                        let _ = rfs::unlinkat(rfs::CWD, tmp_path, AtFlags::empty());
                    })
                }
                r => r,
            }
        }
    };
    match r {
        Ok(()) => Ok(tmp.fd.take()),
        Err(e) if e == Errno::EXIST => Ok(None),
        Err(e) => Err(Error::os("create", what.to_owned(), ioerr(e))),
    }
}

/// If `path` is a handle-lifetime object of ours that nobody holds, removes it and says so.
fn reap_if_stale(path: &Path) -> bool {
    let fd = match rfs::openat(
        rfs::CWD,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => return e == Errno::NOENT,
    };
    let st = match rfs::fstat(&fd) {
        Ok(st) => st,
        Err(_) => return false,
    };
    if !reapable(&st) || !last_holder(fd.as_fd()) {
        return false;
    }
    let (dev, ino) = ident(&st);
    unlink_if_same(path, dev, ino)
}

fn finish(fd: OwnedFd, path: PathBuf, writable: bool, what: &str) -> Result<Object> {
    let st = rfs::fstat(&fd).map_err(|e| Error::os("create", what.to_owned(), ioerr(e)))?;
    Ok(named_object(fd, &st, path, writable))
}

/// A named object around an open descriptor `fd` whose status is `st`.
fn named_object(fd: OwnedFd, st: &rfs::Stat, path: PathBuf, writable: bool) -> Object {
    let (dev, ino) = ident(st);
    Object {
        fd,
        writable,
        commit: true,
        named: Some(Named {
            path,
            lifetime: lifetime_of(st),
            reap: reapable(st),
            dev,
            ino,
        }),
    }
}

/// Opens `spec.name` if it exists; `Ok(None)` if it does not (or was a stale handle-lifetime
/// object of ours, which is removed on the way).
fn try_open(spec: &OpenSpec<'_>, dir: &Path) -> Result<Option<Object>> {
    let what = spec.name.describe();
    let path = dir.join(spec.name.as_str());
    let deadline = Instant::now() + spec.lock_timeout;
    let access = if spec.writable {
        OFlags::RDWR
    } else {
        OFlags::RDONLY
    };
    loop {
        let fd = match rfs::openat(
            rfs::CWD,
            &path,
            access | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) if e == Errno::NOENT => {
                if !dir.is_dir() {
                    return Err(dir_error("open", what, dir, e));
                }
                return Ok(None);
            }
            Err(e) if e == Errno::LOOP => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "open",
                    what,
                    "it is a symbolic link, which mmf does not follow",
                ))
            }
            Err(e) if e == Errno::ISDIR => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "open",
                    what,
                    "it is a directory, not a shared memory object",
                ))
            }
            Err(e) if e == Errno::ACCESS && spec.writable => {
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    "open",
                    what,
                    "no write permission; open it read-only or ask its owner to grant access",
                )
                .with_source(ioerr(e)))
            }
            Err(e) => return Err(Error::os("open", what, ioerr(e))),
        };
        let st = rfs::fstat(&fd).map_err(|e| Error::os("open", what.clone(), ioerr(e)))?;
        if reapable(&st) && last_holder(fd.as_fd()) {
            // Every holder is gone (killed, most likely): the object should not exist any more.
            let (dev, ino) = ident(&st);
            unlink_if_same(&path, dev, ino);
            return Ok(None);
        }
        // Wait out an exclusive holder: a last closer or a reaper about to remove the name.
        loop {
            match rfs::flock(&fd, FlockOperation::NonBlockingLockShared) {
                Ok(()) => break,
                Err(e) if e == Errno::WOULDBLOCK => {
                    if Instant::now() >= deadline {
                        return Err(Error::new(
                            ErrorKind::Busy,
                            "open",
                            what,
                            "another process holds an exclusive lock on it; try again",
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => return Err(Error::os("open", what, ioerr(e))),
            }
        }
        let st = rfs::fstat(&fd).map_err(|e| Error::os("open", what.clone(), ioerr(e)))?;
        if !is_regular(&st) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "open",
                what,
                "it is not a regular file, so not a shared memory object",
            ));
        }
        if st.st_nlink == 0 {
            // Removed while we were opening it: look again.
            continue;
        }
        let me = rustix::process::geteuid().as_raw();
        if st.st_uid != me && !spec.allow_other_owner {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "open",
                what,
                format!(
                    "it belongs to uid {} and you are uid {}; opening another user's object must be \
                     asked for explicitly (OpenOptions::allow_other_owner)",
                    st.st_uid, me
                ),
            ));
        }
        return Ok(Some(named_object(fd, &st, path, spec.writable)));
    }
}

fn not_found(name: &Name, dir: &Path) -> Error {
    Error::new(
        ErrorKind::NotFound,
        "open",
        name.describe(),
        format!("no object of that name in {}", dir.display()),
    )
}

impl Object {
    pub(crate) fn create(spec: &CreateSpec<'_>, init: &mut Init<'_>) -> Result<Object> {
        let dir = resolve_dir(spec.dir);
        let what = spec.name.describe();
        let path = dir.join(spec.name.as_str());
        let mut tmp = build_tmp(spec, &dir)?;
        run_init(&tmp, init, &what)?;
        // A stale handle-lifetime object (all its holders killed) does not block a new creator.
        for _ in 0..3 {
            if let Some(fd) = publish(&mut tmp, &path, &what)? {
                return finish(fd, path, true, &what);
            }
            if !reap_if_stale(&path) {
                break;
            }
        }
        Err(Error::new(
            ErrorKind::AlreadyExists,
            "create",
            what,
            format!(
                "an object of that name already exists in {}; open it, or remove it first",
                dir.display()
            ),
        ))
    }

    pub(crate) fn open(spec: &OpenSpec<'_>) -> Result<Object> {
        let dir = resolve_dir(spec.dir);
        match try_open(spec, &dir)? {
            Some(o) => Ok(o),
            None => Err(not_found(spec.name, &dir)),
        }
    }

    pub(crate) fn open_or_create(
        c: &CreateSpec<'_>,
        o: &OpenSpec<'_>,
        init: &mut Init<'_>,
    ) -> Result<(Object, Disposition)> {
        let dir = resolve_dir(c.dir);
        let what = c.name.describe();
        let path = dir.join(c.name.as_str());
        let mut tmp: Option<Tmp> = None;
        for _ in 0..1000 {
            if let Some(obj) = try_open(o, &dir)? {
                return Ok((obj, Disposition::Opened));
            }
            if tmp.is_none() {
                let t = build_tmp(c, &dir)?;
                run_init(&t, init, &what)?;
                tmp = Some(t);
            }
            if let Some(t) = tmp.as_mut() {
                if let Some(fd) = publish(t, &path, &what)? {
                    return Ok((finish(fd, path, true, &what)?, Disposition::Created));
                }
            }
        }
        Err(Error::new(
            ErrorKind::Busy,
            "open or create",
            what,
            "the name kept appearing and disappearing (1000 attempts); another process is \
             creating and removing it in a loop",
        ))
    }

    pub(crate) fn anonymous(size: u64, commit_now: bool) -> Result<Object> {
        let what = "anonymous object";
        let fd = rfs::memfd_create(
            "mmf-anonymous",
            rfs::MemfdFlags::CLOEXEC | rfs::MemfdFlags::ALLOW_SEALING,
        )
        .map_err(|e| Error::os("create", what, ioerr(e)))?;
        if commit_now {
            if let Some(short) = super::commit_limit::shortage(fd.as_fd(), 0, size) {
                return Err(shortage_error("create", what, &short));
            }
        }
        rfs::ftruncate(&fd, size).map_err(|e| Error::os("create", what, ioerr(e)))?;
        if commit_now {
            commit(fd.as_fd(), 0, size).map_err(|e| Error::os("create", what, ioerr(e)))?;
        }
        // mmf never shrinks an object; sealing makes sure nobody it is handed to can either, so a
        // truncation can never turn our views into SIGBUS traps.
        rfs::fcntl_add_seals(&fd, rfs::SealFlags::SHRINK)
            .map_err(|e| Error::os("create", what, ioerr(e)))?;
        Ok(Object {
            fd,
            writable: true,
            commit: true,
            named: None,
        })
    }

    /// An anonymous object on explicit huge pages (`MFD_HUGETLB`): `size` must be a multiple of the
    /// huge page size, and the pages must have been reserved (`vm.nr_hugepages`).
    pub(crate) fn anonymous_huge(size: u64) -> Result<Object> {
        let what = "anonymous huge-page object";
        let fd = rfs::memfd_create(
            "mmf-anonymous-huge",
            rfs::MemfdFlags::CLOEXEC | rfs::MemfdFlags::HUGETLB,
        )
        .map_err(|e| {
            Error::new(
                ErrorKind::Unsupported,
                "create",
                what,
                "this kernel cannot make huge-page memory objects (MFD_HUGETLB)",
            )
            .with_source(ioerr(e))
        })?;
        rfs::ftruncate(&fd, size).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                "create",
                what,
                "the size must be a multiple of the huge page size (2 MiB on x86-64)",
            )
            .with_source(ioerr(e))
        })?;
        let reserved = std::fs::read_to_string("/proc/sys/vm/nr_hugepages")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown".into());
        commit(fd.as_fd(), 0, size).map_err(|e| {
            Error::new(
                ErrorKind::OutOfSpace,
                "create",
                what,
                format!(
                    "not enough free huge pages (vm.nr_hugepages = {}); reserve more with \
                     `sysctl vm.nr_hugepages=N`, or use normal pages",
                    reserved
                ),
            )
            .with_source(ioerr(e))
        })?;
        Ok(Object {
            fd,
            writable: true,
            commit: true,
            named: None,
        })
    }

    /// What stops `len` more bytes at `offset` from being backed (the commit limit, see
    /// `commit_limit.rs`); `None` if they fit or nothing can be measured. Only holes count.
    pub(crate) fn shortage(&self, offset: u64, len: u64) -> Option<super::Shortage> {
        super::commit_limit::shortage(self.fd.as_fd(), offset, len)
    }

    /// Whether growing commits memory or disk blocks (`fallocate`), so the commit limit applies.
    pub(crate) fn commits_on_grow(&self) -> bool {
        self.commit
    }

    /// Backs `[offset, offset + len)` with memory or disk blocks now (`fallocate`).
    pub(crate) fn commit_range(&self, offset: u64, len: u64) -> io::Result<()> {
        match rfs::fallocate(&self.fd, rfs::FallocateFlags::KEEP_SIZE, offset, len) {
            Ok(()) => Ok(()),
            Err(e) if e == Errno::OPNOTSUPP => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this filesystem cannot reserve space in advance (no fallocate)",
            )),
            Err(e) => Err(ioerr(e)),
        }
    }

    /// Releases the backing of `[offset, offset + len)`; the range reads as zeros afterwards
    /// (`fallocate(PUNCH_HOLE)`).
    pub(crate) fn decommit_range(&self, offset: u64, len: u64) -> io::Result<()> {
        let flags = rfs::FallocateFlags::PUNCH_HOLE | rfs::FallocateFlags::KEEP_SIZE;
        match rfs::fallocate(&self.fd, flags, offset, len) {
            Ok(()) => Ok(()),
            Err(e) if e == Errno::OPNOTSUPP => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this filesystem cannot release space (no hole punching)",
            )),
            Err(e) => Err(ioerr(e)),
        }
    }

    pub(crate) fn from_file(file: File, _size: u64, writable: bool, _what: &str) -> Result<Object> {
        Ok(Object {
            fd: OwnedFd::from(file),
            writable,
            commit: false,
            named: None,
        })
    }

    /// The object's descriptor, for `AsFd` on the public types.
    pub(crate) fn fd(&self) -> rustix::fd::BorrowedFd<'_> {
        rustix::fd::AsFd::as_fd(&self.fd)
    }

    pub(crate) fn len(&self) -> io::Result<u64> {
        rfs::fstat(&self.fd).map(|st| size_of(&st)).map_err(ioerr)
    }

    /// Grows the object to `new_len` (never shrinks it).
    pub(crate) fn grow(&self, new_len: u64) -> io::Result<()> {
        let cur = self.len()?;
        if new_len <= cur {
            return Ok(());
        }
        if self.commit {
            // Commit first: if the space is not there, the size does not change either.
            commit(self.fd.as_fd(), cur, new_len - cur).map_err(ioerr)?;
        }
        rfs::ftruncate(&self.fd, new_len).map_err(ioerr)
    }

    /// Makes file data and metadata durable (`fsync`).
    pub(crate) fn sync_file(&self) -> io::Result<()> {
        rfs::fsync(&self.fd).map_err(ioerr)
    }

    pub(crate) fn lifetime(&self) -> Lifetime {
        self.named
            .as_ref()
            .map(|n| n.lifetime)
            .unwrap_or(Lifetime::Handle)
    }

    pub(crate) fn writable(&self) -> bool {
        self.writable
    }

    /// Linux has one namespace (the directory); `Global\` is a Windows notion.
    pub(crate) fn global(&self) -> bool {
        false
    }

    /// A new descriptor for this object that another process can hold on its own: for a named
    /// object a fresh open file description with its own shared lock (so the receiver is a holder
    /// independent of us), otherwise a duplicate. Close-on-exec is set.
    ///
    /// Our copy is only ever *closed*, never run through the last-holder check: the receiver
    /// shares its open file description, and `flock` conversion is not atomic (a failed attempt
    /// to take the lock exclusively can drop the shared lock, which would be the receiver's).
    fn transferable(&self, what: &str) -> Result<OwnedFd> {
        let fail = |e: Errno| Error::os("hand over", what.to_owned(), ioerr(e));
        if self.named.is_none() {
            return rustix::io::fcntl_dupfd_cloexec(&self.fd, 0).map_err(fail);
        }
        let access = if self.writable {
            OFlags::RDWR
        } else {
            OFlags::RDONLY
        };
        let proc_path = format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(&self.fd));
        let fd = rfs::openat(
            rfs::CWD,
            proc_path.as_str(),
            access | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(fail)?;
        rfs::flock(&fd, FlockOperation::LockShared).map_err(fail)?;
        Ok(fd)
    }

    /// Prepares a descriptor that the child spawned from `cmd` inherits. It stays close-on-exec
    /// in this process, so children spawned by other threads do not get it; only `cmd`'s child
    /// clears the flag, between fork and exec.
    pub(crate) fn inherit(
        &self,
        backing: Backing,
        cmd: &mut Command,
        what: &str,
    ) -> Result<Inheritance> {
        use std::os::unix::process::CommandExt;
        let keep = self.transferable(what)?;
        let raw = rustix::fd::AsRawFd::as_raw_fd(&keep);
        let st =
            rfs::fstat(&keep).map_err(|e| Error::os("hand over", what.to_owned(), ioerr(e)))?;
        let (dev, ino) = ident(&st);
        // The identity lets the child check that the number still names this object.
        let token = format!(
            "mmf:{}:{}:{}:{}:{}",
            backing_tag(backing),
            if self.writable { "rw" } else { "ro" },
            raw,
            dev,
            ino
        );
        // SAFETY: the closure runs in the child between fork and exec and only makes one
        // async-signal-safe system call (fcntl) on a descriptor that is open there: `fd` lives in
        // the returned Inheritance, which the caller keeps until after spawning.
        unsafe {
            cmd.pre_exec(move || {
                let fd = BorrowedFd::borrow_raw(raw);
                rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty()).map_err(ioerr)
            });
        }
        Ok(Inheritance { token, _keep: keep })
    }

    /// Takes over a descriptor inherited from the parent, described by `token`.
    ///
    /// Everything is checked on a borrowed descriptor first: the number is not a standard stream
    /// (0-2), it is open, it is the very object the token names (device and inode), it is the kind
    /// of object the token says, it allows the access the token claims, and it was inherited
    /// (close-on-exec clear). Only then is it taken: duplicated with close-on-exec and the
    /// inherited number closed. On every error the descriptor is left open and unchanged.
    pub(crate) fn from_inherited(token: &str) -> Result<(Object, Backing, Option<Name>)> {
        let what = || format!("inherited handle {:?}", token);
        let bad = || {
            Error::new(
                ErrorKind::InvalidInput,
                "take over",
                what(),
                "not a token made by Mapping::inherit (expected mmf:KIND:ACCESS:FD:DEV:INO)",
            )
        };
        let (backing, writable, rest) = parse_token(token).ok_or_else(bad)?;
        let mut nums = rest.split(':');
        let (raw, dev, ino) = match (nums.next(), nums.next(), nums.next(), nums.next()) {
            (Some(fd), Some(dev), Some(ino), None) => (
                fd.parse::<i32>().map_err(|_| bad())?,
                dev.parse::<u64>().map_err(|_| bad())?,
                ino.parse::<u64>().map_err(|_| bad())?,
            ),
            _ => return Err(bad()),
        };
        if raw < 0 {
            return Err(bad());
        }
        let refuse =
            |kind: ErrorKind, detail: &'static str| Error::new(kind, "take over", what(), detail);
        if raw <= 2 {
            return Err(refuse(
                ErrorKind::InvalidInput,
                "descriptors 0, 1 and 2 are standard input, output and error, never an inherited \
                 object",
            ));
        }
        // SAFETY: the borrow is only used for checks (fcntl, fstat, readlink) that do not change
        // the descriptor, whatever it is; ownership is taken only once every check has passed.
        let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
        let flags = rustix::io::fcntl_getfd(borrowed).map_err(|e| {
            refuse(
                ErrorKind::NotFound,
                "descriptor is not open in this process; was the child spawned with \
                 Mapping::inherit?",
            )
            .with_source(ioerr(e))
        })?;
        let st = rfs::fstat(borrowed).map_err(|e| Error::os("take over", what(), ioerr(e)))?;
        if ident(&st) != (dev, ino) {
            return Err(refuse(
                ErrorKind::NotFound,
                "that descriptor number now names another file, not the inherited object (was it \
                 closed and reused?)",
            ));
        }
        // An inherited descriptor arrives with close-on-exec cleared (`inherit` clears it in the
        // child only); every descriptor this process opened itself, std's and mmf's, has it set.
        // This refuses the parent's own token, a second takeover of the same token, and taking
        // over a descriptor something else in this process owns, any of which would close it
        // twice.
        if flags.contains(rustix::io::FdFlags::CLOEXEC) {
            return Err(refuse(
                ErrorKind::NotFound,
                "that descriptor belongs to this process, not to an inherited handle (taken over \
                 already, or the token is the parent's)",
            ));
        }
        let checked = inspect(borrowed, &st, backing, writable, "take over", &what())?;
        let fd = rustix::io::fcntl_dupfd_cloexec(borrowed, 0)
            .map_err(|e| Error::os("take over", what(), ioerr(e)))?;
        // Close the inherited number: our duplicate (close-on-exec) replaces it.
        // SAFETY: the descriptor is open, not close-on-exec and the object the token names, so it
        // came from the parent for this takeover (checked above) and nothing else here owns it.
        drop(unsafe { <OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(raw) });
        Ok(checked.into_object(fd))
    }

    /// Sends this object over a Unix socket (`SCM_RIGHTS`).
    pub(crate) fn send(&self, backing: Backing, sock: &UnixStream, what: &str) -> Result<()> {
        use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
        let keep = self.transferable(what)?;
        let header = [
            b'm',
            b'm',
            b'f',
            b'1',
            backing_tag(backing) as u8,
            self.writable as u8,
        ];
        let fds = [keep.as_fd()];
        let mut space = [0u8; rustix::cmsg_space!(ScmRights(1))];
        let mut anc = SendAncillaryBuffer::new(&mut space);
        anc.push(SendAncillaryMessage::ScmRights(&fds));
        let iov = [io::IoSlice::new(&header)];
        sendmsg(sock, &iov, &mut anc, SendFlags::NOSIGNAL)
            .map_err(|e| Error::os("send", what.to_owned(), ioerr(e)))?;
        Ok(())
    }

    /// Receives an object sent with `send`.
    pub(crate) fn receive(sock: &UnixStream) -> Result<(Object, Backing, Option<Name>)> {
        use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
        let what = "object received over a socket";
        let mut header = [0u8; 6];
        let mut space = [0u8; rustix::cmsg_space!(ScmRights(4))];
        let mut anc = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [io::IoSliceMut::new(&mut header)];
        let got = recvmsg(sock, &mut iov, &mut anc, RecvFlags::CMSG_CLOEXEC)
            .map_err(|e| Error::os("receive", what, ioerr(e)))?;
        let mut fds: Vec<OwnedFd> = Vec::new();
        for msg in anc.drain() {
            if let RecvAncillaryMessage::ScmRights(r) = msg {
                fds.extend(r);
            }
        }
        let bad = |detail: &'static str| {
            Err(Error::new(ErrorKind::InvalidInput, "receive", what, detail))
        };
        if got.bytes == 0 {
            return bad("the peer closed the connection without sending an object");
        }
        if got.bytes != header.len() || &header[..4] != b"mmf1" {
            return bad("the message is not an mmf object (expected what Mapping::send sends)");
        }
        let backing = match parse_backing(&(header[4] as char).to_string()) {
            Some(b) => b,
            None => return bad("unknown object kind in the message"),
        };
        if fds.len() != 1 {
            return bad("the message carried no descriptor, or more than one");
        }
        let fd = fds
            .pop()
            .ok_or_else(|| Error::new(ErrorKind::InvalidInput, "receive", what, "no descriptor"))?;
        let st = rfs::fstat(&fd).map_err(|e| Error::os("receive", what, ioerr(e)))?;
        let checked = inspect(fd.as_fd(), &st, backing, header[5] != 0, "receive", what)?;
        Ok(checked.into_object(fd))
    }

    /// Maps `len` bytes at `offset`.
    ///
    /// # Safety
    /// `offset` is a multiple of the allocation granularity, `len > 0`, and `offset + len` lies
    /// within the object. With `at`, the range is mapped only if nothing is mapped there already.
    pub(crate) unsafe fn map(
        &self,
        offset: u64,
        len: usize,
        access: Access,
        at: Option<usize>,
    ) -> io::Result<RawMap> {
        let (prot, mut flags) = match access {
            Access::ReadOnly => (ProtFlags::READ, MapFlags::SHARED),
            Access::ReadWrite => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED),
            Access::CopyOnWrite => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE),
        };
        let hint = match at {
            Some(a) => {
                flags |= MapFlags::FIXED_NOREPLACE;
                a as *mut c_void
            }
            None => std::ptr::null_mut(),
        };
        // SAFETY: a fresh mapping; with FIXED_NOREPLACE the kernel refuses to replace anything
        // already mapped, so no existing memory is affected. Range validity is forwarded from the
        // caller.
        let p = unsafe { mm::mmap(hint, len, prot, flags, &self.fd, offset) }.map_err(ioerr)?;
        if at.is_some() && p != hint {
            // A kernel older than 4.17 ignores FIXED_NOREPLACE and treats the address as a hint.
            // SAFETY: `p` is the mapping we just made, of `len` bytes, referenced nowhere else.
            let _ = unsafe { mm::munmap(p, len) };
            return Err(io::Error::from_raw_os_error(Errno::EXIST.raw_os_error()));
        }
        Ok(RawMap {
            ptr: p.cast(),
            len,
            offset,
            access,
        })
    }
}

/// A descriptor kept open for a child to inherit; see `Object::inherit`.
pub(crate) struct Inheritance {
    token: String,
    _keep: OwnedFd,
}

impl Inheritance {
    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

/// A handed-over descriptor that passed every check, waiting to be owned.
struct Checked {
    st: rfs::Stat,
    backing: Backing,
    writable: bool,
    path: Option<PathBuf>,
    name: Option<Name>,
}

impl Checked {
    /// The object around `fd`, the descriptor that was checked (or a duplicate of it). For a
    /// named object the descriptor already holds its own shared lock (see `transferable`).
    fn into_object(self, fd: OwnedFd) -> (Object, Backing, Option<Name>) {
        let object = match self.path {
            Some(path) => named_object(fd, &self.st, path, self.writable),
            None => Object {
                fd,
                writable: self.writable,
                commit: self.backing == Backing::Anonymous,
                named: None,
            },
        };
        (object, self.backing, self.name)
    }
}

/// Checks that `fd` (whose status is `st`) is the kind of object `backing` says and allows the
/// access claimed, without taking or changing it.
fn inspect(
    fd: BorrowedFd<'_>,
    st: &rfs::Stat,
    backing: Backing,
    writable: bool,
    op: &'static str,
    what: &str,
) -> Result<Checked> {
    let wrong = |detail: String| Error::new(ErrorKind::InvalidInput, op, what.to_owned(), detail);
    if !is_regular(st) {
        return Err(wrong(
            "the descriptor is not a regular file, so not a mapping object".to_owned(),
        ));
    }
    let link = rfs::readlinkat(
        rfs::CWD,
        format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(&fd)),
        Vec::new(),
    )
    .map_err(|e| Error::os(op, what.to_owned(), ioerr(e)))?;
    let link = link.to_string_lossy().into_owned();
    let memfd = link.starts_with("/memfd:");
    let kind = match backing {
        Backing::Anonymous => "an anonymous object",
        Backing::Named => "a named object",
        Backing::File => "a file",
    };
    // A file-backed object may be any regular file, a memfd included.
    if backing != Backing::File && memfd != (backing == Backing::Anonymous) {
        return Err(wrong(format!(
            "the token says {} but the descriptor is {}",
            kind,
            if memfd {
                "an anonymous memory object"
            } else {
                "a file with a name"
            }
        )));
    }
    let mode = rustix::fs::fcntl_getfl(fd).map_err(|e| Error::os(op, what.to_owned(), ioerr(e)))?;
    if writable && (mode & OFlags::RWMODE) != OFlags::RDWR {
        return Err(wrong(
            "the token says read-write but the descriptor is open read-only".to_owned(),
        ));
    }
    let (path, name) = if backing == Backing::Named {
        let path = PathBuf::from(link.trim_end_matches(" (deleted)"));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| Name::new(n).ok());
        (Some(path), name)
    } else {
        (None, None)
    };
    Ok(Checked {
        st: *st,
        backing,
        writable,
        path,
        name,
    })
}

/// A mapped range, unmapped on drop.
pub(crate) struct RawMap {
    ptr: *mut u8,
    len: usize,
    /// The object offset it maps and how (to map a page back after a fault; see `fault.rs`).
    offset: u64,
    access: Access,
}

impl RawMap {
    /// The first byte of the mapping.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Runs `f`, which accesses `len` bytes at `offset` of this mapping of `object`, catching
    /// `SIGBUS` there (see `fault.rs`). At most `MAX_GUARD_PAGES` pages, inside the mapping.
    pub(crate) fn guard<R>(
        &self,
        object: &Object,
        offset: usize,
        len: usize,
        f: impl FnOnce() -> R,
    ) -> std::result::Result<R, super::Fault> {
        super::fault::guarded(&self.target(object), offset, len, f)
    }

    #[inline]
    fn target<'a>(&self, object: &'a Object) -> super::fault::Target<'a> {
        super::fault::Target {
            fd: object.fd.as_fd(),
            base: self.ptr,
            len: self.len,
            file_offset: self.offset,
            writable: self.access != Access::ReadOnly,
            private: self.access == Access::CopyOnWrite,
        }
    }

    /// Calls `f(position, length)` for pieces of `len` bytes at `offset` of this mapping, each
    /// under its own guard (see `fault.rs`); stops at the first piece that faulted.
    pub(crate) fn guard_each(
        &self,
        object: &Object,
        offset: usize,
        len: usize,
        f: impl FnMut(usize, usize),
    ) -> std::result::Result<(), super::Fault> {
        super::fault::guarded_each(&self.target(object), offset, len, f)
    }
}

impl RawMap {
    /// Writes back `[offset, offset + len)` of this mapping; `wait` for `MS_SYNC`.
    /// `offset` must be page-aligned and the range within the mapping (checked by the caller).
    pub(crate) fn flush(&self, offset: usize, len: usize, wait: bool) -> io::Result<()> {
        super::span(self.len, offset, len)?;
        if len == 0 {
            return Ok(());
        }
        let flags = if wait {
            MsyncFlags::SYNC
        } else {
            MsyncFlags::ASYNC
        };
        // SAFETY: the range lies within this live mapping (caller-checked); msync does not change
        // memory contents.
        unsafe { mm::msync(self.ptr.add(offset).cast(), len, flags) }.map_err(ioerr)
    }
}

impl RawMap {
    /// The address `offset` bytes into the mapping (no dereference; callers check bounds).
    fn range(&self, offset: usize) -> *mut c_void {
        self.ptr.wrapping_add(offset).cast()
    }

    /// `madvise` with advice that does not change memory contents.
    pub(crate) fn advise(&self, offset: usize, len: usize, advice: Advice) -> io::Result<()> {
        super::span(self.len, offset, len)?;
        use rustix::mm::Advice as M;
        let advice = match advice {
            Advice::Normal => M::Normal,
            Advice::Sequential => M::Sequential,
            Advice::Random => M::Random,
            Advice::WillNeed => M::WillNeed,
            Advice::HugePage => M::LinuxHugepage,
            Advice::NoHugePage => M::LinuxNoHugepage,
        };
        // SAFETY: the range lies within this live mapping (caller-checked) and this advice does
        // not change what the memory holds.
        unsafe { mm::madvise(self.range(offset), len, advice) }.map_err(ioerr)
    }

    /// `madvise` with advice that may discard contents.
    ///
    /// # Safety
    /// Nobody may hold a reference into the range that assumes its contents do not change.
    pub(crate) unsafe fn advise_unchecked(
        &self,
        offset: usize,
        len: usize,
        advice: UncheckedAdvice,
    ) -> io::Result<()> {
        super::span(self.len, offset, len)?;
        use rustix::mm::Advice as M;
        let advice = match advice {
            UncheckedAdvice::DontNeed => M::LinuxDontNeed,
            UncheckedAdvice::Remove => M::LinuxRemove,
        };
        // SAFETY: in range (caller-checked); the content change is the caller's responsibility.
        unsafe { mm::madvise(self.range(offset), len, advice) }.map_err(ioerr)
    }

    /// Prefaults the range (`MADV_POPULATE_READ`/`_WRITE`, Linux 5.14): an error, not a signal,
    /// if memory cannot be provided.
    pub(crate) fn populate(&self, offset: usize, len: usize, write: bool) -> io::Result<()> {
        super::span(self.len, offset, len)?;
        use rustix::mm::Advice;
        let advice = if write {
            Advice::LinuxPopulateWrite
        } else {
            Advice::LinuxPopulateRead
        };
        // SAFETY: in range (caller-checked); populating does not change contents (write-populate
        // only makes pages writable-present, as a write of the same bytes would).
        match unsafe { mm::madvise(self.range(offset), len, advice) } {
            Ok(()) => Ok(()),
            // EFAULT: the backing store could not provide a page (a full tmpfs, say).
            Err(e) if e == Errno::FAULT => {
                Err(io::Error::from_raw_os_error(Errno::NOSPC.raw_os_error()))
            }
            Err(e) if e == Errno::INVAL => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "prefaulting needs Linux 5.14 (MADV_POPULATE_READ/WRITE)",
            )),
            Err(e) => Err(ioerr(e)),
        }
    }

    /// Locks the range in memory (`mlock`).
    pub(crate) fn lock(&self, offset: usize, len: usize) -> io::Result<()> {
        super::span(self.len, offset, len)?;
        // SAFETY: in range (caller-checked); locking does not change contents.
        unsafe { mm::mlock(self.range(offset), len) }.map_err(ioerr)
    }

    /// Unlocks the range (`munlock`).
    pub(crate) fn unlock(&self, offset: usize, len: usize) -> io::Result<()> {
        super::span(self.len, offset, len)?;
        // SAFETY: as for `lock`.
        unsafe { mm::munlock(self.range(offset), len) }.map_err(ioerr)
    }
}

impl Drop for RawMap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe a mapping this RawMap made and owns; every reference into it
        // borrows the View that owns this RawMap, so none outlives it.
        let _ = unsafe { mm::munmap(self.ptr.cast(), self.len) };
    }
}

pub(crate) fn remove(name: &Name, dir: Option<&Path>) -> Result<()> {
    let dir = resolve_dir(dir);
    let path = dir.join(name.as_str());
    let what = name.describe();
    let st = match rfs::statat(rfs::CWD, &path, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(e) if e == Errno::NOENT => {
            let mut err = not_found(name, &dir);
            err.set_op("remove");
            return Err(err);
        }
        Err(e) => return Err(Error::os("remove", what, ioerr(e))),
    };
    if !is_regular(&st) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "remove",
            what,
            "it is not a regular file, so not a shared memory object",
        ));
    }
    rfs::unlinkat(rfs::CWD, &path, AtFlags::empty())
        .map_err(|e| Error::os("remove", what, ioerr(e)))
}

/// The flocks in `/proc/locks`: (pid, device major, device minor, inode), one entry per lock (per
/// open file description).
///
/// The kernel produces `/proc/locks` under its lock-table lock, but one `read` may stop early
/// (at a page, or when the reader should yield), and the next `read` walks the table again from
/// the position where the previous one stopped. Locks taken or dropped by other processes in
/// between shift the table, so a lock can appear twice or not at all: with two processes
/// locking in a loop, more than half of such multi-read passes were wrong in our measurements,
/// while every pass delivered by a single `read` was right. So the file is read until one `read`
/// returns it whole. When the table is too large for that (more than about 80 locks on the whole
/// machine) or never settles, the last pass is used with duplicate entries of one process
/// merged: counts are then approximate.
fn flock_holders() -> Vec<(u32, u64, u64, u64)> {
    let mut last = String::new();
    for _ in 0..64 {
        match read_locks() {
            Some((text, true)) => return parse_flocks(&text),
            Some((text, false)) => last = text,
            None => return Vec::new(),
        }
    }
    let mut out = parse_flocks(&last);
    out.sort_unstable();
    out.dedup();
    out
}

/// Reads `/proc/locks`; the flag says whether one `read` returned all of it.
fn read_locks() -> Option<(String, bool)> {
    use std::io::Read;
    let mut f = std::fs::File::open("/proc/locks").ok()?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0;
    let mut reads = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                reads += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    buf.truncate(len);
    Some((String::from_utf8(buf).ok()?, reads <= 1))
}

fn parse_flocks(text: &str) -> Vec<(u32, u64, u64, u64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // "1: FLOCK  ADVISORY  READ  1234 00:1a:5678 0 EOF"; waiters have "->" after the number.
        if f.len() < 6 || f[1] != "FLOCK" {
            continue;
        }
        let pid = f[4].parse::<u32>().unwrap_or(0);
        let parts: Vec<&str> = f[5].split(':').collect();
        if parts.len() != 3 {
            continue;
        }
        if let (Ok(maj), Ok(min), Ok(ino)) = (
            u64::from_str_radix(parts[0], 16),
            u64::from_str_radix(parts[1], 16),
            parts[2].parse::<u64>(),
        ) {
            out.push((pid, maj, min, ino));
        }
    }
    out
}

fn dev_major_minor(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major, minor)
}

fn scan(dir: Option<&Path>, reap_tmp: bool, removed: &mut Vec<String>) -> Result<Vec<ObjectInfo>> {
    let dir = resolve_dir(dir);
    let what = format!("directory {}", dir.display());
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::os("list", what.clone(), e))?;
    let locks = flock_holders();
    let mut out = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(_) => continue,
        };
        let fname = entry.file_name();
        let name = match fname.to_str() {
            Some(n) => n.to_owned(),
            None => continue,
        };
        let path = entry.path();
        let is_tmp = name.starts_with(TMP_PREFIX);
        if is_tmp && !reap_tmp {
            continue;
        }
        let st = match rfs::statat(rfs::CWD, &path, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if is_regular(&st) => st,
            _ => continue,
        };
        let (dev, ino) = ident(&st);
        let fd = rfs::openat(
            rfs::CWD,
            &path,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .ok();
        // Decide on the descriptor's own status: the name may have been replaced meanwhile.
        let st = match fd.as_ref().map(rfs::fstat) {
            Some(Ok(st)) => st,
            _ => st,
        };
        let ours = st.st_uid == rustix::process::geteuid().as_raw();
        // Another user's objects are never reaped; ours only when the mode says so and nobody
        // holds them (see the module documentation: nothing a non-owner can write decides it).
        let may_reap = if is_tmp {
            ours && tmp_creator_gone(&name, &st)
        } else {
            reapable(&st)
        };
        let unheld = fd.as_ref().map(|fd| last_holder(fd.as_fd()));
        if may_reap && unheld == Some(true) {
            // A creator that died before publishing, or a handle-lifetime object whose holders
            // are all gone.
            if unlink_if_same(&path, dev, ino) {
                removed.push(name);
            }
            continue;
        }
        if unheld == Some(true) {
            // We took the lock exclusively only to look: let go so others can open it.
            if let Some(fd) = &fd {
                let _ = rfs::flock(fd, FlockOperation::Unlock);
            }
        }
        if is_tmp {
            continue;
        }
        let (maj, min) = dev_major_minor(dev);
        let mut pids: Vec<u32> = locks
            .iter()
            .filter(|l| l.1 == maj && l.2 == min && l.3 == ino)
            .map(|l| l.0)
            .collect();
        let holders = match unheld {
            Some(true) => Some(0),
            // It is held, whatever an approximate reading of /proc/locks says.
            Some(false) => Some(pids.len().max(1)),
            None => None,
        };
        pids.sort_unstable();
        pids.dedup();
        let mut magic = [0u8; 8];
        let mut lifetime = None;
        if let Some(fd) = &fd {
            let _ = rustix::io::pread(fd, &mut magic, 0);
            if made_by_mmf(fd.as_fd(), &st) {
                lifetime = Some(lifetime_of(&st));
            }
        }
        #[allow(clippy::unnecessary_cast)]
        out.push(ObjectInfo {
            name,
            size: size_of(&st),
            owner_uid: st.st_uid as u32,
            // The permission bits; the sticky bit is mmf's lifetime marker, reported as such.
            mode: (st.st_mode as u32) & 0o777,
            lifetime,
            holders,
            holder_pids: pids,
            magic,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

pub(crate) fn list(dir: Option<&Path>) -> Result<Vec<ObjectInfo>> {
    let mut removed = Vec::new();
    scan(dir, false, &mut removed)
}

pub(crate) fn gc(dir: Option<&Path>) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    scan(dir, true, &mut removed)?;
    removed.sort();
    Ok(removed)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{new_file, parse_flocks, publish, TMP_PREFIX};

    #[test]
    fn both_ways_of_building_an_object_publish_exclusively_and_leave_nothing() {
        let dir = std::path::Path::new("/dev/shm")
            .join(format!("mmf-unit-publish-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let entries = || {
            let mut v: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        for unnamed in [true, false] {
            let target = dir.join(format!("obj-{}", unnamed));
            let mut first = new_file(&dir, "t", unnamed).unwrap();
            // The fallback's temporary name carries this process's token.
            match &first.path {
                Some(p) => assert!(p
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with(&format!(
                        "{}{:x}.",
                        TMP_PREFIX,
                        super::super::process_token()
                    ))),
                None => assert!(unnamed, "only the fallback has a name"),
            }
            assert!(publish(&mut first, &target, "t").unwrap().is_some());
            let mut second = new_file(&dir, "t", unnamed).unwrap();
            assert!(
                publish(&mut second, &target, "t").unwrap().is_none(),
                "name taken"
            );
            drop((first, second));
            assert!(
                entries().iter().all(|e| !e.starts_with(TMP_PREFIX)),
                "{:?}",
                entries()
            );
        }
        assert_eq!(
            entries(),
            vec!["obj-false".to_owned(), "obj-true".to_owned()]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn flocks_are_read_from_proc_locks_lines() {
        let text = "1: POSIX  ADVISORY  WRITE 10 fd:00:77 0 EOF\n\
                    2: FLOCK  ADVISORY  READ 1234 00:1b:5678 0 EOF\n\
                    2: -> FLOCK  ADVISORY  WRITE 99 00:1b:5678 0 EOF\n\
                    3: FLOCK  ADVISORY  WRITE 42 fd:01:9 0 EOF\n\
                    garbage\n";
        assert_eq!(
            parse_flocks(text),
            vec![(1234, 0, 0x1b, 5678), (42, 0xfd, 1, 9)],
            "POSIX locks and waiters are not holders"
        );
    }
}

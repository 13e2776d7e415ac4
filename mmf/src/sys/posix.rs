//! The POSIX backend, for macOS, iOS and the BSDs: a named object is a POSIX shared memory object
//! (`shm_open("/NAME")`), an anonymous object is one whose name is removed right after creation,
//! a file-backed object is the file's own descriptor. Views are `mmap`, flushing is `msync`.
//!
//! CI compiles and lints this backend for macOS and FreeBSD (`.ci/targets.sh`), and runs it on
//! Linux, which has `shm_open` too, when built with `--cfg mmf_force_posix` (`tests/posix_backend.rs`
//! and the conformance suite). It has not been run on macOS or a BSD yet.
//!
//! # How the Linux model maps onto POSIX shared memory
//!
//! - **Lifetime.** Only [`Lifetime::Persistent`] exists: an object stays until
//!   [`Namespace::remove`](crate::Namespace::remove) (`shm_unlink`). [`Lifetime::Handle`], the
//!   default of [`CreateOptions`](crate::CreateOptions), is refused with `Unsupported`: the Linux
//!   backend counts holders with `flock` on the object, and macOS cannot lock a shared memory
//!   descriptor at all (`flock` works on vnodes only), so the last holder (or a survivor of a
//!   crash) could not be told. Ask for `Lifetime::Persistent` on these systems.
//! - **Creation.** `shm_open(O_CREAT | O_EXCL)` makes the name visible before the object is sized
//!   (POSIX has no way to name an object after building it, as `linkat` does on Linux), so the
//!   creator sizes it right away and runs its initialiser afterwards, as on Windows: an opener
//!   that meets an object without a size yet waits for it (at most the lock timeout, then
//!   `Busy`), and contents that need a ready flag publish one themselves (shared values do). A
//!   creator killed before sizing leaves a zero-sized object behind; remove it by name.
//! - **Size.** macOS sizes a shared memory object once: `ftruncate` of an object that has a size
//!   fails, so [`Mapping::grow`](crate::Mapping::grow) of a named or anonymous object is
//!   `Unsupported` there (file-backed objects grow). macOS also reports sizes rounded up to a
//!   whole page, so an opener may see up to a page more than the creator asked for, zero-filled
//!   and mappable. Nothing is committed in advance: the commit limit and `commit_range` are
//!   Linux features.
//! - **Names.** macOS limits shared memory names to 31 bytes with the leading `/`, so 30 bytes of
//!   name (`InvalidName` beyond). Objects are not files: there is no directory for them, so
//!   [`CreateOptions::dir`](crate::CreateOptions) and `MMF_DIR` do not apply (`Unsupported` for a
//!   directory given explicitly), and listing or collecting the namespace is `Unsupported` (macOS
//!   has no interface to enumerate shared memory objects; FreeBSD's `kern.ipc.posix_shm_list`
//!   sysctl is not read yet).
//! - **Faults.** Accesses are not guarded against `SIGBUS` (the Linux backend's `fault.rs`): a
//!   peer that truncates an object under a view (possible on the BSDs; macOS cannot resize) makes
//!   the next access there kill the process.
//! - **Handing over.** Inheritance and `SCM_RIGHTS` transfer are not implemented on this backend
//!   yet (`Unsupported`); share a named object instead.
//!
//! # Safety
//!
//! This module calls `mmap`, `munmap`, `msync`, `madvise` and `mlock`, which are unsafe because
//! they create, destroy or inspect memory the compiler does not know about. Each call states the
//! invariant it relies on.
#![allow(unsafe_code)]

use self::unix_map::UnixMap;
use super::{CreateSpec, Init, OpenSpec};
use crate::error::Detail;
use crate::sys::check_owner;
use crate::sys::contract::{
    AnonymousObject, CommitOps, HandOver, MapOps, Maps, NamedObject, ObjectOps,
};
use crate::sys::{Error, Result};
use crate::types::{Access, Advice, Backing, Disposition, Lifetime, ObjectInfo, UncheckedAdvice};
use crate::{ErrorKind, Name};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{self as rfs, Mode};
use rustix::io::Errno;
use rustix::mm::MapFlags;
use rustix::shm;
use std::fs::File;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

// Blocking notification and process identity, for shared values (see `sys/mod.rs`).
#[path = "unix_map.rs"]
mod unix_map;

#[path = "notify_posix.rs"]
mod notify;
#[allow(unused_imports)]
pub(crate) use self::notify::*;

/// The longest `shm_open` name macOS accepts, leading `/` included (`PSHMNAMLEN`).
const MACOS_NAME_MAX: usize = 31;

pub(crate) fn page_size() -> usize {
    rustix::param::page_size()
}

pub(crate) fn allocation_granularity() -> usize {
    page_size()
}

/// Names are not files here: there is no directory.
pub(crate) fn namespace_dir(_dir: Option<&Path>) -> Option<PathBuf> {
    None
}

#[allow(clippy::unnecessary_cast)] // the field types differ between systems
fn size_of(st: &rfs::Stat) -> u64 {
    st.st_size as u64
}

/// The `shm_open` name of `name`, or `InvalidName` where the system's limit is shorter than
/// mmf's.
fn shm_name(name: &Name, op: &'static str) -> Result<String> {
    let s = format!("/{}", name.as_str());
    if cfg!(any(target_os = "macos", target_os = "ios")) && s.len() > MACOS_NAME_MAX {
        let detail = Detail::NameTooLong {
            limit: MACOS_NAME_MAX - 1,
            len: s.len() - 1,
        };
        return Err(Error::new(ErrorKind::InvalidName, detail).at(op));
    }
    Ok(s)
}

/// Refuses a directory for named objects: they are not files here.
fn no_dir(dir: Option<&Path>, op: &'static str) -> Result<()> {
    match dir {
        None => Ok(()),
        Some(d) => {
            Err(Error::new(ErrorKind::Unsupported, Detail::NoDirectories(d.to_owned())).at(op))
        }
    }
}

/// Maps `shm_open`'s errors to the kinds a caller can act on.
fn open_error(op: &'static str, e: Errno, writable: bool) -> Error {
    if e == Errno::ACCESS {
        let detail = if writable {
            "no write permission; open it read-only or ask its owner to grant access"
        } else {
            "no read permission; ask its owner to grant access"
        };
        Error::new(ErrorKind::PermissionDenied, detail)
            .at(op)
            .with_os(e)
    } else if e == Errno::NAMETOOLONG {
        Error::new(
            ErrorKind::InvalidName,
            "the name is longer than this system allows for shared memory objects",
        )
        .at(op)
        .with_os(e)
    } else {
        Error::os(e).at(op)
    }
}

/// An open mapping object.
pub(crate) struct Object {
    fd: OwnedFd,
    writable: bool,
    /// A shared memory object (named or anonymous), not a file.
    shm: bool,
    named: bool,
}

/// Removes a half-made object again (its creator failed before handing it out).
struct Unpublish<'a> {
    path: &'a str,
    armed: bool,
}

impl Drop for Unpublish<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = shm::unlink(self.path);
        }
    }
}

/// Creates `path` exclusively, sizes it and gives it its mode. `Ok(None)` if the name is taken.
fn create_sized(spec: &CreateSpec<'_>, path: &str) -> Result<Option<OwnedFd>> {
    let mode = spec.permissions.mode() & 0o777;
    let fd = match shm::open(
        path,
        shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR,
        Mode::from_raw_mode(mode as _),
    ) {
        Ok(fd) => fd,
        Err(e) if e == Errno::EXIST => return Ok(None),
        Err(e) => return Err(open_error("create", e, true)),
    };
    let mut guard = Unpublish { path, armed: true };
    rfs::ftruncate(&fd, spec.size).map_err(|e| {
        if e == Errno::NOSPC || e == Errno::NOMEM || e == Errno::FBIG {
            Error::new(
                ErrorKind::OutOfSpace,
                Detail::CannotBack { size: spec.size },
            )
            .at("create")
            .with_os(e)
        } else {
            Error::os(e).at("create")
        }
    })?;
    // The umask may have taken bits away: put them back where the system lets us.
    let st = rfs::fstat(&fd).map_err(|e| Error::os(e).at("create"))?;
    #[allow(clippy::unnecessary_cast)]
    let have = (st.st_mode as u32) & 0o777;
    if have != mode {
        rfs::fchmod(&fd, Mode::from_raw_mode(mode as _)).map_err(|e| {
            Error::new(ErrorKind::Unsupported, Detail::Umask { mode, have })
                .at("create")
                .with_os(e)
        })?;
    }
    guard.armed = false;
    Ok(Some(fd))
}

/// Creates the object and runs the initialiser on it; the name is removed again if either fails.
fn create_and_init(
    spec: &CreateSpec<'_>,
    path: &str,
    init: &mut Init<'_>,
) -> Result<Option<Object>> {
    let fd = match create_sized(spec, path)? {
        Some(fd) => fd,
        None => return Ok(None),
    };
    let mut guard = Unpublish { path, armed: true };
    let dup = rustix::io::fcntl_dupfd_cloexec(&fd, 0).map_err(|e| Error::os(e).at("create"))?;
    init(Object {
        fd: dup,
        writable: true,
        shm: true,
        named: true,
    })
    .map_err(Error::from)?;
    guard.armed = false;
    Ok(Some(Object {
        fd,
        writable: true,
        shm: true,
        named: true,
    }))
}

fn check_create(spec: &CreateSpec<'_>, op: &'static str) -> Result<String> {
    no_dir(spec.dir, op)?;
    if spec.lifetime == Lifetime::Handle {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "handle lifetime needs a lock on the object to count its holders, which POSIX shared \
             memory does not offer on this system; create it with Lifetime::Persistent and remove \
             it with Namespace::remove",
        )
        .at(op));
    }
    shm_name(spec.name, op)
}

fn not_found(op: &'static str) -> Error {
    Error::new(ErrorKind::NotFound, "no shared memory object of that name").at(op)
}

/// Opens `spec.name` if it exists; `Ok(None)` if it does not. Waits (at most the lock timeout)
/// for an object that has no size yet: its creator is still making it.
fn try_open(spec: &OpenSpec<'_>, path: &str, op: &'static str) -> Result<Option<Object>> {
    let flags = if spec.writable {
        shm::OFlags::RDWR
    } else {
        shm::OFlags::RDONLY
    };
    let fd = match shm::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) if e == Errno::NOENT => return Ok(None),
        Err(e) => return Err(open_error(op, e, spec.writable)),
    };
    let deadline = Instant::now() + spec.lock_timeout;
    let st = loop {
        let st = rfs::fstat(&fd).map_err(|e| Error::os(e).at(op))?;
        if size_of(&st) > 0 {
            break st;
        }
        if Instant::now() >= deadline {
            return Err(Error::new(
                ErrorKind::Busy,
                "it has no size yet: its creator is still making it, or was killed before sizing \
                 it (then remove it)",
            )
            .at(op));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    check_owner(st.st_uid, spec.allow_other_owner).map_err(|e| e.at(op))?;
    Ok(Some(Object {
        fd,
        writable: spec.writable,
        shm: true,
        named: true,
    }))
}

static ANON_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name for an anonymous object, unique to this process and call, within macOS's limit.
fn anonymous_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 ^ d.as_secs())
        .unwrap_or(0);
    let n = ANON_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mix = (n << 32 ^ nanos).wrapping_mul(0x9e37_79b9_7f4a_7c15) & 0xffff_ffff_ffff;
    format!("/mmf-a{:x}.{:012x}", std::process::id(), mix)
}

impl NamedObject for Object {
    fn create(spec: &CreateSpec<'_>, init: &mut Init<'_>) -> Result<Object> {
        let path = check_create(spec, "create")?;
        match create_and_init(spec, &path, init)? {
            Some(o) => Ok(o),
            None => Err(Error::new(
                ErrorKind::AlreadyExists,
                "a shared memory object of that name already exists; open it, or remove it first",
            )
            .at("create")),
        }
    }

    fn open(spec: &OpenSpec<'_>) -> Result<Object> {
        no_dir(spec.dir, "open")?;
        let path = shm_name(spec.name, "open")?;
        match try_open(spec, &path, "open")? {
            Some(o) => Ok(o),
            None => Err(not_found("open")),
        }
    }

    fn open_or_create(
        c: &CreateSpec<'_>,
        o: &OpenSpec<'_>,
        init: &mut Init<'_>,
    ) -> Result<(Object, Disposition)> {
        let path = check_create(c, "open or create")?;
        for _ in 0..1000 {
            if let Some(obj) = try_open(o, &path, "open or create")? {
                return Ok((obj, Disposition::Opened));
            }
            if let Some(obj) = create_and_init(c, &path, init)? {
                return Ok((obj, Disposition::Created));
            }
        }
        Err(Error::new(
            ErrorKind::Busy,
            "the name kept appearing and disappearing (1000 attempts); another process is \
             creating and removing it in a loop",
        )
        .at("open or create"))
    }
}

impl AnonymousObject for Object {
    /// A shared memory object whose name is removed as soon as it exists.
    fn anonymous(size: u64, _commit: bool) -> Result<Object> {
        let mut last = Errno::EXIST;
        for _ in 0..16 {
            let path = anonymous_name();
            let fd = match shm::open(
                path.as_str(),
                shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR,
                Mode::from_raw_mode(0o600),
            ) {
                Ok(fd) => fd,
                Err(e) if e == Errno::EXIST => {
                    last = e;
                    continue;
                }
                Err(e) => return Err(Error::os(e).at("create")),
            };
            let _ = shm::unlink(path.as_str());
            rfs::ftruncate(&fd, size).map_err(|e| Error::os(e).at("create"))?;
            return Ok(Object {
                fd,
                writable: true,
                shm: true,
                named: false,
            });
        }
        Err(Error::os(last).at("create"))
    }

    fn anonymous_huge(_size: u64) -> Result<Object> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "explicit huge-page memory objects (MFD_HUGETLB) exist on Linux only",
        )
        .at("create"))
    }
}

impl ObjectOps for Object {
    fn from_file(file: File, _size: u64, writable: bool) -> Result<Object> {
        Ok(Object {
            fd: OwnedFd::from(file),
            writable,
            shm: false,
            named: false,
        })
    }

    fn len(&self) -> Result<u64> {
        rfs::fstat(&self.fd)
            .map(|st| size_of(&st))
            .map_err(Error::os)
    }

    /// Grows the object to `new_len` (never shrinks it): `ftruncate`.
    fn grow(&self, new_len: u64) -> Result<()> {
        if new_len <= self.len()? {
            return Ok(());
        }
        match rfs::ftruncate(&self.fd, new_len) {
            Ok(()) => Ok(()),
            Err(e) if self.shm && e == Errno::INVAL => Err(Error::unsupported(
                "this system sizes a shared memory object once, at creation (macOS); create it \
                 at its final size",
            )),
            Err(e) => Err(Error::os(e)),
        }
    }

    /// Makes file data and metadata durable (`fsync`); shared memory has nothing to sync to.
    fn sync_file(&self) -> Result<()> {
        if self.shm {
            return Ok(());
        }
        rfs::fsync(&self.fd).map_err(Error::os)
    }

    /// Named objects are persistent here (see the module documentation).
    fn lifetime(&self) -> Lifetime {
        if self.named {
            Lifetime::Persistent
        } else {
            Lifetime::Handle
        }
    }

    fn writable(&self) -> bool {
        self.writable
    }

    /// `Global\` is a Windows notion.
    fn global(&self) -> bool {
        false
    }
}

impl Object {
    /// The object's descriptor, for `AsFd` on the public types.
    pub(crate) fn fd(&self) -> rustix::fd::BorrowedFd<'_> {
        rustix::fd::AsFd::as_fd(&self.fd)
    }
}

impl CommitOps for Object {
    fn commits_on_grow(&self) -> bool {
        false
    }

    fn commit_range(&self, _offset: u64, _len: u64) -> Result<()> {
        Err(Error::unsupported(
            "reserving memory for an object in advance (fallocate) is a Linux feature",
        ))
    }

    fn decommit_range(&self, _offset: u64, _len: u64) -> Result<()> {
        Err(Error::unsupported(
            "releasing an object's memory (hole punching) is a Linux feature",
        ))
    }
}

impl HandOver for Object {
    fn inherit(&self, _backing: Backing, _cmd: &mut Command) -> Result<Inheritance> {
        Err(handing_over("hand over"))
    }

    fn from_inherited(_token: &str) -> Result<(Object, Backing, Option<Name>)> {
        Err(handing_over("take over"))
    }

    fn send(&self, _backing: Backing, _sock: &UnixStream) -> Result<()> {
        Err(handing_over("send"))
    }

    fn receive(_sock: &UnixStream) -> Result<(Object, Backing, Option<Name>)> {
        Err(handing_over("receive"))
    }
}

impl Maps for Object {
    /// `mmap`; with `at`, the address is only a hint, and a mapping elsewhere is undone.
    unsafe fn map(
        &self,
        offset: u64,
        len: usize,
        access: Access,
        at: Option<usize>,
    ) -> Result<RawMap> {
        // SAFETY: forwarded from the caller; without flags the address is only a hint.
        let map =
            unsafe { UnixMap::map(self.fd.as_fd(), offset, len, access, at, MapFlags::empty()) }?;
        Ok(RawMap(map))
    }
}

fn handing_over(op: &'static str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        "handing objects to other processes is implemented on Linux and Windows only so far; \
         share a named object instead",
    )
    .at(op)
}

/// Never made on this backend (see `Object::inherit`).
pub(crate) struct Inheritance {
    token: String,
}

impl Inheritance {
    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

/// A mapped range, unmapped on drop.
pub(crate) struct RawMap(UnixMap);

impl MapOps for RawMap {
    fn as_ptr(&self) -> *mut u8 {
        self.0.as_ptr()
    }

    fn flush(&self, offset: usize, len: usize, wait: bool) -> Result<()> {
        self.0.flush(offset, len, wait)
    }

    /// `madvise` with advice that does not change memory contents; huge-page advice is Linux's.
    fn advise(&self, offset: usize, len: usize, advice: Advice) -> Result<()> {
        match UnixMap::portable(advice) {
            // SAFETY: the portable advice does not change what the memory holds.
            Some(a) => unsafe { self.0.madvise(offset, len, a) },
            None => Err(Error::unsupported(
                "transparent huge page advice (MADV_HUGEPAGE) is a Linux feature",
            )),
        }
    }

    /// Advice that discards contents: its effect differs between these systems (macOS's
    /// `MADV_DONTNEED` keeps the contents), so none is offered.
    ///
    /// # Safety
    /// None needed here (nothing is done); the signature matches the other backends.
    unsafe fn advise_unchecked(
        &self,
        _offset: usize,
        _len: usize,
        _advice: UncheckedAdvice,
    ) -> Result<()> {
        Err(Error::unsupported(
            "discarding advice (MADV_DONTNEED, MADV_REMOVE) has Linux semantics only on Linux",
        ))
    }

    /// Prefaulting with an error instead of a signal needs `MADV_POPULATE_*` (Linux 5.14).
    fn populate(&self, _offset: usize, _len: usize, _write: bool) -> Result<()> {
        Err(Error::unsupported(
            "prefaulting that reports errors (MADV_POPULATE_READ/WRITE) is a Linux feature",
        ))
    }

    fn lock(&self, offset: usize, len: usize) -> Result<()> {
        self.0.lock(offset, len)
    }

    fn unlock(&self, offset: usize, len: usize) -> Result<()> {
        self.0.unlock(offset, len)
    }
}

/// `shm_unlink`: the name goes away; holders keep their object.
#[doc(alias = "shm_unlink")]
pub(crate) fn remove(name: &Name, dir: Option<&Path>) -> Result<()> {
    no_dir(dir, "remove")?;
    let path = shm_name(name, "remove")?;
    match shm::unlink(path.as_str()) {
        Ok(()) => Ok(()),
        Err(e) if e == Errno::NOENT => Err(not_found("remove")),
        Err(e) => Err(open_error("remove", e, true)),
    }
}

const NO_LISTING: &str = "this system has no interface mmf uses to enumerate shared memory \
                          objects (macOS has none; FreeBSD's kern.ipc.posix_shm_list is not read \
                          yet)";

pub(crate) fn list(_dir: Option<&Path>) -> Result<Vec<ObjectInfo>> {
    Err(Error::new(ErrorKind::Unsupported, NO_LISTING).at("list"))
}

pub(crate) fn gc(_dir: Option<&Path>) -> Result<Vec<String>> {
    Err(Error::new(ErrorKind::Unsupported, NO_LISTING).at("collect"))
}

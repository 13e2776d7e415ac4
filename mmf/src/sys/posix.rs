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

use super::{CreateSpec, Init, OpenSpec};
use crate::types::{Access, Advice, Backing, Disposition, Lifetime, ObjectInfo, UncheckedAdvice};
use crate::{Error, ErrorKind, Name, Result};
use rustix::fd::OwnedFd;
use rustix::fs::{self as rfs, Mode};
use rustix::io::Errno;
use rustix::mm::{self, MapFlags, MsyncFlags, ProtFlags};
use rustix::shm;
use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

// Blocking notification and process identity, for shared values (see `sys/mod.rs`).
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

fn ioerr(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

fn unsupported_io(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, why)
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
        return Err(Error::new(
            ErrorKind::InvalidName,
            op,
            name.describe(),
            format!(
                "macOS limits shared memory names to {} bytes (the name is {})",
                MACOS_NAME_MAX - 1,
                s.len() - 1
            ),
        ));
    }
    Ok(s)
}

/// Refuses a directory for named objects: they are not files here.
fn no_dir(dir: Option<&Path>, op: &'static str, what: &str) -> Result<()> {
    match dir {
        None => Ok(()),
        Some(d) => Err(Error::new(
            ErrorKind::Unsupported,
            op,
            what.to_owned(),
            format!(
                "named objects live in the shm_open namespace on this system, not in a directory \
                 ({}); map a file in that directory instead",
                d.display()
            ),
        )),
    }
}

/// Maps `shm_open`'s errors to the kinds a caller can act on.
fn open_error(op: &'static str, what: String, e: Errno, writable: bool) -> Error {
    if e == Errno::ACCESS {
        let detail = if writable {
            "no write permission; open it read-only or ask its owner to grant access"
        } else {
            "no read permission; ask its owner to grant access"
        };
        Error::new(ErrorKind::PermissionDenied, op, what, detail).with_source(ioerr(e))
    } else if e == Errno::NAMETOOLONG {
        Error::new(
            ErrorKind::InvalidName,
            op,
            what,
            "the name is longer than this system allows for shared memory objects",
        )
        .with_source(ioerr(e))
    } else {
        Error::os(op, what, ioerr(e))
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
fn create_sized(spec: &CreateSpec<'_>, path: &str, what: &str) -> Result<Option<OwnedFd>> {
    let mode = spec.permissions.mode() & 0o777;
    let fd = match shm::open(
        path,
        shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR,
        Mode::from_raw_mode(mode as _),
    ) {
        Ok(fd) => fd,
        Err(e) if e == Errno::EXIST => return Ok(None),
        Err(e) => return Err(open_error("create", what.to_owned(), e, true)),
    };
    let mut guard = Unpublish { path, armed: true };
    rfs::ftruncate(&fd, spec.size).map_err(|e| {
        if e == Errno::NOSPC || e == Errno::NOMEM || e == Errno::FBIG {
            Error::new(
                ErrorKind::OutOfSpace,
                "create",
                what.to_owned(),
                format!(
                    "the system cannot back {} bytes of shared memory",
                    spec.size
                ),
            )
            .with_source(ioerr(e))
        } else {
            Error::os("create", what.to_owned(), ioerr(e))
        }
    })?;
    // The umask may have taken bits away: put them back where the system lets us.
    let st = rfs::fstat(&fd).map_err(|e| Error::os("create", what.to_owned(), ioerr(e)))?;
    #[allow(clippy::unnecessary_cast)]
    let have = (st.st_mode as u32) & 0o777;
    if have != mode {
        rfs::fchmod(&fd, Mode::from_raw_mode(mode as _)).map_err(|e| {
            Error::new(
                ErrorKind::Unsupported,
                "create",
                what.to_owned(),
                format!(
                    "the umask turned mode {:o} into {:o}, and this system cannot change the mode \
                     of a shared memory object; clear those bits from the umask",
                    mode, have
                ),
            )
            .with_source(ioerr(e))
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
    what: &str,
) -> Result<Option<Object>> {
    let fd = match create_sized(spec, path, what)? {
        Some(fd) => fd,
        None => return Ok(None),
    };
    let mut guard = Unpublish { path, armed: true };
    let dup = rustix::io::fcntl_dupfd_cloexec(&fd, 0)
        .map_err(|e| Error::os("create", what.to_owned(), ioerr(e)))?;
    init(Object {
        fd: dup,
        writable: true,
        shm: true,
        named: true,
    })?;
    guard.armed = false;
    Ok(Some(Object {
        fd,
        writable: true,
        shm: true,
        named: true,
    }))
}

fn check_create(spec: &CreateSpec<'_>, op: &'static str) -> Result<String> {
    let what = spec.name.describe();
    no_dir(spec.dir, op, &what)?;
    if spec.lifetime == Lifetime::Handle {
        return Err(Error::new(
            ErrorKind::Unsupported,
            op,
            what,
            "handle lifetime needs a lock on the object to count its holders, which POSIX shared \
             memory does not offer on this system; create it with Lifetime::Persistent and remove \
             it with Namespace::remove",
        ));
    }
    shm_name(spec.name, op)
}

fn not_found(name: &Name, op: &'static str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        op,
        name.describe(),
        "no shared memory object of that name",
    )
}

/// Opens `spec.name` if it exists; `Ok(None)` if it does not. Waits (at most the lock timeout)
/// for an object that has no size yet: its creator is still making it.
fn try_open(spec: &OpenSpec<'_>, path: &str, op: &'static str) -> Result<Option<Object>> {
    let what = spec.name.describe();
    let flags = if spec.writable {
        shm::OFlags::RDWR
    } else {
        shm::OFlags::RDONLY
    };
    let fd = match shm::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) if e == Errno::NOENT => return Ok(None),
        Err(e) => return Err(open_error(op, what, e, spec.writable)),
    };
    let deadline = Instant::now() + spec.lock_timeout;
    let st = loop {
        let st = rfs::fstat(&fd).map_err(|e| Error::os(op, what.clone(), ioerr(e)))?;
        if size_of(&st) > 0 {
            break st;
        }
        if Instant::now() >= deadline {
            return Err(Error::new(
                ErrorKind::Busy,
                op,
                what,
                "it has no size yet: its creator is still making it, or was killed before sizing \
                 it (then remove it)",
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let me = rustix::process::geteuid().as_raw();
    if st.st_uid != me && !spec.allow_other_owner {
        return Err(Error::new(
            ErrorKind::PermissionDenied,
            op,
            what,
            format!(
                "it belongs to uid {} and you are uid {}; opening another user's object must be \
                 asked for explicitly (OpenOptions::allow_other_owner)",
                st.st_uid, me
            ),
        )
        .for_other_owner());
    }
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

impl Object {
    #[doc(alias = "shm_open")]
    pub(crate) fn create(spec: &CreateSpec<'_>, init: &mut Init<'_>) -> Result<Object> {
        let path = check_create(spec, "create")?;
        let what = spec.name.describe();
        match create_and_init(spec, &path, init, &what)? {
            Some(o) => Ok(o),
            None => Err(Error::new(
                ErrorKind::AlreadyExists,
                "create",
                what,
                "a shared memory object of that name already exists; open it, or remove it first",
            )),
        }
    }

    pub(crate) fn open(spec: &OpenSpec<'_>) -> Result<Object> {
        let what = spec.name.describe();
        no_dir(spec.dir, "open", &what)?;
        let path = shm_name(spec.name, "open")?;
        match try_open(spec, &path, "open")? {
            Some(o) => Ok(o),
            None => Err(not_found(spec.name, "open")),
        }
    }

    pub(crate) fn open_or_create(
        c: &CreateSpec<'_>,
        o: &OpenSpec<'_>,
        init: &mut Init<'_>,
    ) -> Result<(Object, Disposition)> {
        let path = check_create(c, "open or create")?;
        let what = c.name.describe();
        for _ in 0..1000 {
            if let Some(obj) = try_open(o, &path, "open or create")? {
                return Ok((obj, Disposition::Opened));
            }
            if let Some(obj) = create_and_init(c, &path, init, &what)? {
                return Ok((obj, Disposition::Created));
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

    /// A shared memory object whose name is removed as soon as it exists.
    pub(crate) fn anonymous(size: u64, _commit: bool) -> Result<Object> {
        let what = "anonymous object";
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
                Err(e) => return Err(Error::os("create", what, ioerr(e))),
            };
            let _ = shm::unlink(path.as_str());
            rfs::ftruncate(&fd, size).map_err(|e| Error::os("create", what, ioerr(e)))?;
            return Ok(Object {
                fd,
                writable: true,
                shm: true,
                named: false,
            });
        }
        Err(Error::os("create", what, ioerr(last)))
    }

    pub(crate) fn anonymous_huge(_size: u64) -> Result<Object> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "create",
            "anonymous huge-page object",
            "explicit huge-page memory objects (MFD_HUGETLB) exist on Linux only",
        ))
    }

    /// Nothing is committed in advance here, so nothing can be short.
    pub(crate) fn shortage(&self, _offset: u64, _len: u64) -> Option<super::Shortage> {
        None
    }

    pub(crate) fn commits_on_grow(&self) -> bool {
        false
    }

    pub(crate) fn commit_range(&self, _offset: u64, _len: u64) -> io::Result<()> {
        Err(unsupported_io(
            "reserving memory for an object in advance (fallocate) is a Linux feature",
        ))
    }

    pub(crate) fn decommit_range(&self, _offset: u64, _len: u64) -> io::Result<()> {
        Err(unsupported_io(
            "releasing an object's memory (hole punching) is a Linux feature",
        ))
    }

    pub(crate) fn from_file(file: File, _size: u64, writable: bool, _what: &str) -> Result<Object> {
        Ok(Object {
            fd: OwnedFd::from(file),
            writable,
            shm: false,
            named: false,
        })
    }

    /// The object's descriptor, for `AsFd` on the public types.
    pub(crate) fn fd(&self) -> rustix::fd::BorrowedFd<'_> {
        rustix::fd::AsFd::as_fd(&self.fd)
    }

    pub(crate) fn len(&self) -> io::Result<u64> {
        rfs::fstat(&self.fd).map(|st| size_of(&st)).map_err(ioerr)
    }

    /// Grows the object to `new_len` (never shrinks it): `ftruncate`.
    pub(crate) fn grow(&self, new_len: u64) -> io::Result<()> {
        if new_len <= self.len()? {
            return Ok(());
        }
        match rfs::ftruncate(&self.fd, new_len) {
            Ok(()) => Ok(()),
            Err(e) if self.shm && e == Errno::INVAL => Err(unsupported_io(
                "this system sizes a shared memory object once, at creation (macOS); create it \
                 at its final size",
            )),
            Err(e) => Err(ioerr(e)),
        }
    }

    /// Makes file data and metadata durable (`fsync`); shared memory has nothing to sync to.
    pub(crate) fn sync_file(&self) -> io::Result<()> {
        if self.shm {
            return Ok(());
        }
        rfs::fsync(&self.fd).map_err(ioerr)
    }

    /// Named objects are persistent here (see the module documentation).
    pub(crate) fn lifetime(&self) -> Lifetime {
        if self.named {
            Lifetime::Persistent
        } else {
            Lifetime::Handle
        }
    }

    pub(crate) fn writable(&self) -> bool {
        self.writable
    }

    /// `Global\` is a Windows notion.
    pub(crate) fn global(&self) -> bool {
        false
    }

    pub(crate) fn inherit(
        &self,
        _backing: Backing,
        _cmd: &mut Command,
        what: &str,
    ) -> Result<Inheritance> {
        Err(handing_over("hand over", what))
    }

    pub(crate) fn from_inherited(token: &str) -> Result<(Object, Backing, Option<Name>)> {
        Err(handing_over(
            "take over",
            &format!("inherited handle {:?}", token),
        ))
    }

    pub(crate) fn send(&self, _backing: Backing, _sock: &UnixStream, what: &str) -> Result<()> {
        Err(handing_over("send", what))
    }

    pub(crate) fn receive(_sock: &UnixStream) -> Result<(Object, Backing, Option<Name>)> {
        Err(handing_over("receive", "object received over a socket"))
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
        let (prot, flags) = match access {
            Access::ReadOnly => (ProtFlags::READ, MapFlags::SHARED),
            Access::ReadWrite => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED),
            Access::CopyOnWrite => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE),
        };
        // A chosen address is passed as a hint, never with MAP_FIXED (which replaces whatever is
        // mapped there): the kernel uses the hint only if the range is free, and a mapping that
        // landed elsewhere is undone and refused.
        let hint = at.map_or(std::ptr::null_mut(), |a| a as *mut c_void);
        // SAFETY: a fresh mapping without MAP_FIXED never affects existing memory. Range validity
        // is forwarded from the caller.
        let p = unsafe { mm::mmap(hint, len, prot, flags, &self.fd, offset) }.map_err(ioerr)?;
        if at.is_some() && p != hint {
            // SAFETY: `p` is the mapping we just made, of `len` bytes, referenced nowhere else.
            let _ = unsafe { mm::munmap(p, len) };
            return Err(io::Error::from_raw_os_error(Errno::EXIST.raw_os_error()));
        }
        Ok(RawMap { ptr: p.cast(), len })
    }
}

fn handing_over(op: &'static str, what: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        op,
        what.to_owned(),
        "handing objects to other processes is implemented on Linux and Windows only so far; \
         share a named object instead",
    )
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
pub(crate) struct RawMap {
    ptr: *mut u8,
    len: usize,
}

impl RawMap {
    /// The first byte of the mapping.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// The address `offset` bytes into the mapping (no dereference; callers check bounds).
    fn range(&self, offset: usize) -> *mut c_void {
        self.ptr.wrapping_add(offset).cast()
    }

    /// Writes back `[offset, offset + len)` of this mapping; `wait` for `MS_SYNC`.
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
        unsafe { mm::msync(self.range(offset), len, flags) }.map_err(ioerr)
    }

    /// `madvise` with advice that does not change memory contents; huge-page advice is Linux's.
    pub(crate) fn advise(&self, offset: usize, len: usize, advice: Advice) -> io::Result<()> {
        super::span(self.len, offset, len)?;
        use rustix::mm::Advice as M;
        let advice = match advice {
            Advice::Normal => M::Normal,
            Advice::Sequential => M::Sequential,
            Advice::Random => M::Random,
            Advice::WillNeed => M::WillNeed,
            Advice::HugePage | Advice::NoHugePage => {
                return Err(unsupported_io(
                    "transparent huge page advice (MADV_HUGEPAGE) is a Linux feature",
                ))
            }
        };
        // SAFETY: the range lies within this live mapping (caller-checked) and this advice does
        // not change what the memory holds.
        unsafe { mm::madvise(self.range(offset), len, advice) }.map_err(ioerr)
    }

    /// Advice that discards contents: its effect differs between these systems (macOS's
    /// `MADV_DONTNEED` keeps the contents), so none is offered.
    ///
    /// # Safety
    /// None needed here (nothing is done); the signature matches the other backends.
    pub(crate) unsafe fn advise_unchecked(
        &self,
        _offset: usize,
        _len: usize,
        _advice: UncheckedAdvice,
    ) -> io::Result<()> {
        Err(unsupported_io(
            "discarding advice (MADV_DONTNEED, MADV_REMOVE) has Linux semantics only on Linux",
        ))
    }

    /// Prefaulting with an error instead of a signal needs `MADV_POPULATE_*` (Linux 5.14).
    pub(crate) fn populate(&self, _offset: usize, _len: usize, _write: bool) -> io::Result<()> {
        Err(unsupported_io(
            "prefaulting that reports errors (MADV_POPULATE_READ/WRITE) is a Linux feature",
        ))
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

/// `shm_unlink`: the name goes away; holders keep their object.
#[doc(alias = "shm_unlink")]
pub(crate) fn remove(name: &Name, dir: Option<&Path>) -> Result<()> {
    let what = name.describe();
    no_dir(dir, "remove", &what)?;
    let path = shm_name(name, "remove")?;
    match shm::unlink(path.as_str()) {
        Ok(()) => Ok(()),
        Err(e) if e == Errno::NOENT => Err(not_found(name, "remove")),
        Err(e) => Err(open_error("remove", what, e, true)),
    }
}

const NO_LISTING: &str = "this system has no interface mmf uses to enumerate shared memory \
                          objects (macOS has none; FreeBSD's kern.ipc.posix_shm_list is not read \
                          yet)";

pub(crate) fn list(_dir: Option<&Path>) -> Result<Vec<ObjectInfo>> {
    Err(Error::new(
        ErrorKind::Unsupported,
        "list",
        "the object namespace",
        NO_LISTING,
    ))
}

pub(crate) fn gc(_dir: Option<&Path>) -> Result<Vec<String>> {
    Err(Error::new(
        ErrorKind::Unsupported,
        "collect",
        "the object namespace",
        NO_LISTING,
    ))
}

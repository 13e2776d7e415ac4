//! The platform layer: the only code that calls the operating system.
//!
//! One backend is chosen here, at compile time, by what the system offers:
//!
//! | backend | targets | notification |
//! |---|---|---|
//! | `linux/` | Linux and Android: `named.rs` (objects in `/dev/shm`, built unnamed with `O_TMPFILE` and published with `linkat`), `anonymous.rs` (memfd), `space.rs` (`fallocate`) and `commit_limit.rs`, `map.rs` (`mmap`, `RawMap`) with the `SIGBUS` guards of `fault.rs`, `handover.rs` (inheritance, `SCM_RIGHTS`), `namespace.rs` (`remove`, `list`, `gc`) with `proc_locks.rs` (`flock` holders) | `linux/notify.rs`: a shared futex; `linux/wait_any.rs`: `futex_waitv` for the async waits' threads |
//! | `windows/` | Win32 sections: `named.rs`, `anonymous.rs`, `map.rs` (views, `RawMap`), `handover.rs` (inheritable handles), `namespace.rs`, `section.rs` (`NtQuerySection`), `owner.rs` (the owner check against name squatting), `security.rs` (`Permissions` as a DACL, privilege checks), `grow.rs` (sections that grow within a reservation) | `windows/notify.rs`: named kernel events |
//! | `posix.rs` | macOS, iOS, FreeBSD, NetBSD, OpenBSD, DragonFly: `shm_open`, `mmap`, `ftruncate`; no handle lifetime, listing or handing over (see its module documentation) | `notify_posix.rs`: polling with a bounded backoff |
//! | `unsupported.rs` | everything else: wasm32 and Unix systems not listed above | `notify_unsupported.rs` |
//!
//! Every backend exports the same names, and the core above uses only those names, with no `cfg`
//! of its own (apart from `Mapping::send`/`receive`, which need `std::os::unix`). An operation a
//! backend cannot do returns [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) with a
//! sentence saying why. CI compiles (and lints) `posix.rs` for macOS and FreeBSD, `linux/` for
//! Android and the fallback for wasm32 (`.ci/targets.sh`); it runs the Linux and Windows backends, and
//! `posix.rs` on Linux (`--cfg mmf_force_posix`), but nothing on macOS or the BSDs.
//!
//! Android has what `linux/` uses (memfd, futexes, `flock`, `/proc`), with two differences:
//! rustix 0.38 has no `MAP_FIXED_NOREPLACE` for Android, so a view at a chosen address is mapped
//! with the address as a hint and undone if it landed elsewhere (as in `posix.rs`), and Android
//! has no `/dev/shm`, so named objects need a directory (`MMF_DIR`, `Namespace::at`,
//! `CreateOptions::dir`); without one they are `NotFound` with the directory named. (Its bionic C
//! library has no `shm_open`, so `posix.rs` would not fit.) This is compiled and linted for
//! Android in CI, never run.
//!
//! # The contract every backend implements
//!
//! The contract is code, in [`contract`]: traits for the object, one per concern as the backends'
//! files are cut ([`NamedObject`](contract::NamedObject), [`AnonymousObject`](contract::AnonymousObject),
//! [`ObjectOps`](contract::ObjectOps), [`CommitOps`](contract::CommitOps),
//! [`HandOver`](contract::HandOver), [`Maps`](contract::Maps)) and for the mapped range
//! ([`MapOps`](contract::MapOps)), each method documented there with its preconditions and why
//! it is unsafe; and the exact signatures of the free functions (page size and granularity, the
//! namespace's `remove`/`list`/`gc`/`namespace_dir`, process identity) and of the notifier, which
//! every backend's items must match. A backend that misses one does not compile, on any target.
//! Default methods hold what most backends share: no commit-limit shortage where the system
//! enforces its own limit, and unguarded accesses where there is no `SIGBUS` to catch (Linux
//! overrides both). The Linux and POSIX backends share their `mmap` range (`unix_map.rs`).
//!
//! Beside the traits, each backend has `struct Object` (an open mapping object, a descriptor or a
//! section handle, and what the backend needs to release it; dropping it closes the handle, and
//! for a named object with [`Lifetime::Handle`](crate::Lifetime) that was the last holder
//! anywhere, the name goes away), `struct RawMap` (a mapped range; dropping it unmaps) and
//! `struct Inheritance` (a handle kept for a child, with the token the child passes on). Objects
//! also have `fd() -> BorrowedFd` (Linux, POSIX) or `handle() -> BorrowedHandle` (Windows): the
//! descriptor or section handle, for the public `AsFd`/`AsHandle` (`mapping/os_handle.rs`); the
//! fallback has neither, so these are not part of the common contract.
//!
//! # Errors
//!
//! Fallible operations return this layer's own [`Error`] (`error.rs`): an
//! [`ErrorKind`](crate::ErrorKind) chosen here, where the OS error codes are known by name
//! (`error::classify`), a structured detail (a directory, sizes, owners; never a sentence about a
//! particular object) and the OS error. The backends know neither the object's description nor,
//! usually, the operation the caller asked for: the layer above adds both with
//! [`Error::context`], which makes the public [`crate::Error`], whose message is written only when
//! it is displayed. A backend names a step only where it differs from the caller's operation
//! (`Error::at`: "lock", "take over"). [`os_error`] makes the public error of an OS error the
//! layers above meet themselves (the standard library's file operations). Only the notifier's
//! `wait` still returns `io::Result` (it is called in loops that retry on `Interrupted`).
//!
//! # Blocking notification (`notify*.rs`)
//!
//! Each backend's notifier provides `struct Notifier`, used by shared values to block in the
//! kernel until a 32-bit word in shared memory changes (signatures checked in [`contract`]):
//!
//! - `Notifier::new(key: Option<&Name>, global: bool) -> Result<Notifier>`: `key` identifies the
//!   object across processes (a named object's name; `None` for an anonymous object). On Linux the
//!   futex needs no key; on Windows the key names the kernel event.
//! - `Notifier::wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>)
//!   -> io::Result<bool>`: blocks while `word == expected`, at most `timeout`; `Ok(false)` on
//!   timeout, `Ok(true)` otherwise. Spurious wake-ups are allowed: callers re-check and loop.
//!   Never a busy loop.
//! - `Notifier::wake_all(&self, word: &AtomicU32)`: wakes every waiter on `word` in any process.
//! - `Notifier` is `Send + Sync` (shared values are).
//!
//! The same files provide process identity, for the shared-value writer lock:
//!
//! - `process_token() -> u64`: identifies the calling process for as long as it lives; never 0,
//!   the same for all its threads, and different from any other process that may ever hold the
//!   same pid (Linux: pid | low 32 bits of the start time << 32; Windows: process id | creation
//!   time bits << 32).
//! - `process_alive(token: u64) -> Option<bool>`: `Some(false)` only when the process is surely
//!   gone (exited, a zombie, or its pid now names a process started at another time);
//!   `Some(true)` when it runs; `None` when it cannot be told (treated as alive).
//! - `process_stopped(token: u64) -> Option<bool>`: whether that process is stopped (Linux: state
//!   `T` or `t` in `/proc/PID/stat`: SIGSTOP, Ctrl-Z, a debugger), for the message of a writer
//!   that gave up waiting for the lock; `None` when it cannot be told (Windows, other platforms,
//!   or the process is gone).
//! - `now_ms() -> u64`: wall-clock milliseconds since the Unix epoch, cheap (Linux: the coarse
//!   clock, a few milliseconds of resolution), for the ages of reader pins.

// The backends, chosen by what they use (see the table above). The target lists below are spelled
// out in full in each `cfg`, since Rust has no aliases for them without a build script.
// `--cfg mmf_force_posix` puts Linux on the POSIX backend, so that its code runs somewhere in CI
// (glibc has `shm_open`); see `tests/posix_backend.rs`.
#[cfg_attr(
    all(any(target_os = "linux", target_os = "android"), not(mmf_force_posix)),
    path = "linux/mod.rs"
)]
#[cfg_attr(windows, path = "windows/mod.rs")]
#[cfg_attr(
    any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly",
        all(target_os = "linux", mmf_force_posix)
    ),
    path = "posix.rs"
)]
#[cfg_attr(
    not(any(
        target_os = "linux",
        target_os = "android",
        windows,
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    )),
    path = "unsupported.rs"
)]
mod imp;

pub(crate) use imp::*;

pub(crate) mod contract;
mod error;
pub(crate) use self::error::{classify, os_error, Error, Result};

// Waiting on many words in one call, for the async waits (`value/wait_async.rs`): `futex_waitv`
// on Linux (64-bit x86 and Arm, where libc names the call); elsewhere none, and the async waits
// use a thread per waiting future on the backend's `Notifier` instead.
#[cfg(all(
    target_os = "linux",
    not(mmf_force_posix),
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[path = "linux/wait_any.rs"]
mod wait_any;
#[cfg(not(all(
    target_os = "linux",
    not(mmf_force_posix),
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod wait_any {
    //! No call waits on many words here: `wait_any_supported` says so.
    #![cfg_attr(loom, allow(dead_code))]
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    pub(crate) fn wait_any_max() -> usize {
        0
    }

    pub(crate) fn wait_any_supported() -> bool {
        false
    }

    pub(crate) fn wait_any(
        _interrupt: &AtomicU32,
        _seen: u32,
        _words: &[(&AtomicU32, u32)],
        _timeout: Option<Duration>,
    ) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    pub(crate) fn wake_interrupt(_word: &AtomicU32) {}
}
#[cfg_attr(loom, allow(unused_imports))]
pub(crate) use wait_any::{wait_any, wait_any_max, wait_any_supported, wake_interrupt};

/// Whether objects give memory back freely (`ftruncate`, hole punching). Windows
/// sections cannot give committed memory back (pagefile-backed ones grow only within the range
/// reserved when they were created, `windows/grow.rs`; files grow on disk,
/// `windows/file_growth.rs`), so shared values there keep every data region rather than moving
/// values to smaller ones or trimming.
pub(crate) const OBJECTS_GIVE_BACK: bool = !cfg!(windows);

/// Whether waking a word nobody waits on costs no system call (Windows: a look at the waiter
/// table; POSIX: nothing, waiters poll): writers then wake on every store, and read-only handles
/// are woken without counting themselves. Linux (and Android) has its own (false).
#[cfg(not(all(any(target_os = "linux", target_os = "android"), not(mmf_force_posix))))]
pub(crate) const WAKE_IS_CHEAP: bool = true;

/// Whether `Object::write_through` writes (Linux and Android have their own, true).
#[cfg(not(all(any(target_os = "linux", target_os = "android"), not(mmf_force_posix))))]
pub(crate) const WRITES_THROUGH: bool = false;

/// No second, writable descriptor is needed where waking is cheap (see `WAKE_IS_CHEAP`).
#[cfg(not(all(any(target_os = "linux", target_os = "android"), not(mmf_force_posix))))]
impl imp::Object {
    pub(crate) fn reopen_writable(&self) -> Option<imp::Object> {
        None
    }

    /// Writing through the object's handle is Linux's (see `linux/mod.rs`); elsewhere callers
    /// write through a view.
    pub(crate) fn write_through(&self, _offset: u64, _data: &[u8]) -> Option<Result<()>> {
        None
    }

    /// Reading through the object's handle is Linux's too; elsewhere callers read a view.
    pub(crate) fn read_through(&self, _offset: u64, _buf: &mut [u8]) -> Option<Result<usize>> {
        None
    }

    /// Without `write_through`, new space is written through views: commit it as usual.
    pub(crate) fn grow_uncommitted(&self, new_len: u64) -> Result<()> {
        contract::ObjectOps::grow(self, new_len)
    }
}

/// Bumped whenever a page is patched anywhere in the process (see `linux/fault.rs`); always 0
/// where accesses are not guarded (every backend but Linux's, which has its own).
#[cfg(not(all(any(target_os = "linux", target_os = "android"), not(mmf_force_posix))))]
pub(crate) fn fault_epoch() -> u64 {
    0
}

/// Refuses another user's object unless the opener allowed it (the Unix backends; Windows
/// compares owner SIDs in `windows/owner.rs`).
#[cfg(unix)]
#[allow(dead_code)] // the fallback (Android) opens nothing
pub(crate) fn check_owner(owner: u32, allow_other_owner: bool) -> Result<()> {
    check_owner_as(
        owner,
        rustix::process::geteuid().as_raw(),
        allow_other_owner,
    )
}

/// [`check_owner`] for a process whose effective user ID `me` is known already.
#[cfg(unix)]
#[allow(dead_code)]
pub(crate) fn check_owner_as(owner: u32, me: u32, allow_other_owner: bool) -> Result<()> {
    if owner != me && !allow_other_owner {
        let detail = crate::error::Detail::OtherOwner { owner, me };
        return Err(Error::new(crate::ErrorKind::PermissionDenied, detail).for_other_owner());
    }
    Ok(())
}

/// A guarded access that could not be completed: a page of the range was gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fault {
    /// The page lies past the object's end now (it was truncated); otherwise the backing store
    /// could not provide the page (out of space).
    pub truncated: bool,
    /// The object offset of the (first) page that faulted.
    pub offset: u64,
    /// The object's size after the fault, if it could be read.
    pub size: Option<u64>,
}

/// Wall-clock milliseconds since the Unix epoch (for pin ages, which are measured in seconds);
/// Linux has its own, from the coarse clock.
#[cfg(not(all(any(target_os = "linux", target_os = "android"), not(mmf_force_posix))))]
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

use crate::types::{Lifetime, Permissions};
use crate::Name;
use std::path::Path;
use std::time::Duration;

/// The letter for a backing in inheritance tokens and socket messages.
#[allow(dead_code)] // unused where handing over is unsupported
pub(crate) fn backing_tag(b: crate::types::Backing) -> char {
    match b {
        crate::types::Backing::Named => 'n',
        crate::types::Backing::Anonymous => 'a',
        crate::types::Backing::File => 'f',
    }
}

/// Splits an inheritance token `mmf:KIND:ACCESS:REST` into the backing, whether it is writable,
/// and the platform's part (`REST`: a descriptor number, or a handle value and a name).
#[allow(dead_code)]
pub(crate) fn parse_token(token: &str) -> Option<(crate::types::Backing, bool, &str)> {
    let mut parts = token.splitn(4, ':');
    if parts.next() != Some("mmf") {
        return None;
    }
    let backing = parse_backing(parts.next()?)?;
    let writable = match parts.next()? {
        "rw" => true,
        "ro" => false,
        _ => return None,
    };
    Some((backing, writable, parts.next()?))
}

/// The inverse of [`backing_tag`].
#[allow(dead_code)]
pub(crate) fn parse_backing(s: &str) -> Option<crate::types::Backing> {
    match s {
        "n" => Some(crate::types::Backing::Named),
        "a" => Some(crate::types::Backing::Anonymous),
        "f" => Some(crate::types::Backing::File),
        _ => None,
    }
}

/// The creator's initialiser: runs on the new object's memory before the object has its name.
pub(crate) type Init<'a> = dyn FnMut(Object) -> crate::Result<()> + 'a;

/// What `Object::create` needs to know. Each backend reads what applies to it (the fallback
/// reads nothing but the name, hence the `allow`).
#[allow(dead_code)]
pub(crate) struct CreateSpec<'a> {
    pub name: &'a Name,
    pub size: u64,
    pub lifetime: Lifetime,
    pub permissions: Permissions,
    pub dir: Option<&'a Path>,
    pub commit: bool,
    pub global: bool,
    /// The object should be able to grow (`Mapping::grow`) even where objects normally have a
    /// fixed size: Windows then reserves room for growth (`windows/grow.rs`). Shared values ask
    /// for it; other backends grow any object and ignore it.
    pub growable: bool,
}

/// What `Object::open` needs to know (read as `CreateSpec` is).
#[allow(dead_code)]
pub(crate) struct OpenSpec<'a> {
    pub name: &'a Name,
    pub writable: bool,
    pub dir: Option<&'a Path>,
    pub allow_other_owner: bool,
    pub lock_timeout: Duration,
    pub global: bool,
}

/// Why a commitment does not fit: what was asked, what is free, and what bounds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(dead_code)] // never built where the platform enforces its own commit limit
pub(crate) struct Shortage {
    /// Bytes that would have to be newly backed.
    pub asked: u64,
    /// Bytes the tightest bound still allows.
    pub free: u64,
    /// That bound, in words ("the memory cgroup /x", "the machine's available memory").
    pub by: String,
}

impl Shortage {
    /// The `OutOfSpace` error about this shortage.
    #[allow(dead_code)]
    pub(crate) fn error(&self) -> Error {
        Error::new(
            crate::ErrorKind::OutOfSpace,
            crate::error::Detail::Shortage {
                asked: self.asked,
                free: self.free,
                by: self.by.clone(),
            },
        )
    }
}

/// The `OutOfSpace` error for a commitment the commit limit refuses, about `what`.
#[allow(dead_code)]
pub(crate) fn shortage_error(
    op: &'static str,
    what: impl Into<String>,
    s: &Shortage,
) -> crate::Error {
    s.error().context(op, what)
}

#[cfg(all(test, not(loom)))]
mod tests {
    #[test]
    fn ranges_outside_a_mapping_are_refused() {
        assert!(super::span(4096, 4000, 96).is_ok());
        assert!(super::span(4096, 0, 0).is_ok());
        let e = super::span(4096, 4000, 97)
            .unwrap_err()
            .context("flush", "o");
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        assert_eq!(
            e.to_string(),
            "cannot flush o: invalid input: the range 4000..4000+97 lies outside a mapping of 4096 \
             bytes"
        );
        assert!(
            super::span(4096, usize::MAX, 2).is_err(),
            "overflow is an error"
        );
    }

    #[test]
    fn sizes_read_in_bytes_and_units() {
        use crate::error::Bytes;
        assert_eq!(Bytes(100).to_string(), "100 bytes");
        assert_eq!(Bytes(3 << 30).to_string(), "3221225472 bytes (3.0 GiB)");
    }
}

/// Checks that `[offset, offset + len)` lies within a mapping of `map_len` bytes: every `RawMap`
/// method that takes a range calls it first, so a caller's mistake is an error, never a system
/// call on memory the mapping does not own.
#[allow(dead_code)] // the fallback backend has no mappings
pub(crate) fn span(map_len: usize, offset: usize, len: usize) -> Result<()> {
    match offset.checked_add(len) {
        Some(end) if end <= map_len => Ok(()),
        _ => Err(Error::new(
            crate::ErrorKind::InvalidInput,
            crate::error::Detail::OutsideMapping {
                offset,
                len,
                map_len,
            },
        )),
    }
}

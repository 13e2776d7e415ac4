//! The platform layer: the only code that calls the operating system.
//!
//! One backend is chosen here, at compile time, by what the system offers:
//!
//! | backend | targets | notification |
//! |---|---|---|
//! | `linux/` | Linux: `named.rs` (objects in `/dev/shm`, built unnamed with `O_TMPFILE` and published with `linkat`), `anonymous.rs` (memfd), `space.rs` (`fallocate`) and `commit_limit.rs`, `map.rs` (`mmap`, `RawMap`) with the `SIGBUS` guards of `fault.rs`, `handover.rs` (inheritance, `SCM_RIGHTS`), `namespace.rs` (`remove`, `list`, `gc`) with `proc_locks.rs` (`flock` holders) | `linux/notify.rs`: a shared futex; `linux/wait_any.rs`: `futex_waitv` for the async waits' threads |
//! | `windows/` | Win32 sections: `named.rs`, `anonymous.rs`, `map.rs` (views, `RawMap`), `handover.rs` (inheritable handles), `namespace.rs`, `section.rs` (`NtQuerySection`), `owner.rs` (the owner check against name squatting) | `windows/notify.rs`: named kernel events |
//! | `posix.rs` | macOS, iOS, FreeBSD, NetBSD, OpenBSD, DragonFly: `shm_open`, `mmap`, `ftruncate`; no handle lifetime, listing or handing over (see its module documentation) | `notify_posix.rs`: polling with a bounded backoff |
//! | `unsupported.rs` | everything else: wasm32, Android, and Unix systems not listed above | `notify_unsupported.rs` |
//!
//! Every backend exports the same names, and the core above uses only those names, with no `cfg`
//! of its own (apart from `Mapping::send`/`receive`, which need `std::os::unix`). An operation a
//! backend cannot do returns [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) with a
//! sentence saying why. CI compiles (and lints) `posix.rs` for macOS and FreeBSD and the fallback
//! for wasm32 and Android (`.ci/targets.sh`); it runs the Linux and Windows backends, and
//! `posix.rs` on Linux (`--cfg mmf_force_posix`), but nothing on macOS or the BSDs.
//!
//! Android has what `linux/` uses (memfd, futexes, `/proc`), but not everything it names:
//! rustix 0.38 and libc offer no `MAP_FIXED_NOREPLACE` for Android, and Android has no
//! `/dev/shm` (named objects would need a directory). Its bionic C library has no `shm_open`, so
//! `posix.rs` does not fit either. Until `linux/` is adapted and tried there, Android gets the
//! fallback: crates that depend on mmf build, and every operation says `Unsupported`.
//!
//! # The contract every backend implements
//!
//! - `page_size() -> usize` and `allocation_granularity() -> usize`: the granularity of view
//!   offsets (4 KiB on Linux, 64 KiB on Windows). The core aligns offsets itself; backends receive
//!   aligned offsets only.
//! - `struct Object`: an open mapping object (a descriptor or a section handle) and what the
//!   backend needs to release it. Dropping it closes the handle; for a named object with
//!   [`Lifetime::Handle`](crate::Lifetime) that was the last holder anywhere, the name goes away.
//!   - `Object::create(&CreateSpec, &mut Init) -> Result<Object>`: a new named object;
//!     `AlreadyExists` if the name is taken. The object is fully sized, committed and passed to
//!     `init` (a throwaway `Object` for the same memory) before any other process can open it by
//!     name. (Windows cannot name a section after creating it: there `init` runs right after
//!     creation, and openers rely on the contents' own ready flag; see `windows/named.rs`.)
//!   - `Object::open(&OpenSpec) -> Result<Object>`: an existing named object; `NotFound` if none.
//!   - `Object::open_or_create(&CreateSpec, &OpenSpec, &mut Init) -> Result<(Object, Disposition)>`:
//!     exactly one caller among any number of racing processes gets `Created`; `init` runs only
//!     for the creator.
//!   - `Object::anonymous(size, commit) -> Result<Object>`: unnamed, memory-backed.
//!   - `Object::from_file(File, size, writable, what) -> Result<Object>`: a file whose length is
//!     already at least `size`.
//!   - `len()`, `grow(new_len)`, `sync_file()`, `lifetime()`, `writable()`, `global()` (the
//!     name is in Windows' `Global\` namespace).
//!   - `fd() -> BorrowedFd` (Linux, POSIX) or `handle() -> BorrowedHandle` (Windows): the
//!     descriptor or section handle, for the public `AsFd`/`AsHandle` (`mapping/os_handle.rs`);
//!     the fallback has neither.
//!   - `unsafe map(offset, len, access, at) -> io::Result<RawMap>`: `offset` is a multiple of
//!     `allocation_granularity()`, `len > 0` and `offset + len <= len()` (checked by the caller).
//!     Unsafe because mapping at a caller-chosen address must not replace an existing mapping: the
//!     backend refuses an occupied range.
//! - `struct RawMap`: a mapped range; dropping it unmaps. `flush(offset, len, wait)` writes dirty
//!   pages back to the object (`msync`, `FlushViewOfFile`). `advise(offset, len, Advice)`,
//!   `populate(offset, len, write)` (prefault, reporting errors instead of faulting),
//!   `lock(offset, len)` / `unlock(offset, len)` (`mlock`, `VirtualLock`). Offsets are page-aligned
//!   (by the caller); every method that takes a range checks it lies within the mapping
//!   ([`span`]) and refuses it otherwise. `as_ptr()` is the first byte. `advise_unchecked(offset,
//!   len, UncheckedAdvice)` is unsafe: it may change the memory's contents.
//! - `RawMap::guard(&self, object, offset, len, f) -> Result<R, Fault>`: runs `f`, which
//!   accesses `len` bytes at `offset` of the mapping (`object` is the object it maps), so that a
//!   page that cannot be provided (the object was truncated under the view, or its file system is
//!   full) makes the access read zeros and the call return a [`Fault`] instead of killing the
//!   process with `SIGBUS`; the mapping is intact afterwards. The range lies inside the mapping
//!   and covers at most 16 pages (`fault::MAX_GUARD_PAGES`); guards nest.
//!   `RawMap::guard_each(&self, object, offset, len, f: FnMut(position, length)) -> Result<(),
//!   Fault>` runs `f` over a range of any size in pieces, each under its own guard, and stops at
//!   the first piece that faulted (positions are offsets into the mapping). Linux:
//!   `linux/fault.rs` (its module documentation has the signal-safety argument). Windows runs `f`
//!   unguarded: a section cannot shrink while a view of it is mapped, and pagefile-backed
//!   sections are committed at creation (or by `MEM_COMMIT`, which fails cleanly). The POSIX
//!   backend runs `f` unguarded too (no recovery yet), and the fallback has no mappings; their
//!   one shared implementation is below.
//! - `Object::shortage(offset, len) -> Option<Shortage>`: what stops `len` more bytes at `offset`
//!   from being backed (the commit limit; Linux: `linux/commit_limit.rs`, elsewhere `None`), and
//!   `commits_on_grow()`: whether `grow` allocates, so the core checks the limit before growing.
//! - `Object::commit_range(offset, len)` / `decommit_range(offset, len)`: back (or stop backing) a
//!   range of the object with memory or disk (`fallocate`, hole punching); `OutOfSpace` at commit
//!   time instead of a fault later. `Object::anonymous_huge(size)`: an anonymous object on huge
//!   pages (`MFD_HUGETLB`), or an error saying why not.
//! - `remove(name, dir)`, `list(dir)`, `gc(dir)`: maintenance of the namespace;
//!   `namespace_dir(dir)`: the directory it resolves to (`None` where names are not files).
//! - Handing an object to another process:
//!   - `Object::inherit(&self, backing, &mut Command) -> Result<Inheritance>`: a handle the child
//!     spawned from `cmd` inherits (on Linux no other child does; on Windows children spawned
//!     meanwhile do too), with `Inheritance::token()`, the text
//!     the child passes to `Object::from_inherited(token) -> Result<(Object, Backing, Option<Name>)>`.
//!     The inherited handle counts as a holder of its own, independent of the parent's.
//!   - Unix only: `Object::send(&self, backing, &UnixStream)` and `Object::receive(&UnixStream)`
//!     (`SCM_RIGHTS`).
//!
//! Errors are built here with [`Error`](crate::Error), naming the object.
//!
//! # Blocking notification (`notify_*.rs`)
//!
//! A second, separate pair of backends provides `struct Notifier`, used by shared values to block
//! in the kernel until a 32-bit word in shared memory changes:
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
#[cfg_attr(all(target_os = "linux", not(mmf_force_posix)), path = "linux/mod.rs")]
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

/// Whether waking a word nobody waits on costs no system call (Windows: a look at the waiter
/// table; POSIX: nothing, waiters poll): writers then wake on every store, and read-only handles
/// are woken without counting themselves. Linux has its own (false).
#[cfg(not(all(target_os = "linux", not(mmf_force_posix))))]
pub(crate) const WAKE_IS_CHEAP: bool = true;

/// No second, writable descriptor is needed where waking is cheap (see `WAKE_IS_CHEAP`).
#[cfg(not(all(target_os = "linux", not(mmf_force_posix))))]
impl imp::Object {
    pub(crate) fn reopen_writable(&self) -> Option<imp::Object> {
        None
    }
}

/// Bumped whenever a page is patched anywhere in the process (see `linux/fault.rs`); always 0
/// where accesses are not guarded (every backend but Linux's, which has its own).
#[cfg(not(all(target_os = "linux", not(mmf_force_posix))))]
pub(crate) fn fault_epoch() -> u64 {
    0
}

/// Guards where there is nothing to catch: Windows sections cannot shrink while a view is mapped,
/// the POSIX backend has no `SIGBUS` recovery yet, and the fallback maps nothing. The accesses run
/// unguarded; Linux's guards are in `linux/fault.rs`.
#[cfg(not(all(target_os = "linux", not(mmf_force_posix))))]
impl imp::RawMap {
    /// Runs `f`, which accesses `len` bytes at `offset` of this mapping of `object`.
    pub(crate) fn guard<R>(
        &self,
        _object: &imp::Object,
        _offset: usize,
        _len: usize,
        f: impl FnOnce() -> R,
    ) -> std::result::Result<R, Fault> {
        Ok(f())
    }

    /// Calls `f` once for the whole range.
    pub(crate) fn guard_each(
        &self,
        _object: &imp::Object,
        offset: usize,
        len: usize,
        mut f: impl FnMut(usize, usize),
    ) -> std::result::Result<(), Fault> {
        if len > 0 {
            f(offset, len);
        }
        Ok(())
    }
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
#[cfg(not(all(target_os = "linux", not(mmf_force_posix))))]
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
    /// The detail of an `OutOfSpace` error about this shortage.
    pub(crate) fn detail(&self) -> String {
        format!(
            "{} cannot be backed: {} has {} left; free some memory or space, or create the object \
             with Commit::Reserve to overcommit on purpose",
            bytes(self.asked),
            self.by,
            bytes(self.free)
        )
    }
}

/// `N bytes` with a binary-unit figure beside it when that reads better.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{} bytes", n);
    }
    let mut v = n as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{} bytes ({:.1} {})", n, v, UNITS[u])
}

/// The `OutOfSpace` error for a commitment the commit limit refuses.
#[allow(dead_code)]
pub(crate) fn shortage_error(
    op: &'static str,
    what: impl Into<String>,
    s: &Shortage,
) -> crate::Error {
    crate::Error::new(crate::ErrorKind::OutOfSpace, op, what, s.detail())
}

#[cfg(all(test, not(loom)))]
mod tests {
    #[test]
    fn ranges_outside_a_mapping_are_refused() {
        assert!(super::span(4096, 4000, 96).is_ok());
        assert!(super::span(4096, 0, 0).is_ok());
        let e = super::span(4096, 4000, 97).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(
            super::span(4096, usize::MAX, 2).is_err(),
            "overflow is an error"
        );
    }

    #[test]
    fn sizes_read_in_bytes_and_units() {
        assert_eq!(super::bytes(100), "100 bytes");
        assert_eq!(super::bytes(3 << 30), "3221225472 bytes (3.0 GiB)");
    }
}

/// Checks that `[offset, offset + len)` lies within a mapping of `map_len` bytes: every `RawMap`
/// method that takes a range calls it first, so a caller's mistake is an error, never a system
/// call on memory the mapping does not own.
#[allow(dead_code)] // the fallback backend has no mappings
pub(crate) fn span(map_len: usize, offset: usize, len: usize) -> std::io::Result<()> {
    match offset.checked_add(len) {
        Some(end) if end <= map_len => Ok(()),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "the range {}..{}+{} lies outside a mapping of {} bytes",
                offset, offset, len, map_len
            ),
        )),
    }
}

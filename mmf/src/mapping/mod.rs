//! Mapping objects: what `CreateFileMapping` and `OpenFileMapping` return, and the options that
//! build them.

mod namespace;
mod options;
mod os_handle;

pub(crate) use os_handle::{cfg_fd, impl_os_handle};

pub use namespace::Namespace;
pub use options::{CreateOptions, FileOptions, OpenOptions};

use crate::sys::contract::*;
use crate::sys::{self, CreateSpec, OpenSpec};
use crate::types::{
    Access, Backing, Commit, Disposition, Lifetime, ObjectInfo, Permissions, Scope,
};
use crate::view::{Chunks, View};
use crate::{Error, ErrorKind, IntoName, Name, Result};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// An open file-mapping object, held by a [`Mapping`] and every [`View`] made from it (its
/// handle's inner state): the last of them to go closes the object.
pub(crate) struct OpenObject {
    pub(crate) sys: sys::Object,
    pub(crate) what: String,
    pub(crate) name: Option<Name>,
    pub(crate) backing: Backing,
}

/// A file-mapping object: named shared memory, an anonymous memory object, or a file.
///
/// Cloning is cheap and shares the same open object. Views made with [`map`](Self::map) and
/// friends keep the object alive after the `Mapping` is dropped, as in Win32 (`CloseHandle` on the
/// mapping does not unmap its views).
///
/// ```
/// use mmf::Mapping;
///
/// fn main() -> Result<(), mmf::Error> {
///     let name = format!("mmf-doc-mapping-{}", std::process::id());
///     let m = Mapping::create(&name, 4096)?;          // CreateFileMapping(INVALID_HANDLE_VALUE, ..)
///     let v = m.map_mut()?;                           // MapViewOfFile(FILE_MAP_ALL_ACCESS)
///     v.write_at(0, b"hello")?;
///
///     let other = Mapping::open(&name)?;              // OpenFileMapping, as a second instance would
///     let mut buf = [0u8; 5];
///     other.map()?.read_at(0, &mut buf)?;
///     assert_eq!(&buf, b"hello");
///     Ok(())
/// }
/// ```
///
/// # Descriptor and handle
///
/// On Linux, macOS and the BSDs a `Mapping` is [`AsFd`](std::os::unix::io::AsFd) and
/// [`AsRawFd`](std::os::unix::io::AsRawFd); on Windows it is
/// [`AsHandle`](https://doc.rust-lang.org/std/os/windows/io/trait.AsHandle.html) and
/// [`AsRawHandle`](https://doc.rust-lang.org/std/os/windows/io/trait.AsRawHandle.html) ([`SharedValue`](crate::SharedValue) and
/// [`Shared`](crate::Shared) forward to theirs). Where mmf has no backend (wasm32) there
/// is neither. It is the object itself, the one every view maps and that
/// [`inherit`](Self::inherit) and [`send`](Self::send) hand over:
///
/// | backing | Linux | macOS, BSDs | Windows |
/// |---|---|---|---|
/// | named | the object's file in the namespace directory (`/dev/shm/NAME`) | the `shm_open` object | the section (file-mapping object) |
/// | anonymous | a `memfd` (sealed against shrinking) | a `shm_open` object whose name is gone | the section |
/// | file | the file's descriptor | the file's descriptor | the section made over the file when it was opened (of the file's size then; views past it, after a growth, map a larger one); an empty file, which Windows cannot map, has none: its file handle |
/// | inherited, received | the descriptor taken over | (not available) | the section |
///
/// Read its status (`fstat`: size, owner, mode), poll it, map it with other code, or hand it to
/// an API that takes a descriptor. It stays owned by the mapping, which closes it when the last
/// `Mapping`, view or value holding the object goes. Do not:
///
/// - close it, or take ownership of the raw number (`OwnedFd::from_raw_fd`, `CloseHandle`);
/// - shrink it (`ftruncate`, `SetEndOfFile`): views of it, in this and other processes, would
///   fault on the lost pages (mmf's own reads report [`Truncated`](crate::ErrorKind::Truncated),
///   other accesses die of `SIGBUS`);
/// - unlock it (`flock`), or change its mode, owner or extended attributes: on Linux a
///   handle-lifetime object counts its holders by shared locks on this descriptor and records its
///   lifetime in the mode and an extended attribute; an unlocked holder does not count, and the
///   name can be removed while the object is in use;
/// - hand a duplicate of it (`dup`, `SCM_RIGHTS`, `fork`) to another process in place of
///   [`inherit`](Self::inherit) or [`send`](Self::send): a duplicate shares this holder's lock
///   instead of being a holder of its own, so the name of a handle-lifetime object can go while
///   the other process still uses it. (On Windows a section lives while any handle to it is open,
///   and `DuplicateHandle` is what `inherit` does.)
///
/// ```
/// # #[cfg(target_os = "linux")]
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     use std::os::unix::io::AsFd;
///     let m = mmf::Mapping::anonymous(8192)?;
///     // A duplicate for this process's own use: fstat of the memfd underneath.
///     let file = std::fs::File::from(m.as_fd().try_clone_to_owned()?);
///     assert_eq!(file.metadata()?.len(), 8192);
///     Ok(())
/// }
/// # #[cfg(not(target_os = "linux"))]
/// # fn main() {}
/// ```
#[must_use = "dropping a mapping closes it; a handle-lifetime object with no other holder is removed at once"]
#[derive(Clone)]
pub struct Mapping {
    pub(crate) object: Arc<OpenObject>,
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping")
            .field("object", &self.object.what)
            .field("backing", &self.object.backing)
            .field("len", &self.len())
            .finish()
    }
}

impl Mapping {
    /// Creates the named object `name` of `size` bytes with the default options (handle lifetime,
    /// owner-only). Fails if the name exists.
    ///
    /// See [`CreateOptions`] for the other choices. Also known as `CreateFileMappingW` and
    /// `shm_open(O_CREAT | O_EXCL)`.
    ///
    /// # Errors
    /// `AlreadyExists`, `InvalidName`, `InvalidInput` (size 0), `OutOfSpace`, `PermissionDenied`.
    #[doc(alias = "CreateFileMappingW")]
    #[doc(alias = "shm_open")]
    pub fn create(name: impl IntoName, size: u64) -> Result<Mapping> {
        CreateOptions::new().size(size).create(name)
    }

    /// Opens the existing named object `name` for reading and writing.
    ///
    /// # Errors
    /// `NotFound` when no object has that name (how a program finds out that it is the first
    /// instance),
    /// `PermissionDenied`, `InvalidName`.
    #[doc(alias = "OpenFileMappingW")]
    pub fn open(name: impl IntoName) -> Result<Mapping> {
        OpenOptions::new().open(name)
    }

    /// Opens `name`, or creates it with `size` bytes if it does not exist, and says which.
    ///
    /// # Errors
    /// As for [`create`](Self::create) and [`open`](Self::open); `SizeMismatch` if the existing
    /// object is smaller than `size`.
    pub fn open_or_create(name: impl IntoName, size: u64) -> Result<(Mapping, Disposition)> {
        CreateOptions::new().size(size).open_or_create(name)
    }

    /// Creates an unnamed memory-backed object of `size` bytes (a memfd on Linux, a pagefile-backed
    /// section on Windows). Share it with another process by handing over its handle.
    ///
    /// # Errors
    /// `InvalidInput` for size 0, `OutOfSpace`.
    pub fn anonymous(size: u64) -> Result<Mapping> {
        if size == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "create",
                "anonymous object",
                "the size must be at least 1 byte",
            ));
        }
        let sys = sys::Object::anonymous(size, true)
            .map_err(|e| e.context("create", "anonymous object"))?;
        Ok(Mapping::from_parts(
            sys,
            "anonymous object".into(),
            None,
            Backing::Anonymous,
        ))
    }

    /// Maps the file at `path` for reading and writing, at its current length. See
    /// [`FileOptions`] to choose the access, create the file or give a larger maximum size.
    ///
    /// # Errors
    /// `NotFound`, `PermissionDenied`, `InvalidInput` (a directory).
    pub fn open_file(path: impl AsRef<Path>) -> Result<Mapping> {
        FileOptions::new().open(path)
    }

    /// An anonymous object on explicit huge pages (`MFD_HUGETLB`, `SEC_LARGE_PAGES`): fewer TLB
    /// misses and much cheaper page faults. `size` must be a multiple of the huge page size (2 MiB
    /// on x86-64), and the system must have huge pages reserved (`vm.nr_hugepages`). For transparent
    /// huge pages on ordinary objects, see [`Advice::HugePage`](crate::Advice::HugePage).
    ///
    /// # Errors
    /// `OutOfSpace` (with the number of reserved pages) when too few huge pages are free,
    /// `InvalidInput` for a size that is not a multiple, `Unsupported` where the kernel has none.
    #[doc(alias = "MFD_HUGETLB")]
    #[doc(alias = "SEC_LARGE_PAGES")]
    pub fn anonymous_huge(size: u64) -> Result<Mapping> {
        let sys = sys::Object::anonymous_huge(size)
            .map_err(|e| e.context("create", "anonymous huge-page object"))?;
        Ok(Mapping::from_parts(
            sys,
            "anonymous huge-page object".into(),
            None,
            Backing::Anonymous,
        ))
    }

    /// Streams through the object one view of `chunk_len` bytes at a time (rounded to the
    /// allocation granularity), each advised `Sequential`; the last view may be shorter, as with
    /// [`slice::chunks`]. Drop each view before taking the next to keep the address space and
    /// resident memory bounded, which is how a file larger than memory (or than the address space)
    /// is read.
    ///
    /// ```
    /// fn main() -> Result<(), mmf::Error> {
    ///     let m = mmf::Mapping::anonymous(10 << 20)?;
    ///     let mut total = 0usize;
    ///     for view in m.chunks(4 << 20, mmf::Access::ReadOnly) {
    ///         let view = view?;
    ///         total += view.len();
    ///     }
    ///     assert_eq!(total, 10 << 20);
    ///     Ok(())
    /// }
    /// ```
    pub fn chunks(&self, chunk_len: usize, access: Access) -> Chunks {
        Chunks::new(self, chunk_len, access)
    }

    pub(crate) fn from_parts(
        sys: sys::Object,
        what: String,
        name: Option<Name>,
        backing: Backing,
    ) -> Mapping {
        Mapping {
            object: Arc::new(OpenObject {
                sys,
                what,
                name,
                backing,
            }),
        }
    }

    /// The current size of the object in bytes. (Another process may grow a named object; the
    /// size is read from the OS each time.)
    pub fn len(&self) -> u64 {
        self.object.sys.len().unwrap_or(0)
    }

    /// `true` when the object has no bytes (only possible for an empty file).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The object's name, for named objects.
    pub fn name(&self) -> Option<&Name> {
        self.object.name.as_ref()
    }

    /// What backs the object.
    pub fn backing(&self) -> Backing {
        self.object.backing
    }

    /// The object's lifetime. Anonymous objects always live while a handle or view exists; a file
    /// outlives its mappings and reports `Persistent`.
    pub fn lifetime(&self) -> Lifetime {
        match self.object.backing {
            Backing::File => Lifetime::Persistent,
            _ => self.object.sys.lifetime(),
        }
    }

    /// Whether this handle may make read-write views.
    pub fn is_writable(&self) -> bool {
        self.object.sys.writable()
    }

    /// A read-only view of the whole object.
    ///
    /// # Errors
    /// As for [`map_range`](Self::map_range).
    #[doc(alias = "MapViewOfFile")]
    pub fn map(&self) -> Result<View> {
        self.map_range(0, 0, Access::ReadOnly)
    }

    /// A read-write view of the whole object.
    ///
    /// # Errors
    /// As for [`map_range`](Self::map_range); `PermissionDenied` if this handle is read-only.
    pub fn map_mut(&self) -> Result<View> {
        self.map_range(0, 0, Access::ReadWrite)
    }

    /// A copy-on-write view of the whole object (`FILE_MAP_COPY`, `MAP_PRIVATE`): writes stay in
    /// this view and never reach the object or the file.
    ///
    /// # Errors
    /// As for [`map_range`](Self::map_range).
    pub fn map_copy(&self) -> Result<View> {
        self.map_range(0, 0, Access::CopyOnWrite)
    }

    /// A view of `len` bytes at `offset` (`len == 0`: to the end of the object). The offset need
    /// not be aligned: alignment to the allocation granularity happens inside.
    ///
    /// # Errors
    /// `OutOfRange` if the range is not inside the object (or overflows), `PermissionDenied` for a
    /// read-write view through a read-only handle, `OutOfSpace` if the address space is exhausted.
    #[doc(alias = "MapViewOfFileEx")]
    #[doc(alias = "mmap")]
    pub fn map_range(&self, offset: u64, len: usize, access: Access) -> Result<View> {
        View::new(self, offset, len, access, None)
    }

    /// Grows the object (named, anonymous, or a file) to `new_len` bytes, committing the new
    /// memory first (an `OutOfSpace` error leaves the size unchanged). Never shrinks: a smaller
    /// `new_len` does nothing, so views held anywhere stay valid. Existing views keep their
    /// length; map again to see the new bytes.
    ///
    /// # Errors
    /// `OutOfSpace`; `PermissionDenied` through a read-only handle; `Unsupported` on Windows for a
    /// pagefile-backed section (a named or anonymous object), which cannot grow, except a shared
    /// value's (which reserves room for growth: past it, `OutOfSpace`). Files, persistent objects
    /// included, grow on Windows too.
    pub fn grow(&self, new_len: u64) -> Result<()> {
        self.grow_as(new_len, true, u64::MAX)
    }

    /// [`grow`](Self::grow) for a writer that fills the new space only through the object's
    /// handle (`sys::Object::write_through`, which allocates as it writes and reports a full
    /// file system as an error): the space is not committed where the platform allows that
    /// (Linux), and only its first `check` bytes are checked against the commit limit there (a
    /// writer of unknown length grows ahead of what it will write); elsewhere it is committed
    /// and checked as usual.
    pub(crate) fn grow_for_writes_through(&self, new_len: u64, check: u64) -> Result<()> {
        self.grow_as(new_len, false, check)
    }

    fn grow_as(&self, new_len: u64, commit: bool, check: u64) -> Result<()> {
        if !self.is_writable() {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "grow",
                self.object.what.clone(),
                "this handle is read-only",
            ));
        }
        let sys = &self.object.sys;
        let cur = self.len();
        if sys.commits_on_grow() && new_len > cur {
            let growth = new_len - cur;
            let checked = if commit || !sys::WRITES_THROUGH {
                growth
            } else {
                growth.min(check)
            };
            if let Some(short) = sys.shortage(cur, checked) {
                return Err(sys::shortage_error(
                    "grow",
                    self.object.what.clone(),
                    &short,
                ));
            }
        }
        let grown = if commit {
            sys.grow(new_len)
        } else {
            sys.grow_uncommitted(new_len)
        };
        grown.map_err(|e| e.context("grow", self.object.what.clone()))
    }

    /// Lets the child process spawned from `cmd` inherit this object (`bInheritHandle`).
    ///
    /// Returns a token: pass it to the child (an argument or an environment variable) and call
    /// [`Mapping::from_inherited`] with it there. Keep the returned [`Inheritance`] until `cmd` has
    /// been spawned. Objects are never inherited by default (close-on-exec), and only `cmd`'s
    /// child gets this one, not children other threads spawn meanwhile (on Linux; on Windows, whose
    /// `Command` cannot restrict inheritance, any child spawned while the `Inheritance` lives gets
    /// it too). Taking the same token over twice is refused, and on Linux so is taking it over in the
    /// parent. The child is a holder of
    /// its own: a handle-lifetime object lives while the parent or the child has it.
    ///
    /// ```no_run
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let m = mmf::Mapping::anonymous(4096)?;
    ///     let mut cmd = std::process::Command::new("child-program");
    ///     let handle = m.inherit(&mut cmd)?;
    ///     cmd.env("MMF_HANDLE", handle.token());
    ///     let child = cmd.spawn()?;
    ///     drop(handle);
    ///     // In the child: let m = mmf::Mapping::from_inherited(&std::env::var("MMF_HANDLE")?)?;
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    /// An OS error if the handle cannot be duplicated.
    #[doc(alias = "bInheritHandle")]
    #[doc(alias = "DuplicateHandle")]
    pub fn inherit(&self, cmd: &mut std::process::Command) -> Result<Inheritance> {
        let inner = self
            .object
            .sys
            .inherit(self.object.backing, cmd)
            .map_err(|e| e.context("hand over", self.object.what.clone()))?;
        Ok(Inheritance { inner })
    }

    /// In a child process, takes over the object whose token the parent got from
    /// [`inherit`](Self::inherit).
    ///
    /// # Errors
    /// `InvalidInput` for a malformed token, `NotFound` if the handle was not inherited.
    pub fn from_inherited(token: &str) -> Result<Mapping> {
        let (sys, backing, name) = sys::Object::from_inherited(token)
            .map_err(|e| e.context("take over", format!("inherited handle {:?}", token)))?;
        Ok(Mapping::from_handed_over(sys, backing, name))
    }

    fn from_handed_over(sys: sys::Object, backing: Backing, name: Option<Name>) -> Mapping {
        let what = match (&name, backing) {
            (Some(n), _) => n.describe(),
            (None, Backing::Anonymous) => "anonymous object".to_owned(),
            (None, _) => "handed-over object".to_owned(),
        };
        Mapping::from_parts(sys, what, name, backing)
    }

    /// Sends this object to the process at the other end of a Unix socket (`SCM_RIGHTS`); it calls
    /// [`receive`](Self::receive). Works for every backing, anonymous objects included. Linux only
    /// (`Unsupported` on macOS and the BSDs, where it is not implemented yet).
    ///
    /// # Errors
    /// An OS error from `sendmsg`.
    #[cfg(unix)]
    pub fn send(&self, sock: &std::os::unix::net::UnixStream) -> Result<()> {
        self.object
            .sys
            .send(self.object.backing, sock)
            .map_err(|e| e.context("send", self.object.what.clone()))
    }

    /// Receives an object sent with [`send`](Self::send). Linux only (`Unsupported` on macOS and
    /// the BSDs).
    ///
    /// # Errors
    /// `InvalidInput` if the message is not an mmf object; an OS error from `recvmsg`.
    #[cfg(unix)]
    pub fn receive(sock: &std::os::unix::net::UnixStream) -> Result<Mapping> {
        let (sys, backing, name) = sys::Object::receive(sock)
            .map_err(|e| e.context("receive", "object received over a socket"))?;
        Ok(Mapping::from_handed_over(sys, backing, name))
    }

    pub(crate) fn describe(&self) -> &str {
        &self.object.what
    }
}

/// A handle kept open for a child process to inherit; see [`Mapping::inherit`]. Drop it after
/// spawning.
#[must_use = "keep the inheritance until the child is spawned, or the child inherits nothing"]
pub struct Inheritance {
    inner: sys::Inheritance,
}

impl Inheritance {
    /// The text to hand to the child, for [`Mapping::from_inherited`].
    pub fn token(&self) -> &str {
        self.inner.token()
    }
}

impl std::fmt::Debug for Inheritance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inheritance")
            .field("token", &self.token())
            .finish()
    }
}

/// The size of a page: the granularity of protection and of flushing.
pub fn page_size() -> usize {
    sys::page_size()
}

/// The granularity of view offsets: the page size on Linux, 64 KiB on Windows. mmf aligns offsets
/// itself, so this is for information only.
#[doc(alias = "dwAllocationGranularity")]
pub fn allocation_granularity() -> usize {
    sys::allocation_granularity()
}

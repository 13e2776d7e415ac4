//! Mapping objects: what `CreateFileMapping` and `OpenFileMapping` return, and the options that
//! build them.

use crate::sys::{self, CreateSpec, OpenSpec};
use crate::view::View;
use crate::{Access, Error, ErrorKind, IntoName, Name, Result};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long a named object lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifetime {
    /// As on Windows: the object exists while any handle or view of it is open in any process, and
    /// its name goes away with the last one, also when the holders are killed. After a crash of
    /// every holder the name is removed by the next create, open, [`Namespace::list`] or
    /// [`Namespace::gc`] that meets it; it is never removed while a live process holds it.
    /// Linux and Windows; on macOS and the BSDs creating such an object is
    /// [`ErrorKind::Unsupported`] (their shared memory cannot be locked to count holders).
    Handle,
    /// As POSIX shared memory: the object stays until [`Namespace::remove`] (or `shm_unlink`).
    /// Objects created by other programs (C `shm_open`, Python) are treated as persistent.
    /// Linux, macOS and the BSDs; [`ErrorKind::Unsupported`] on Windows.
    Persistent,
}

/// Whether [`CreateOptions::open_or_create`] created the object or opened an existing one (the
/// `ERROR_ALREADY_EXISTS` case of `CreateFileMapping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// This call created the object.
    Created,
    /// The object existed; this call opened it.
    Opened,
}

/// What backs a mapping object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backing {
    /// A named memory-backed object (the paging-file case of `CreateFileMapping`).
    Named,
    /// An unnamed memory-backed object, shared by handing its handle to another process.
    Anonymous,
    /// A file on disk.
    File,
}

/// Who may open a named object, as Unix permission bits. The default is owner-only (`0600`).
///
/// The mode is applied exactly, not filtered through the umask. On Windows only the default is
/// available (the creator's default security descriptor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Permissions(u32);

impl Permissions {
    /// `0600`: the owner reads and writes; nobody else has access.
    pub const OWNER_ONLY: Permissions = Permissions(0o600);
    /// `0640`: the owner reads and writes; the group reads.
    pub const GROUP_READ: Permissions = Permissions(0o640);
    /// `0660`: the owner and the group read and write.
    pub const GROUP_READ_WRITE: Permissions = Permissions(0o660);
    /// `0644`: the owner reads and writes; everyone reads.
    pub const EVERYONE_READ: Permissions = Permissions(0o644);
    /// `0666`: everyone reads and writes.
    pub const EVERYONE_READ_WRITE: Permissions = Permissions(0o666);

    /// Any mode; only the read and write bits (`0o666`) are kept.
    pub fn from_mode(mode: u32) -> Permissions {
        Permissions(mode & 0o666)
    }

    /// The permission bits.
    pub fn mode(self) -> u32 {
        self.0
    }
}

impl Default for Permissions {
    fn default() -> Permissions {
        Permissions::OWNER_ONLY
    }
}

/// The state shared by a [`Mapping`] and every [`View`] made from it: the last of them to go
/// closes the object.
pub(crate) struct Shared {
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
/// # let name = format!("mmf-doc-mapping-{}", std::process::id());
/// let m = Mapping::create(&name, 4096)?;          // CreateFileMapping(INVALID_HANDLE_VALUE, ..)
/// let v = m.map_mut()?;                           // MapViewOfFile(FILE_MAP_ALL_ACCESS)
/// v.write_at(0, b"hello")?;
///
/// let other = Mapping::open(&name)?;              // OpenFileMapping, as a second instance would
/// let mut buf = [0u8; 5];
/// other.map()?.read_at(0, &mut buf)?;
/// assert_eq!(&buf, b"hello");
/// # Ok::<(), mmf::Error>(())
/// ```
#[derive(Clone)]
pub struct Mapping {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping")
            .field("object", &self.shared.what)
            .field("backing", &self.shared.backing)
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
    /// `NotFound` when no object has that name (the seed's "first instance" test),
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
        let sys = sys::Object::anonymous(size, true)?;
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
        let sys = sys::Object::anonymous_huge(size)?;
        Ok(Mapping::from_parts(
            sys,
            "anonymous huge-page object".into(),
            None,
            Backing::Anonymous,
        ))
    }

    /// Streams through the object one view of `window` bytes at a time (rounded to the allocation
    /// granularity), each advised `Sequential`. Drop each view before taking the next to keep the
    /// address space and resident memory bounded, which is how a file larger than memory (or than
    /// the address space) is read.
    ///
    /// ```
    /// # let m = mmf::Mapping::anonymous(10 << 20)?;
    /// let mut total = 0usize;
    /// for view in m.windows(4 << 20, mmf::Access::ReadOnly) {
    ///     let view = view?;
    ///     total += view.len();
    /// }
    /// assert_eq!(total, 10 << 20);
    /// # Ok::<(), mmf::Error>(())
    /// ```
    pub fn windows(&self, window: usize, access: Access) -> crate::view::Windows {
        crate::view::Windows::new(self, window, access)
    }

    pub(crate) fn from_parts(
        sys: sys::Object,
        what: String,
        name: Option<Name>,
        backing: Backing,
    ) -> Mapping {
        Mapping {
            shared: Arc::new(Shared {
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
        self.shared.sys.len().unwrap_or(0)
    }

    /// `true` when the object has no bytes (only possible for an empty file).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The object's name, for named objects.
    pub fn name(&self) -> Option<&Name> {
        self.shared.name.as_ref()
    }

    /// What backs the object.
    pub fn backing(&self) -> Backing {
        self.shared.backing
    }

    /// The object's lifetime. Anonymous objects always live while a handle or view exists; a file
    /// outlives its mappings and reports `Persistent`.
    pub fn lifetime(&self) -> Lifetime {
        match self.shared.backing {
            Backing::File => Lifetime::Persistent,
            _ => self.shared.sys.lifetime(),
        }
    }

    /// Whether this handle may make read-write views.
    pub fn is_writable(&self) -> bool {
        self.shared.sys.writable()
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

    /// Grows a named or anonymous object to `new_len` bytes, committing the new memory first (an
    /// `OutOfSpace` error leaves the size unchanged). Never shrinks: a smaller `new_len` does
    /// nothing, so views held anywhere stay valid. Existing views keep their length; map again to
    /// see the new bytes.
    ///
    /// # Errors
    /// `OutOfSpace`; `PermissionDenied` through a read-only handle; `Unsupported` on Windows, where
    /// sections cannot grow.
    pub fn grow(&self, new_len: u64) -> Result<()> {
        if !self.is_writable() {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "grow",
                self.shared.what.clone(),
                "this handle is read-only",
            ));
        }
        let sys = &self.shared.sys;
        let cur = self.len();
        if sys.commits_on_grow() && new_len > cur {
            if let Some(short) = sys.shortage(cur, new_len - cur) {
                return Err(sys::shortage_error(
                    "grow",
                    self.shared.what.clone(),
                    &short,
                ));
            }
        }
        sys.grow(new_len)
            .map_err(|e| Error::os("grow", self.shared.what.clone(), e))
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
    /// # let m = mmf::Mapping::anonymous(4096)?;
    /// let mut cmd = std::process::Command::new("child-program");
    /// let handle = m.inherit(&mut cmd)?;
    /// cmd.env("MMF_HANDLE", handle.token());
    /// let child = cmd.spawn()?;
    /// drop(handle);
    /// // In the child: let m = mmf::Mapping::from_inherited(&std::env::var("MMF_HANDLE")?)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// An OS error if the handle cannot be duplicated.
    #[doc(alias = "bInheritHandle")]
    #[doc(alias = "DuplicateHandle")]
    pub fn inherit(&self, cmd: &mut std::process::Command) -> Result<Inheritance> {
        let inner = self
            .shared
            .sys
            .inherit(self.shared.backing, cmd, &self.shared.what)?;
        Ok(Inheritance { inner })
    }

    /// In a child process, takes over the object whose token the parent got from
    /// [`inherit`](Self::inherit).
    ///
    /// # Errors
    /// `InvalidInput` for a malformed token, `NotFound` if the handle was not inherited.
    pub fn from_inherited(token: &str) -> Result<Mapping> {
        let (sys, backing, name) = sys::Object::from_inherited(token)?;
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
        self.shared
            .sys
            .send(self.shared.backing, sock, &self.shared.what)
    }

    /// Receives an object sent with [`send`](Self::send). Linux only (`Unsupported` on macOS and
    /// the BSDs).
    ///
    /// # Errors
    /// `InvalidInput` if the message is not an mmf object; an OS error from `recvmsg`.
    #[cfg(unix)]
    pub fn receive(sock: &std::os::unix::net::UnixStream) -> Result<Mapping> {
        let (sys, backing, name) = sys::Object::receive(sock)?;
        Ok(Mapping::from_handed_over(sys, backing, name))
    }

    pub(crate) fn describe(&self) -> &str {
        &self.shared.what
    }
}

/// A handle kept open for a child process to inherit; see [`Mapping::inherit`]. Drop it after
/// spawning.
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

/// Options for creating a named object (and for [`open_or_create`](Self::open_or_create)).
///
/// ```
/// use mmf::{CreateOptions, Disposition, Lifetime, Permissions};
/// # let name = format!("mmf-doc-create-{}", std::process::id());
/// let (m, how) = CreateOptions::new()
///     .size(4096)
///     .lifetime(Lifetime::Handle)
///     .permissions(Permissions::OWNER_ONLY)
///     .open_or_create(&name)?;
/// assert_eq!(how, Disposition::Created);
/// assert_eq!(m.len(), 4096);
/// # Ok::<(), mmf::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct CreateOptions {
    size: u64,
    lifetime: Lifetime,
    permissions: Permissions,
    commit: bool,
    open: OpenOptions,
}

impl Default for CreateOptions {
    fn default() -> CreateOptions {
        CreateOptions::new()
    }
}

impl CreateOptions {
    /// Defaults: size 4096, handle lifetime, owner-only, memory committed at creation.
    pub fn new() -> CreateOptions {
        CreateOptions {
            size: 4096,
            lifetime: Lifetime::Handle,
            permissions: Permissions::OWNER_ONLY,
            commit: true,
            open: OpenOptions::new(),
        }
    }

    /// The size in bytes (at least 1).
    pub fn size(&mut self, size: u64) -> &mut Self {
        self.size = size;
        self
    }

    /// How long the object lives; see [`Lifetime`].
    pub fn lifetime(&mut self, lifetime: Lifetime) -> &mut Self {
        self.lifetime = lifetime;
        self
    }

    /// Who may open the object.
    pub fn permissions(&mut self, permissions: Permissions) -> &mut Self {
        self.permissions = permissions;
        self
    }

    /// Whether to commit the memory at creation (default `true`): a full `/dev/shm` is then an
    /// `OutOfSpace` error now instead of a `SIGBUS` at first touch.
    pub fn commit(&mut self, commit: bool) -> &mut Self {
        self.commit = commit;
        self
    }

    /// The directory that holds named objects (Linux; default `$MMF_DIR`, else `/dev/shm`). On
    /// Windows a directory other than the default is `Unsupported`.
    pub fn dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.open.dir(dir);
        self
    }

    /// Windows: create the name in the `Global\` namespace instead of `Local\`. Ignored on Linux,
    /// where the shared-memory directory is system-wide.
    pub fn global(&mut self, global: bool) -> &mut Self {
        self.open.global(global);
        self
    }

    /// For [`open_or_create`](Self::open_or_create): accept an existing object that belongs to
    /// another user (default: refuse, as protection against name squatting).
    pub fn allow_other_owner(&mut self, allow: bool) -> &mut Self {
        self.open.allow_other_owner(allow);
        self
    }

    fn spec<'a>(&'a self, name: &'a Name) -> Result<CreateSpec<'a>> {
        if self.size == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "create",
                name.describe(),
                "the size must be at least 1 byte",
            ));
        }
        Ok(CreateSpec {
            name,
            size: self.size,
            lifetime: self.lifetime,
            permissions: self.permissions,
            dir: self.open.dir.as_deref(),
            commit: self.commit,
            global: self.open.global,
        })
    }

    /// Creates the named object; fails with `AlreadyExists` if the name is taken (it never adopts
    /// an object someone else created first).
    ///
    /// # Errors
    /// `AlreadyExists`, `InvalidName`, `InvalidInput`, `OutOfSpace`, `PermissionDenied`,
    /// `NotFound` (the directory is missing), `Unsupported`.
    #[doc(alias = "CreateFileMappingW")]
    pub fn create(&self, name: impl IntoName) -> Result<Mapping> {
        self.create_with(name, |_| Ok(()))
    }

    /// Creates the named object and runs `init` on a read-write view of it *before* the object
    /// gets its name, so no other process can ever see it uninitialised (Linux; on Windows `init`
    /// runs right after creation, see the platform notes in the README).
    ///
    /// ```
    /// # let name = format!("mmf-doc-create-with-{}", std::process::id());
    /// let m = mmf::CreateOptions::new().size(64).create_with(&name, |v| v.write_at(0, b"READY"))?;
    /// assert_eq!(m.map()?.read_vec(0, 5)?, b"READY");
    /// # Ok::<(), mmf::Error>(())
    /// ```
    ///
    /// # Errors
    /// As for [`create`](Self::create), and whatever `init` returns (the object is then not
    /// created).
    pub fn create_with(
        &self,
        name: impl IntoName,
        init: impl FnOnce(&View) -> Result<()>,
    ) -> Result<Mapping> {
        let name = name.into_name()?;
        let mut hook = init_hook(&name, init);
        let sys = sys::Object::create(&self.spec(&name)?, &mut hook)?;
        drop(hook);
        Ok(Mapping::from_parts(
            sys,
            name.describe(),
            Some(name),
            Backing::Named,
        ))
    }

    /// Opens the named object if it exists, otherwise creates it; exactly one of any number of
    /// racing processes gets [`Disposition::Created`], and no opener ever sees a half-created
    /// object. An existing object keeps its size; if it is smaller than the requested size the
    /// result is `SizeMismatch`.
    ///
    /// # Errors
    /// As for [`create`](Self::create) and [`OpenOptions::open`], and `SizeMismatch`.
    pub fn open_or_create(&self, name: impl IntoName) -> Result<(Mapping, Disposition)> {
        self.open_or_create_with(name, |_| Ok(()))
    }

    /// [`open_or_create`](Self::open_or_create), where the creator runs `init` on the object
    /// before any opener can see it (see [`create_with`](Self::create_with)). Openers never run
    /// `init` and never see the object without it.
    ///
    /// # Errors
    /// As for [`open_or_create`](Self::open_or_create), and whatever `init` returns.
    pub fn open_or_create_with(
        &self,
        name: impl IntoName,
        init: impl FnOnce(&View) -> Result<()>,
    ) -> Result<(Mapping, Disposition)> {
        let name = name.into_name()?;
        let spec = self.spec(&name)?;
        let open = self.open.spec(&name);
        let mut hook = init_hook(&name, init);
        let (sys, disposition) = sys::Object::open_or_create(&spec, &open, &mut hook)?;
        drop(hook);
        let m = Mapping::from_parts(sys, name.describe(), Some(name), Backing::Named);
        if disposition == Disposition::Opened {
            check_min_size(&m, "open", self.size)?;
        }
        Ok((m, disposition))
    }
}

/// Adapts a creator's `init(&View)` to the platform layer's hook, which receives the new object.
fn init_hook<'a>(
    name: &'a Name,
    init: impl FnOnce(&View) -> Result<()> + 'a,
) -> impl FnMut(sys::Object) -> Result<()> + 'a {
    let mut init = Some(init);
    move |obj| match init.take() {
        Some(f) => {
            let m = Mapping::from_parts(obj, name.describe(), Some(name.clone()), Backing::Named);
            let v = m.map_mut()?;
            f(&v)
        }
        None => Ok(()),
    }
}

fn check_min_size(m: &Mapping, op: &'static str, want: u64) -> Result<()> {
    if want == 0 {
        return Ok(());
    }
    let have = m.len();
    if have < want {
        return Err(Error::new(
            ErrorKind::SizeMismatch,
            op,
            m.describe().to_owned(),
            format!(
                "it exists with {} bytes, fewer than the {} requested; the existing size wins, so \
                 ask for at most {} or remove the object first",
                have, want, have
            ),
        ));
    }
    Ok(())
}

/// Options for opening an existing named object.
///
/// ```
/// use mmf::{ErrorKind, OpenOptions};
/// let err = OpenOptions::new().writable(false).open("mmf-doc-no-such-object").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NotFound);
/// ```
#[derive(Debug, Clone)]
pub struct OpenOptions {
    writable: bool,
    min_size: u64,
    dir: Option<PathBuf>,
    allow_other_owner: bool,
    lock_timeout: Duration,
    global: bool,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// Defaults: read-write, any size, the default directory, own objects only.
    pub fn new() -> OpenOptions {
        OpenOptions {
            writable: true,
            min_size: 0,
            dir: None,
            allow_other_owner: false,
            lock_timeout: Duration::from_secs(5),
            global: false,
        }
    }

    /// Open for writing too (default `true`). A read-only handle can still make read-only and
    /// copy-on-write views.
    pub fn writable(&mut self, writable: bool) -> &mut Self {
        self.writable = writable;
        self
    }

    /// Require the object to have at least `size` bytes; a smaller one is `SizeMismatch`.
    pub fn min_size(&mut self, size: u64) -> &mut Self {
        self.min_size = size;
        self
    }

    /// The directory that holds named objects (Linux; default `$MMF_DIR`, else `/dev/shm`).
    pub fn dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.dir = Some(dir.into());
        self
    }

    /// Accept an object owned by another user (default: refuse with `PermissionDenied`).
    pub fn allow_other_owner(&mut self, allow: bool) -> &mut Self {
        self.allow_other_owner = allow;
        self
    }

    /// Windows: open in the `Global\` namespace. Ignored on Linux.
    pub fn global(&mut self, global: bool) -> &mut Self {
        self.global = global;
        self
    }

    fn spec<'a>(&'a self, name: &'a Name) -> OpenSpec<'a> {
        OpenSpec {
            name,
            writable: self.writable,
            dir: self.dir.as_deref(),
            allow_other_owner: self.allow_other_owner,
            lock_timeout: self.lock_timeout,
            global: self.global,
        }
    }

    /// Opens the named object.
    ///
    /// # Errors
    /// `NotFound`, `PermissionDenied` (including another user's object unless allowed),
    /// `SizeMismatch`, `InvalidName`, `InvalidInput` (not a regular file), `Busy`.
    #[doc(alias = "OpenFileMappingW")]
    pub fn open(&self, name: impl IntoName) -> Result<Mapping> {
        let name = name.into_name()?;
        let sys = sys::Object::open(&self.spec(&name))?;
        let m = Mapping::from_parts(sys, name.describe(), Some(name), Backing::Named);
        check_min_size(&m, "open", self.min_size)?;
        Ok(m)
    }
}

/// Options for mapping a file (`CreateFile` + `CreateFileMapping`).
///
/// ```
/// use mmf::FileOptions;
/// let path = std::env::temp_dir().join(format!("mmf-doc-file-{}", std::process::id()));
/// let m = FileOptions::new().create(true).max_size(8192).open(&path)?;
/// assert_eq!(m.len(), 8192); // the file grew to the maximum size, as in Win32
/// m.map_mut()?.write_at(8000, b"tail")?;
/// # drop(m); std::fs::remove_file(&path).unwrap();
/// # Ok::<(), mmf::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct FileOptions {
    read_only: bool,
    create: bool,
    max_size: Option<u64>,
}

impl FileOptions {
    /// Defaults: read-write, the file must exist, size = the file's length.
    pub fn new() -> FileOptions {
        FileOptions::default()
    }

    /// Open the file read-only (default: read-write). Read-only and copy-on-write views work.
    pub fn read_only(&mut self, read_only: bool) -> &mut Self {
        self.read_only = read_only;
        self
    }

    /// Create the file if it does not exist.
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.create = create;
        self
    }

    /// The object's size: a size larger than the file grows the file to it (sparse where the
    /// filesystem allows); a smaller one is ignored (the file is never truncated).
    pub fn max_size(&mut self, size: u64) -> &mut Self {
        self.max_size = Some(size);
        self
    }

    /// Opens (or creates) the file and makes a mapping object of it.
    ///
    /// # Errors
    /// `NotFound`, `PermissionDenied` (including growing a read-only file), `InvalidInput` (a
    /// directory or special file), `OutOfSpace`.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Mapping> {
        let path = path.as_ref();
        let what = format!("file {:?}", path.display().to_string());
        let md = std::fs::metadata(path);
        if let Ok(md) = &md {
            if !md.is_file() {
                let kind = if md.is_dir() {
                    "a directory"
                } else {
                    "not a regular file"
                };
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "map",
                    what,
                    format!("it is {}; only regular files can be mapped", kind),
                ));
            }
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(!self.read_only)
            .create(self.create && !self.read_only)
            .open(path)
            .map_err(|e| Error::os("open", what.clone(), e))?;
        self.open_inner(file, what)
    }

    /// Makes a mapping object of an open file. The file's access mode must match
    /// [`read_only`](Self::read_only).
    ///
    /// # Errors
    /// As for [`open`](Self::open).
    pub fn map_file(&self, file: File) -> Result<Mapping> {
        self.open_inner(file, "file".to_owned())
    }

    fn open_inner(&self, file: File, what: String) -> Result<Mapping> {
        let md = file
            .metadata()
            .map_err(|e| Error::os("map", what.clone(), e))?;
        if !md.is_file() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "map",
                what,
                "only regular files can be mapped",
            ));
        }
        let mut size = md.len();
        if let Some(max) = self.max_size {
            if max > size {
                if self.read_only {
                    return Err(Error::new(
                        ErrorKind::PermissionDenied,
                        "map",
                        what,
                        format!(
                            "the maximum size {} is larger than the file ({} bytes), which a \
                             read-only mapping cannot grow",
                            max, size
                        ),
                    ));
                }
                file.set_len(max)
                    .map_err(|e| Error::os("grow", what.clone(), e))?;
                size = max;
            }
        }
        let sys = sys::Object::from_file(file, size, !self.read_only, &what)?;
        Ok(Mapping::from_parts(sys, what, None, Backing::File))
    }
}

/// What [`Namespace::list`] reports about one named object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// The name, as `shm_open` would take it without the leading `/`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// The owner's user id.
    pub owner_uid: u32,
    /// Permission bits.
    pub mode: u32,
    /// The lifetime mmf gave it; `None` for objects made by other programs (treated as persistent).
    pub lifetime: Option<Lifetime>,
    /// Open handles holding it (processes may hold more than one); `None` where it cannot be read.
    ///
    /// On Linux this is read from `/proc/locks`, which the kernel can only hand over consistently
    /// in one `read` of at most a page (about 80 locks on the whole machine); mmf retries until it
    /// gets such a read. On a machine with more locks than that, while other processes lock and
    /// unlock, the count is approximate (never 0 for an object that is held).
    pub holders: Option<usize>,
    /// The processes holding it, where visible.
    pub holder_pids: Vec<u32>,
    pub(crate) magic: [u8; 8],
}

impl ObjectInfo {
    /// Whether the object holds an mmf shared value (rather than plain bytes).
    pub fn is_value(&self) -> bool {
        self.magic == crate::value::MAGIC
    }
}

/// The place named objects live: `/dev/shm` (or `$MMF_DIR`) by default, or any directory on
/// Linux. Listing, garbage collection and removal.
///
/// ```
/// let ns = mmf::Namespace::default();
/// for obj in ns.list()? {
///     println!("{} {} bytes", obj.name, obj.size);
/// }
/// # Ok::<(), mmf::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Namespace {
    dir: Option<PathBuf>,
}

impl Namespace {
    /// The namespace in directory `dir` (Linux).
    pub fn at(dir: impl Into<PathBuf>) -> Namespace {
        Namespace {
            dir: Some(dir.into()),
        }
    }

    /// The directory this namespace resolves to: the one given to [`at`](Self::at), else
    /// `$MMF_DIR`, else `/dev/shm`. `None` on Windows, where names are not files.
    pub fn dir(&self) -> Option<PathBuf> {
        sys::namespace_dir(self.dir.as_deref())
    }

    /// Every named object, sorted by name. Handle-lifetime objects whose holders are all gone are
    /// removed on the way and not listed.
    ///
    /// # Errors
    /// `NotFound` if the directory is missing; `Unsupported` on Windows (sections cannot be
    /// enumerated through the Win32 API).
    pub fn list(&self) -> Result<Vec<ObjectInfo>> {
        sys::list(self.dir.as_deref())
    }

    /// Removes handle-lifetime objects whose holders are all gone, and temporary files left by
    /// creators that died midway. Returns the names removed.
    ///
    /// # Errors
    /// As for [`list`](Self::list).
    pub fn gc(&self) -> Result<Vec<String>> {
        sys::gc(self.dir.as_deref())
    }

    /// Removes the name (`shm_unlink`). Processes that have the object open keep using it; new
    /// opens get `NotFound`.
    ///
    /// # Errors
    /// `NotFound`, `PermissionDenied`, `InvalidName`.
    #[doc(alias = "shm_unlink")]
    pub fn remove(&self, name: impl IntoName) -> Result<()> {
        let name = name.into_name()?;
        sys::remove(&name, self.dir.as_deref())
    }
}

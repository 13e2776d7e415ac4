//! The builders that create and open mapping objects: named (`CreateFileMapping`,
//! `OpenFileMapping`) and file-backed (`CreateFile` + `CreateFileMapping`).

use super::*;
use crate::sys::contract::*;

/// Options for creating a named object (and for [`open_or_create`](Self::open_or_create)).
///
/// ```
/// use mmf::{CreateOptions, Disposition, Lifetime, Permissions};
///
/// fn main() -> Result<(), mmf::Error> {
///     let name = format!("mmf-doc-create-{}", std::process::id());
///     let (m, how) = CreateOptions::new()
///         .size(4096)
///         .lifetime(Lifetime::Handle)
///         .permissions(Permissions::OWNER_ONLY)
///         .open_or_create(&name)?;
///     assert_eq!(how, Disposition::Created);
///     assert_eq!(m.len(), 4096);
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CreateOptions {
    size: u64,
    lifetime: Lifetime,
    permissions: Permissions,
    commit: Commit,
    open: OpenOptions,
    /// Room for growth where objects normally have a fixed size (Windows); see
    /// `CreateSpec::growable`.
    growable: bool,
}

impl Default for CreateOptions {
    fn default() -> CreateOptions {
        CreateOptions::new()
    }
}

impl CreateOptions {
    /// Defaults: size 4096, handle lifetime, owner-only, memory committed at creation.
    #[must_use]
    pub fn new() -> CreateOptions {
        CreateOptions {
            size: 4096,
            lifetime: Lifetime::Handle,
            permissions: Permissions::OWNER_ONLY,
            commit: Commit::Now,
            open: OpenOptions::new(),
            growable: false,
        }
    }

    /// Asks for an object that can grow where objects normally have a fixed size (Windows
    /// sections; see `sys/windows/grow.rs`). Shared values use it.
    pub(crate) fn growable(&mut self, growable: bool) -> &mut Self {
        self.growable = growable;
        self
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

    /// Who may open the object (default owner-only): the mode bits on Unix, a DACL on Windows
    /// (see [`Permissions`]).
    pub fn permissions(&mut self, permissions: Permissions) -> &mut Self {
        self.permissions = permissions;
        self
    }

    /// When the memory is committed (default [`Commit::Now`]: a full `/dev/shm` is then an
    /// `OutOfSpace` error now instead of a `SIGBUS` at first touch). [`Commit::Reserve`] only
    /// reserves the size; views then commit what they use with [`View::commit`].
    #[doc(alias = "SEC_COMMIT")]
    #[doc(alias = "SEC_RESERVE")]
    pub fn commit(&mut self, commit: Commit) -> &mut Self {
        self.commit = commit;
        self
    }

    /// The directory that holds named objects (Linux; default `$MMF_DIR`, else `/dev/shm`). On
    /// Windows, the directory of persistent objects (default `%MMF_DIR%`, else
    /// `%LOCALAPPDATA%\mmf`; see [`Namespace`]); handle-lifetime objects are sections in
    /// `Local\`, whatever the directory.
    pub fn dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.open.dir(dir);
        self
    }

    /// Windows: the namespace the name is created in (default [`Scope::Local`]). Ignored on
    /// Linux, where the shared-memory directory is system-wide.
    pub fn scope(&mut self, scope: Scope) -> &mut Self {
        self.open.scope(scope);
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
            commit: self.commit == Commit::Now,
            global: self.open.scope == Scope::Global,
            growable: self.growable,
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
    /// fn main() -> Result<(), mmf::Error> {
    ///     let name = format!("mmf-doc-create-with-{}", std::process::id());
    ///     let m = mmf::CreateOptions::new().size(64).create_with(&name, |v| v.write_at(0, b"READY"))?;
    ///     assert_eq!(m.map()?.read_vec(0, 5)?, b"READY");
    ///     Ok(())
    /// }
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
        let sys = sys::Object::create(&self.spec(&name)?, &mut hook)
            .map_err(|e| e.context("create", name.describe()))?;
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
        let (sys, disposition) = sys::Object::open_or_create(&spec, &open, &mut hook)
            .map_err(|e| e.context("open or create", name.describe()))?;
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
/// use mmf::{Access, ErrorKind, OpenOptions};
/// let err = OpenOptions::new().access(Access::ReadOnly).open("mmf-doc-no-such-object").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NotFound);
/// ```
#[derive(Debug, Clone)]
pub struct OpenOptions {
    access: Access,
    min_size: u64,
    dir: Option<PathBuf>,
    allow_other_owner: bool,
    lock_timeout: Duration,
    scope: Scope,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// The access asked for (for layers built on top, which keep these options).
    pub(crate) fn access_mode(&self) -> Access {
        self.access
    }

    /// Defaults: read-write, any size, the default directory, own objects only.
    #[must_use]
    pub fn new() -> OpenOptions {
        OpenOptions {
            access: Access::ReadWrite,
            min_size: 0,
            dir: None,
            allow_other_owner: false,
            lock_timeout: Duration::from_secs(5),
            scope: Scope::Local,
        }
    }

    /// The handle's access, as `dwDesiredAccess` in `OpenFileMapping` (default
    /// [`Access::ReadWrite`]). A handle opened [`ReadOnly`](Access::ReadOnly) or
    /// [`CopyOnWrite`](Access::CopyOnWrite) needs only read permission on the object and makes
    /// read-only and copy-on-write views; a `ReadWrite` handle makes all three.
    pub fn access(&mut self, access: Access) -> &mut Self {
        self.access = access;
        self
    }

    /// Require the object to have at least `size` bytes; a smaller one is `SizeMismatch`.
    pub fn min_size(&mut self, size: u64) -> &mut Self {
        self.min_size = size;
        self
    }

    /// The directory that holds named objects (Linux; default `$MMF_DIR`, else `/dev/shm`). On
    /// Windows, the directory of persistent objects (see [`Namespace`]).
    pub fn dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.dir = Some(dir.into());
        self
    }

    /// Accept an object owned by another user (default: refuse with `PermissionDenied`).
    pub fn allow_other_owner(&mut self, allow: bool) -> &mut Self {
        self.allow_other_owner = allow;
        self
    }

    /// Windows: the namespace to look the name up in (default [`Scope::Local`]). Ignored on
    /// Linux.
    pub fn scope(&mut self, scope: Scope) -> &mut Self {
        self.scope = scope;
        self
    }

    fn spec<'a>(&'a self, name: &'a Name) -> OpenSpec<'a> {
        OpenSpec {
            name,
            writable: self.access == Access::ReadWrite,
            dir: self.dir.as_deref(),
            allow_other_owner: self.allow_other_owner,
            lock_timeout: self.lock_timeout,
            global: self.scope == Scope::Global,
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
        let sys =
            sys::Object::open(&self.spec(&name)).map_err(|e| e.context("open", name.describe()))?;
        let m = Mapping::from_parts(sys, name.describe(), Some(name), Backing::Named);
        check_min_size(&m, "open", self.min_size)?;
        Ok(m)
    }
}

/// Options for mapping a file (`CreateFile` + `CreateFileMapping`).
///
/// ```
/// use mmf::FileOptions;
///
/// fn main() -> Result<(), mmf::Error> {
///     let path = std::env::temp_dir().join(format!("mmf-doc-file-{}", std::process::id()));
///     let m = FileOptions::new().create(true).max_size(8192).open(&path)?;
///     assert_eq!(m.len(), 8192); // the file grew to the maximum size, as in Win32
///     m.map_mut()?.write_at(8000, b"tail")?;
///     drop(m); std::fs::remove_file(&path).unwrap();
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct FileOptions {
    access: Access,
    create: bool,
    max_size: Option<u64>,
}

impl Default for FileOptions {
    fn default() -> FileOptions {
        FileOptions::new()
    }
}

impl FileOptions {
    /// Defaults: read-write, the file must exist, size = the file's length.
    #[must_use]
    pub fn new() -> FileOptions {
        FileOptions {
            access: Access::ReadWrite,
            create: false,
            max_size: None,
        }
    }

    /// How the file is opened (default [`Access::ReadWrite`]). [`ReadOnly`](Access::ReadOnly)
    /// and [`CopyOnWrite`](Access::CopyOnWrite) open it read-only (`GENERIC_READ`, `O_RDONLY`),
    /// which needs only read permission; read-only and copy-on-write views then work, and
    /// nothing ever reaches the file.
    pub fn access(&mut self, access: Access) -> &mut Self {
        self.access = access;
        self
    }

    fn writable(&self) -> bool {
        self.access == Access::ReadWrite
    }

    /// Create the file if it does not exist (as `std::fs::OpenOptions::create`; only with
    /// read-write access).
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
            .write(self.writable())
            .create(self.create && self.writable())
            .open(path)
            .map_err(|e| sys::os_error("open", what.clone(), e))?;
        self.open_inner(file, what)
    }

    /// Makes a mapping object of an open file. The file's access mode must match
    /// [`access`](Self::access): opened for writing exactly when it is `ReadWrite`.
    ///
    /// # Errors
    /// As for [`open`](Self::open).
    pub fn map_file(&self, file: File) -> Result<Mapping> {
        self.open_inner(file, "file".to_owned())
    }

    fn open_inner(&self, file: File, what: String) -> Result<Mapping> {
        let md = file
            .metadata()
            .map_err(|e| sys::os_error("map", what.clone(), e))?;
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
                if !self.writable() {
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
                    .map_err(|e| sys::os_error("grow", what.clone(), e))?;
                size = max;
            }
        }
        let sys = sys::Object::from_file(file, size, self.writable())
            .map_err(|e| e.context("map", what.clone()))?;
        Ok(Mapping::from_parts(sys, what, None, Backing::File))
    }
}

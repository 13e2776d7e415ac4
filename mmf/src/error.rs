//! Errors: one [`Error`] type carrying an [`ErrorKind`] a caller can act on, the object it concerns,
//! what was being done, and the operating-system error underneath.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// What went wrong, in a form a caller can branch on.
///
/// The list is `#[non_exhaustive]`: new kinds may be added in minor releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No object of that name exists (`ENOENT`, `ERROR_FILE_NOT_FOUND`). This is how a second
    /// instance learns that no first instance has created the object yet.
    NotFound,
    /// `create` was asked for a name that already exists (`EEXIST`, `ERROR_ALREADY_EXISTS`).
    AlreadyExists,
    /// The OS refused access, or the object belongs to another user and that was not allowed, or
    /// a write was attempted through a read-only view.
    PermissionDenied,
    /// The name is empty, too long, contains `/`, `\` or NUL, or is reserved.
    InvalidName,
    /// An argument is invalid for a reason other than the name (size 0 where a size is needed,
    /// a directory where a file was expected, ...).
    InvalidInput,
    /// An offset or length lies outside the object or the view, or their sum overflows.
    OutOfRange,
    /// The object exists but its size does not fit what the caller asked for.
    SizeMismatch,
    /// The backing store is full: `/dev/shm` (or the configured directory), the disk, or memory.
    /// Reported when the memory is committed, never later as `SIGBUS`.
    OutOfSpace,
    /// The platform cannot do this; the message says why.
    Unsupported,
    /// The object exists but is not initialised yet (a shared value whose creator has not
    /// published its header).
    NotReady,
    /// The object is locked by someone else for longer than we were willing to wait.
    Busy,
    /// A wait ran out of time.
    Timeout,
    /// A typed shared value was opened with a type of a different layout than it was created with.
    LayoutMismatch,
    /// The object holds a format version this library does not understand.
    VersionMismatch,
    /// The object's contents are not what they claim to be (bad magic, bad header, truncated).
    Corrupt,
    /// The object shrank under a view while it was being read or written (another process
    /// truncated it): the bytes past its new end are gone. The view stays usable for the part
    /// that still exists; reopen the object to see its new size.
    Truncated,
    /// Any other operating-system error; see [`Error::os_error`].
    Other,
}

impl ErrorKind {
    /// A short lowercase description, used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::InvalidName => "invalid name",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::OutOfRange => "out of range",
            ErrorKind::SizeMismatch => "size mismatch",
            ErrorKind::OutOfSpace => "out of space",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::NotReady => "not ready",
            ErrorKind::Busy => "busy",
            ErrorKind::Timeout => "timed out",
            ErrorKind::LayoutMismatch => "layout mismatch",
            ErrorKind::VersionMismatch => "version mismatch",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Other => "system error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from mmf: a kind, the object it concerns, what was being done, and why.
///
/// `Display` gives one line, for example
/// `cannot open shared memory object "mmfobject": not found: no object of that name in /dev/shm`.
pub struct Error {
    kind: ErrorKind,
    op: &'static str,
    object: String,
    detail: Detail,
    source: Option<io::Error>,
    /// Refused because another user owns the object ([`Error::is_other_owner`]).
    other_owner: bool,
}

/// What is wrong, kept as data until the message is written ([`Error`]'s `Display`): the platform
/// layer reports facts (a directory, sizes, owners), never sentences about a particular object.
#[derive(Debug)]
#[allow(dead_code)] // each backend builds the variants its system needs
pub(crate) enum Detail {
    /// Said by the kind and the OS error underneath.
    Os,
    /// A sentence that needs no data.
    Text(Cow<'static, str>),
    /// No object of that name in the directory.
    NotFoundIn(PathBuf),
    /// No object of that name in the kernel namespace (Windows' `Local` or `Global`).
    NotFoundInNamespace(&'static str),
    /// Neither a section in the kernel namespace nor a persistent object in the directory
    /// (Windows).
    NotFoundInNamespaceOrDir(&'static str, PathBuf),
    /// An object of that name exists in the directory already.
    ExistsIn(PathBuf),
    /// The namespace directory does not exist.
    NoDirectory(PathBuf),
    /// The directory's filesystem cannot hold `size` more bytes; `free` bytes are available.
    DirectoryFull {
        dir: PathBuf,
        size: u64,
        free: Option<u64>,
    },
    /// The system limits names to `limit` bytes; this one has `len`.
    NameTooLong { limit: usize, len: usize },
    /// A directory was given where named objects live in the system's own namespace.
    NoDirectories(PathBuf),
    /// The system cannot back `size` bytes of shared memory.
    CannotBack { size: u64 },
    /// The umask took bits from the mode, and the system cannot put them back.
    Umask { mode: u32, have: u32 },
    /// The directory's filesystem drops the sticky bit that marks handle lifetime.
    NoStickyBit(PathBuf),
    /// The object belongs to another user.
    OtherOwner { owner: u32, me: u32 },
    /// Too few huge pages are reserved (`vm.nr_hugepages`).
    HugePages { reserved: Option<u64> },
    /// `asked` bytes cannot be backed: the bound `by` has `free` left (the commit limit).
    Shortage { asked: u64, free: u64, by: String },
    /// `[offset, offset + len)` does not lie within a mapping of `map_len` bytes.
    OutsideMapping {
        offset: usize,
        len: usize,
        map_len: usize,
    },
    /// A handed-over descriptor is not the kind of object its token or message claims.
    NotAsClaimed {
        claimed: &'static str,
        actual: &'static str,
    },
}

impl From<&'static str> for Detail {
    fn from(s: &'static str) -> Detail {
        Detail::Text(Cow::Borrowed(s))
    }
}

impl From<String> for Detail {
    fn from(s: String) -> Detail {
        Detail::Text(Cow::Owned(s))
    }
}

impl Detail {
    /// Writes the detail of an error of `kind` with OS error `source` (empty for none).
    fn write(
        &self,
        f: &mut fmt::Formatter<'_>,
        kind: ErrorKind,
        source: Option<&io::Error>,
    ) -> fmt::Result {
        match self {
            Detail::Os => match kind {
                ErrorKind::NotFound => f.write_str("it does not exist"),
                ErrorKind::AlreadyExists => f.write_str("an object of that name already exists"),
                ErrorKind::PermissionDenied => {
                    f.write_str("the operating system denied access (check the owner and mode)")
                }
                ErrorKind::OutOfSpace => f.write_str(
                    "not enough space in the backing store (shared memory filesystem, disk or \
                     memory)",
                ),
                _ => match source {
                    Some(e) => write!(f, "{}", e),
                    None => Ok(()),
                },
            },
            Detail::Text(s) => f.write_str(s),
            Detail::NotFoundIn(dir) => write!(f, "no object of that name in {}", dir.display()),
            Detail::NotFoundInNamespace(ns) => {
                write!(f, "no object of that name in the {} namespace", ns)
            }
            Detail::NotFoundInNamespaceOrDir(ns, dir) => write!(
                f,
                "no object of that name in the {} namespace or in {}",
                ns,
                dir.display()
            ),
            Detail::ExistsIn(dir) => write!(
                f,
                "an object of that name already exists in {}; open it, or remove it first",
                dir.display()
            ),
            Detail::NoDirectory(dir) => {
                write!(f, "the directory {} does not exist", dir.display())
            }
            Detail::DirectoryFull { dir, size, free } => {
                write!(f, "{} cannot hold {} more bytes (", dir.display(), size)?;
                match free {
                    Some(free) => write!(f, "{} bytes free", free)?,
                    None => f.write_str("free space unknown")?,
                }
                f.write_str("); remove unused objects (mmf gc) or enlarge it")
            }
            Detail::NameTooLong { limit, len } => write!(
                f,
                "this system limits shared memory names to {} bytes (the name is {})",
                limit, len
            ),
            Detail::NoDirectories(dir) => write!(
                f,
                "named objects live in the shm_open namespace on this system, not in a directory \
                 ({}); map a file in that directory instead",
                dir.display()
            ),
            Detail::CannotBack { size } => {
                write!(f, "the system cannot back {} bytes of shared memory", size)
            }
            Detail::Umask { mode, have } => write!(
                f,
                "the umask turned mode {:o} into {:o}, and this system cannot change the mode of \
                 a shared memory object; clear those bits from the umask",
                mode, have
            ),
            Detail::NoStickyBit(dir) => write!(
                f,
                "the filesystem of {} does not keep the sticky bit, which marks handle lifetime; \
                 use a tmpfs or ramfs directory, or Lifetime::Persistent",
                dir.display()
            ),
            Detail::OtherOwner { owner, me } => write!(
                f,
                "it belongs to uid {} and you are uid {}; opening another user's object must be \
                 asked for explicitly (OpenOptions::allow_other_owner)",
                owner, me
            ),
            Detail::HugePages { reserved } => {
                f.write_str("not enough free huge pages (vm.nr_hugepages = ")?;
                match reserved {
                    Some(n) => write!(f, "{}", n)?,
                    None => f.write_str("unknown")?,
                }
                f.write_str("); reserve more with `sysctl vm.nr_hugepages=N`, or use normal pages")
            }
            Detail::Shortage { asked, free, by } => write!(
                f,
                "{} cannot be backed: {} has {} left; free some memory or space, or create the \
                 object with Commit::Reserve to overcommit on purpose",
                Bytes(*asked),
                by,
                Bytes(*free)
            ),
            Detail::OutsideMapping {
                offset,
                len,
                map_len,
            } => write!(
                f,
                "the range {}..{}+{} lies outside a mapping of {} bytes",
                offset, offset, len, map_len
            ),
            Detail::NotAsClaimed { claimed, actual } => {
                write!(
                    f,
                    "the token says {} but the descriptor is {}",
                    claimed, actual
                )
            }
        }
    }

    fn is_empty(&self, kind: ErrorKind, source: Option<&io::Error>) -> bool {
        match self {
            Detail::Text(s) => s.is_empty(),
            Detail::Os => {
                source.is_none()
                    && !matches!(
                        kind,
                        ErrorKind::NotFound
                            | ErrorKind::AlreadyExists
                            | ErrorKind::PermissionDenied
                            | ErrorKind::OutOfSpace
                    )
            }
            _ => false,
        }
    }
}

/// `N bytes` with a binary-unit figure beside it when that reads better.
pub(crate) struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
        let n = self.0;
        if n < 1024 {
            return write!(f, "{} bytes", n);
        }
        let mut v = n as f64 / 1024.0;
        let mut u = 0;
        while v >= 1024.0 && u + 1 < UNITS.len() {
            v /= 1024.0;
            u += 1;
        }
        write!(f, "{} bytes ({:.1} {})", n, v, UNITS[u])
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an error. `op` is a verb phrase ("open", "map a view of"), `object` describes the
    /// object (`shared memory object "x"`), `detail` says what is wrong and, where it helps, what
    /// to do.
    pub(crate) fn new(
        kind: ErrorKind,
        op: &'static str,
        object: impl Into<String>,
        detail: impl Into<Detail>,
    ) -> Error {
        Error {
            kind,
            op,
            object: object.into(),
            detail: detail.into(),
            source: None,
            other_owner: false,
        }
    }

    /// Attaches the OS error underneath.
    pub(crate) fn with_source(mut self, err: Option<io::Error>) -> Error {
        self.source = err;
        self
    }

    /// Marks the refusal of an object another user owns (see [`Error::is_other_owner`]).
    #[allow(dead_code)] // unused by the fallback backend
    pub(crate) fn for_other_owner(mut self) -> Error {
        self.other_owner = true;
        self
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether the object was refused because another user owns it, and opening another user's
    /// object was not asked for (kind [`PermissionDenied`](ErrorKind::PermissionDenied)). Anyone
    /// can create a name in a shared namespace, so mmf opens only the caller's own objects unless
    /// [`OpenOptions::allow_other_owner`](crate::OpenOptions::allow_other_owner) (or
    /// [`ValueOptions::allow_other_owner`](crate::ValueOptions::allow_other_owner)) is set: this
    /// tells a caller when that option would help, as opposed to a mode that denies access.
    ///
    /// ```
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let name = format!("mmf-doc-other-owner-{}", std::process::id());
    ///     let err = mmf::Mapping::open(&name).unwrap_err();
    ///     assert!(!err.is_other_owner()); // not found: nobody owns it
    ///     Ok(())
    /// }
    /// ```
    pub fn is_other_owner(&self) -> bool {
        self.other_owner
    }

    /// The object the error concerns, as it appears in the message (`shared memory object "x"`).
    pub fn object(&self) -> &str {
        &self.object
    }

    /// The operation that failed ("open", "create", ...).
    pub fn operation(&self) -> &str {
        self.op
    }

    /// The operating-system error underneath, if there was one.
    pub fn os_error(&self) -> Option<&io::Error> {
        self.source.as_ref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot {} {}: {}", self.op, self.object, self.kind)?;
        if !self.detail.is_empty(self.kind, self.source.as_ref()) {
            f.write_str(": ")?;
            self.detail.write(f, self.kind, self.source.as_ref())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("op", &self.op)
            .field("object", &self.object)
            .field("detail", &self.detail)
            .field("source", &self.source)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.source {
            Some(e) => Some(e),
            None => None,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match e.kind {
            ErrorKind::NotFound => io::ErrorKind::NotFound,
            ErrorKind::AlreadyExists => io::ErrorKind::AlreadyExists,
            ErrorKind::PermissionDenied => io::ErrorKind::PermissionDenied,
            ErrorKind::InvalidName | ErrorKind::InvalidInput | ErrorKind::OutOfRange => {
                io::ErrorKind::InvalidInput
            }
            ErrorKind::Timeout => io::ErrorKind::TimedOut,
            ErrorKind::Unsupported => io::ErrorKind::Unsupported,
            ErrorKind::Corrupt
            | ErrorKind::LayoutMismatch
            | ErrorKind::VersionMismatch
            | ErrorKind::SizeMismatch => io::ErrorKind::InvalidData,
            ErrorKind::Truncated => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

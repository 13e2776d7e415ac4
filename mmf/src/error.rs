//! Errors: one [`Error`] type carrying an [`ErrorKind`] a caller can act on, the object it concerns,
//! what was being done, and the operating-system error underneath.

use std::borrow::Cow;
use std::fmt;
use std::io;

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
    detail: Cow<'static, str>,
    source: Option<io::Error>,
    /// Refused because another user owns the object ([`Error::is_other_owner`]).
    other_owner: bool,
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
        detail: impl Into<Cow<'static, str>>,
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

    /// Builds an error from an OS error, choosing the kind from it.
    pub(crate) fn os(op: &'static str, object: impl Into<String>, err: io::Error) -> Error {
        let kind = kind_of(&err);
        let detail: Cow<'static, str> = match kind {
            ErrorKind::NotFound => "it does not exist".into(),
            ErrorKind::AlreadyExists => "an object of that name already exists".into(),
            ErrorKind::PermissionDenied => {
                "the operating system denied access (check the owner and mode)".into()
            }
            ErrorKind::OutOfSpace => {
                "not enough space in the backing store (shared memory filesystem, disk or memory)"
                    .into()
            }
            _ => err.to_string().into(),
        };
        Error {
            kind,
            op,
            object: object.into(),
            detail,
            source: Some(err),
            other_owner: false,
        }
    }

    /// Changes the operation the message names.
    #[allow(dead_code)] // unused by the POSIX and fallback backends
    pub(crate) fn set_op(&mut self, op: &'static str) {
        self.op = op;
    }

    /// Attaches the OS error underneath.
    #[allow(dead_code)] // unused by the fallback backend
    pub(crate) fn with_source(mut self, err: io::Error) -> Error {
        self.source = Some(err);
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
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
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

/// Maps an OS error to a kind.
pub(crate) fn kind_of(err: &io::Error) -> ErrorKind {
    #[cfg(unix)]
    if let Some(code) = err.raw_os_error() {
        // The backing store cannot hold it.
        if code == libc::ENOSPC
            || code == libc::ENOMEM
            || code == libc::EFBIG
            || code == libc::EDQUOT
        {
            return ErrorKind::OutOfSpace;
        }
        if code == libc::ENAMETOOLONG {
            return ErrorKind::InvalidName;
        }
        // A path component is a directory.
        if code == libc::EISDIR {
            return ErrorKind::InvalidInput;
        }
        if code == libc::EROFS || code == libc::EPERM {
            return ErrorKind::PermissionDenied;
        }
    }
    #[cfg(windows)]
    if let Some(code) = err.raw_os_error() {
        // ERROR_DISK_FULL, ERROR_NOT_ENOUGH_MEMORY, ERROR_COMMITMENT_LIMIT, ERROR_OUTOFMEMORY,
        // ERROR_WORKING_SET_QUOTA (VirtualLock past the working-set limit)
        if code == 112 || code == 8 || code == 1455 || code == 14 || code == 1453 {
            return ErrorKind::OutOfSpace;
        }
        // ERROR_INVALID_NAME, ERROR_FILENAME_EXCED_RANGE
        if code == 123 || code == 206 {
            return ErrorKind::InvalidName;
        }
        // ERROR_ALREADY_EXISTS, ERROR_FILE_EXISTS
        if code == 183 || code == 80 {
            return ErrorKind::AlreadyExists;
        }
    }
    match err.kind() {
        io::ErrorKind::NotFound => ErrorKind::NotFound,
        io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
        io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        io::ErrorKind::InvalidInput => ErrorKind::InvalidInput,
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        io::ErrorKind::Unsupported => ErrorKind::Unsupported,
        _ => ErrorKind::Other,
    }
}

//! The platform layer's error: what failed, as data ([`ErrorKind`], a [`Detail`], the OS error),
//! without the object or the operation, which the layer above adds with [`Error::context`].
//! OS error codes are classified here, by name.

use crate::error::Detail;
use crate::ErrorKind;
use std::io;

/// A failure in the platform layer. The kind is chosen here, where the OS error codes are known;
/// the message is written when the [`crate::Error`] made from it is displayed.
#[derive(Debug)]
pub(crate) struct Error {
    kind: ErrorKind,
    /// The step that failed, where it is not the operation the caller asked for ("lock",
    /// "remove", "take over").
    op: Option<&'static str>,
    detail: Detail,
    os: Option<io::Error>,
    /// An error from the layer above (a creator's initialiser), passed through unchanged.
    passed: Option<Box<crate::Error>>,
    /// Refused because another user owns the object ([`crate::Error::is_other_owner`]).
    other_owner: bool,
}

/// The result type of the platform layer.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind`, for the reason `detail`.
    pub(crate) fn new(kind: ErrorKind, detail: impl Into<Detail>) -> Error {
        Error {
            kind,
            op: None,
            detail: detail.into(),
            os: None,
            passed: None,
            other_owner: false,
        }
    }

    /// An OS error, its kind chosen by [`classify`].
    pub(crate) fn os(err: impl Into<io::Error>) -> Error {
        let err = err.into();
        Error {
            kind: classify(&err),
            op: None,
            detail: Detail::Os,
            os: Some(err),
            passed: None,
            other_owner: false,
        }
    }

    /// `Unsupported`, with the reason.
    #[allow(dead_code)] // every backend has something it cannot do, but not the same things
    pub(crate) fn unsupported(why: &'static str) -> Error {
        Error::new(ErrorKind::Unsupported, why)
    }

    /// Names the step that failed, where it differs from the caller's operation.
    #[allow(dead_code)] // unused by the fallback backend
    pub(crate) fn at(mut self, op: &'static str) -> Error {
        self.op = Some(op);
        self
    }

    /// Marks the refusal of an object another user owns.
    #[allow(dead_code)] // unused by the fallback backend
    pub(crate) fn for_other_owner(mut self) -> Error {
        self.other_owner = true;
        self
    }

    /// Attaches the OS error underneath.
    #[allow(dead_code)] // unused by the fallback backend
    pub(crate) fn with_os(mut self, err: impl Into<io::Error>) -> Error {
        self.os = Some(err.into());
        self
    }

    /// The OS error code underneath, if any.
    #[allow(dead_code)] // used by the Linux backend
    pub(crate) fn raw_os_error(&self) -> Option<i32> {
        self.os.as_ref().and_then(|e| e.raw_os_error())
    }

    /// The kind of error.
    #[allow(dead_code)] // used by the Windows backend
    pub(crate) fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The public error: this one, about `object`, met while doing `op` (unless the step that
    /// failed was named with [`at`](Self::at)). An error passed through from the layer above is
    /// returned as it was.
    pub(crate) fn context(self, op: &'static str, object: impl Into<String>) -> crate::Error {
        if let Some(e) = self.passed {
            return *e;
        }
        let e = crate::Error::new(self.kind, self.op.unwrap_or(op), object, self.detail)
            .with_source(self.os);
        if self.other_owner {
            e.for_other_owner()
        } else {
            e
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::os(e)
    }
}

#[cfg(unix)]
impl From<rustix::io::Errno> for Error {
    fn from(e: rustix::io::Errno) -> Error {
        Error::os(e)
    }
}

impl From<crate::Error> for Error {
    fn from(e: crate::Error) -> Error {
        Error {
            kind: e.kind(),
            op: None,
            detail: Detail::Os,
            os: None,
            passed: Some(Box::new(e)),
            other_owner: false,
        }
    }
}

/// An OS error about `object` met while doing `op`, as the public error (for the layers above,
/// which meet OS errors from the standard library too).
pub(crate) fn os_error(
    op: &'static str,
    object: impl Into<String>,
    err: io::Error,
) -> crate::Error {
    Error::os(err).context(op, object)
}

/// Chooses the kind of an OS error.
pub(crate) fn classify(err: &io::Error) -> ErrorKind {
    if let Some(code) = err.raw_os_error() {
        if let Some(kind) = codes::kind(code) {
            return kind;
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

#[cfg(unix)]
mod codes {
    use crate::ErrorKind;

    /// The kinds the standard library does not tell apart (it calls them all `Other` or worse).
    pub(super) fn kind(code: i32) -> Option<ErrorKind> {
        Some(match code {
            // The backing store cannot hold it.
            libc::ENOSPC | libc::ENOMEM | libc::EFBIG | libc::EDQUOT => ErrorKind::OutOfSpace,
            libc::ENAMETOOLONG => ErrorKind::InvalidName,
            // A path component is a directory.
            libc::EISDIR => ErrorKind::InvalidInput,
            libc::EROFS | libc::EPERM => ErrorKind::PermissionDenied,
            _ => return None,
        })
    }
}

#[cfg(windows)]
mod codes {
    use crate::ErrorKind;
    use windows_sys::Win32::Foundation::{
        ERROR_ALREADY_EXISTS, ERROR_COMMITMENT_LIMIT, ERROR_DISK_FULL, ERROR_FILENAME_EXCED_RANGE,
        ERROR_FILE_EXISTS, ERROR_INVALID_NAME, ERROR_NOT_ENOUGH_MEMORY, ERROR_OUTOFMEMORY,
        ERROR_WORKING_SET_QUOTA,
    };

    /// The kinds the standard library does not tell apart.
    pub(super) fn kind(code: i32) -> Option<ErrorKind> {
        Some(match code as u32 {
            // VirtualLock past the working-set limit is ERROR_WORKING_SET_QUOTA.
            ERROR_DISK_FULL
            | ERROR_NOT_ENOUGH_MEMORY
            | ERROR_COMMITMENT_LIMIT
            | ERROR_OUTOFMEMORY
            | ERROR_WORKING_SET_QUOTA => ErrorKind::OutOfSpace,
            ERROR_INVALID_NAME | ERROR_FILENAME_EXCED_RANGE => ErrorKind::InvalidName,
            ERROR_ALREADY_EXISTS | ERROR_FILE_EXISTS => ErrorKind::AlreadyExists,
            _ => return None,
        })
    }
}

#[cfg(not(any(unix, windows)))]
mod codes {
    /// No codes to tell apart where there is no OS.
    pub(super) fn kind(_code: i32) -> Option<crate::ErrorKind> {
        None
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{classify, Error};
    use crate::error::Detail;
    use crate::ErrorKind;
    use std::io;

    #[test]
    fn the_layer_above_names_the_object_and_the_operation() {
        let e = Error::new(ErrorKind::NotFound, Detail::NotFoundIn("/dev/shm".into()))
            .context("open", "shared memory object \"x\"");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.operation(), "open");
        assert_eq!(e.object(), "shared memory object \"x\"");
        assert_eq!(
            e.to_string(),
            "cannot open shared memory object \"x\": not found: no object of that name in /dev/shm"
        );
        // A step named by the platform layer wins over the caller's operation.
        let e = Error::new(ErrorKind::Busy, "held")
            .at("lock")
            .context("open", "o");
        assert_eq!(e.to_string(), "cannot lock o: busy: held");
    }

    #[test]
    fn os_errors_are_classified_here_and_kept_as_the_source() {
        #[cfg(unix)]
        {
            let e = Error::os(io::Error::from_raw_os_error(libc::ENOSPC)).context("create", "o");
            assert_eq!(e.kind(), ErrorKind::OutOfSpace);
            assert!(e.os_error().is_some());
            assert!(e.to_string().contains("not enough space"), "{}", e);
        }
        let e = io::Error::new(io::ErrorKind::PermissionDenied, "no");
        assert_eq!(classify(&e), ErrorKind::PermissionDenied);
    }

    #[test]
    fn an_initialisers_error_passes_through_unchanged() {
        let inner = crate::Error::new(ErrorKind::Corrupt, "init", "value \"v\"", "bad header");
        let text = inner.to_string();
        let e = Error::from(inner).at("create").context("create", "other");
        assert_eq!(e.to_string(), text);
    }
}

"""mmf's errors as Python exceptions.

Every exception raised for an mmf error subclasses both :class:`Error` and the built-in
exception that Python code already catches for that situation, so ``except FileNotFoundError``
and ``except mmfpy.NotFoundError`` both work. ``str(e)`` is mmf's one-line message, which names
the object and the problem.
"""

from __future__ import annotations

import builtins
import errno as _errno


class Error(Exception):
    """Base class of every mmfpy error.

    Attributes: ``kind`` (mmf's error kind: ``"not found"``, ``"invalid input"``, ...),
    ``operation`` (what was being done: ``"open"``, ``"map a view of"``), ``object`` (the object,
    as the message names it). Those that are also ``OSError`` carry ``errno``: the operating
    system's, or where mmf found the problem itself the usual one for it (``ENOENT``, ``EEXIST``,
    ``EACCES``, ``ETIMEDOUT``, ``ENOSPC``, ``EBUSY``).
    """

    kind: str = "system error"
    operation: str = ""
    object: str = ""


class NotFoundError(Error, FileNotFoundError):
    """No object of that name exists."""


class AlreadyExistsError(Error, FileExistsError):
    """``create`` was asked for a name that already exists."""


class PermissionDeniedError(Error, PermissionError):
    """The OS refused access, the object belongs to another user, or a write went to a read-only
    handle."""


class TimedOutError(Error, builtins.TimeoutError):
    """A wait ran out of time."""


class InvalidNameError(Error, ValueError):
    """The name is empty, too long, contains ``/``, ``\\`` or NUL, or is reserved."""


class InvalidInputError(Error, ValueError):
    """An argument is invalid (a negative size, an unknown access word, a closed handle, ...)."""


class OutOfRangeError(Error, ValueError):
    """An offset or length lies outside the object or the view."""


class SizeMismatchError(Error, ValueError):
    """The object exists but its size does not fit what was asked for."""


class OutOfSpaceError(Error, OSError):
    """The backing store (``/dev/shm``, the disk, memory) is full."""


class BusyError(Error, OSError):
    """Another live process kept the value's writer lock for longer than the lock timeout."""


class NotReadyError(Error, OSError):
    """The object exists but its creator has not finished initialising it."""


class UnsupportedError(Error, OSError):
    """The platform cannot do this."""


class CorruptError(Error, OSError):
    """The object's contents are not what they claim to be, or hold another format version or
    layout."""


class TruncatedError(Error, OSError):
    """Another process cut the object short under this handle."""


class OtherError(Error, OSError):
    """Any other operating-system error (see ``errno``)."""


_BY_KIND: dict[str, type[Error]] = {
    "not found": NotFoundError,
    "already exists": AlreadyExistsError,
    "permission denied": PermissionDeniedError,
    "timed out": TimedOutError,
    "invalid name": InvalidNameError,
    "invalid input": InvalidInputError,
    "out of range": OutOfRangeError,
    "size mismatch": SizeMismatchError,
    "layout mismatch": CorruptError,
    "version mismatch": CorruptError,
    "corrupt": CorruptError,
    "out of space": OutOfSpaceError,
    "busy": BusyError,
    "not ready": NotReadyError,
    "unsupported": UnsupportedError,
    "truncated": TruncatedError,
}


# The errno an OSError subclass carries when mmf found the problem itself (no system call failed),
# so that `e.errno` means what it means for the built-in exceptions.
_ERRNO: dict[str, int] = {
    "not found": _errno.ENOENT,
    "already exists": _errno.EEXIST,
    "permission denied": _errno.EACCES,
    "timed out": _errno.ETIMEDOUT,
    "out of space": _errno.ENOSPC,
    "busy": _errno.EBUSY,
}


def from_kind(kind: str, message: str, operation: str, obj: str, errno: int | None) -> Error:
    """The exception for an mmf error (called by the native module)."""
    exc = _BY_KIND.get(kind, OtherError)(message)
    exc.kind = kind
    exc.operation = operation
    exc.object = obj
    if isinstance(exc, OSError):
        exc.errno = errno if errno is not None else _ERRNO.get(kind)
    return exc

"""mmfpy: named shared memory for Python that cleans itself up, over the mmf Rust library.

- :class:`Mapping` and :class:`View`: named, anonymous or file-backed mapping objects, mapped
  into views that export the buffer protocol (``memoryview(view)``, ``np.frombuffer(view)``,
  ``view.numpy(dtype, shape)``), zero-copy. ``close()`` never raises and never leaves an array
  dangling: the memory is unmapped when the last exported buffer is released.
- Handle lifetime (the default): an object lives while any process holds it and its name goes
  away with the last holder, also when the holders are killed. No resource tracker.
- :class:`SharedValue`: a value replaced whole by ``store`` and read whole by ``retrieve``,
  never torn, with ``wait_newer`` and ``await changed()`` sleeping in the kernel until another
  process stores.
- :func:`list`, :func:`info`, :func:`remove`, :func:`gc`: the namespace (``/dev/shm`` or
  ``$MMF_DIR`` on Linux).

Errors subclass both :class:`Error` and the matching built-in exception (``FileNotFoundError``,
``FileExistsError``, ``PermissionError``, ``TimeoutError``, ``ValueError``, ``OSError``).
"""

from ._errors import (
    AlreadyExistsError,
    BusyError,
    CorruptError,
    Error,
    InvalidInputError,
    InvalidNameError,
    NotFoundError,
    NotReadyError,
    OutOfRangeError,
    OutOfSpaceError,
    PermissionDeniedError,
    SizeMismatchError,
    OtherError,
    TimedOutError,
    TruncatedError,
    UnsupportedError,
)
from ._mmfpy import Mapping, ObjectInfo, SharedValue, View, gc, info, list, remove

__version__ = "0.1.0"

__all__ = [
    "AlreadyExistsError",
    "BusyError",
    "CorruptError",
    "Error",
    "InvalidInputError",
    "InvalidNameError",
    "Mapping",
    "NotFoundError",
    "NotReadyError",
    "ObjectInfo",
    "OutOfRangeError",
    "OutOfSpaceError",
    "PermissionDeniedError",
    "SharedValue",
    "SizeMismatchError",
    "OtherError",
    "TimedOutError",
    "TruncatedError",
    "UnsupportedError",
    "View",
    "gc",
    "info",
    "list",
    "remove",
]

"""Type stubs of the native module ``mmfpy._mmfpy`` (re-exported by ``mmfpy``)."""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Literal, Self, final, overload

from typing_extensions import Buffer

__all__ = ["Mapping", "ObjectInfo", "SharedValue", "View", "gc", "info", "list", "remove"]

_Access = Literal["rw", "ro", "copy"]
_Lifetime = Literal["handle", "persistent"]

@final
class Mapping:
    """A mapping object: a named shared-memory object (``/dev/shm/NAME`` on Linux, the same object
    ``shm_open("/NAME")`` and ``multiprocessing.shared_memory.SharedMemory(name=NAME)`` open), an
    anonymous one, or a file.

    A handle-lifetime object (the default) exists while any handle or mapped view of it is open
    in any process, and its name goes away with the last one, also when the holders are killed:
    no resource tracker, nothing to unlink. Use it as a context manager, or call :meth:`close`.
    """

    @staticmethod
    def create(
        name: str, size: int, *, lifetime: _Lifetime = "handle", mode: int = 0o600
    ) -> Mapping:
        """Creates the named object of ``size`` bytes, zero-filled, its memory committed (a full
        ``/dev/shm`` is an :class:`~mmfpy.OutOfSpaceError` here, never a ``SIGBUS`` later).

        ``lifetime="persistent"`` keeps it until :func:`~mmfpy.remove`; ``mode`` takes the read
        and write bits (``0o666`` at most), applied exactly.

        Raises :class:`~mmfpy.AlreadyExistsError` (``FileExistsError``),
        :class:`~mmfpy.InvalidNameError` / :class:`~mmfpy.InvalidInputError` (``ValueError``:
        bad name, negative or zero size, unknown lifetime), ``TypeError`` for arguments of the
        wrong type, :class:`~mmfpy.OutOfSpaceError` (``OSError``).
        """

    @staticmethod
    def open(name: str, *, readonly: bool = False) -> Mapping:
        """Opens an existing named object; ``readonly`` needs only read permission and maps
        read-only views by default.

        Raises :class:`~mmfpy.NotFoundError` (``FileNotFoundError``),
        :class:`~mmfpy.PermissionDeniedError` (``PermissionError``).
        """

    @staticmethod
    def open_or_create(
        name: str, size: int, *, lifetime: _Lifetime = "handle", mode: int = 0o600
    ) -> tuple[Mapping, bool]:
        """Opens the named object, or creates it as :meth:`create` would; the bool says whether
        this call created it. Safe against a concurrent creator."""

    @staticmethod
    def anonymous(size: int) -> Mapping:
        """An unnamed object of ``size`` bytes, private to this process and its forked
        children."""

    @staticmethod
    def open_file(
        path: str | os.PathLike[str],
        *,
        size: int | None = None,
        readonly: bool = False,
        create: bool = False,
    ) -> Mapping:
        """A mapping of a file. ``size`` larger than the file grows it (never shrinks it);
        ``create`` creates a missing file; ``readonly`` opens it read-only (read-only and
        copy-on-write views only)."""

    def map(self, offset: int = 0, length: int = 0, *, access: _Access | None = None) -> View:
        """Maps ``length`` bytes from ``offset`` (any offset; ``length=0``: to the end).

        ``access``: ``"rw"`` (the default for writable handles), ``"ro"`` (the default for
        read-only ones), or ``"copy"`` (copy-on-write: writes stay private to this view).

        Raises :class:`~mmfpy.OutOfRangeError` (``ValueError``) for ranges outside the object,
        :class:`~mmfpy.PermissionDeniedError` for ``"rw"`` on a read-only handle,
        :class:`~mmfpy.InvalidInputError` after :meth:`close`.
        """

    def close(self) -> None:
        """Closes the handle and every view it mapped. Never raises, also while numpy arrays or
        memoryviews of those views are alive: each view is unmapped now, or when the last buffer
        exported from it is released (the arrays stay valid until then). Closing twice does
        nothing."""

    @property
    def name(self) -> str | None:
        """The object's name (``None`` for anonymous and file mappings)."""

    @property
    def size(self) -> int:
        """The object's size in bytes."""

    @property
    def readonly(self) -> bool:
        """Whether the handle was opened read-only."""

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""

    @property
    def lifetime(self) -> _Lifetime:
        """``"handle"`` or ``"persistent"`` (objects made by other programs are persistent)."""

    @property
    def backing(self) -> Literal["named", "anonymous", "file"]:
        """What backs the object."""

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

@final
class View(Buffer):
    """A mapped range of a :class:`Mapping`. It exports the buffer protocol, zero-copy:
    ``memoryview(view)``, ``np.frombuffer(view, dtype)``, ``bytes(view[a:b])``, ``view[i] = x``.
    Read-only views export read-only buffers and refuse writable requests with ``BufferError``.

    Another process can write the memory at any moment; numpy sees its writes as they land.
    """

    def read(self, offset: int = 0, n: int | None = None) -> bytes:
        """Copies ``n`` bytes from ``offset`` (``None``: to the end of the view) into new bytes."""

    def write(self, offset: int, data: Buffer) -> None:
        """Copies a bytes-like object (bytes, bytearray, memoryview, a contiguous numpy array,
        ...) into the view at ``offset``, read in place."""

    def flush(self) -> None:
        """Writes the view's dirty pages back to its file (``msync``; a no-op for shared
        memory)."""

    def numpy(self, dtype: Any = None, shape: int | tuple[int, ...] | None = None) -> Any:
        """The view as a numpy array (``np.frombuffer``), zero-copy; ``dtype`` defaults to
        ``uint8``, ``shape`` to one dimension over the whole view (a shape may use a prefix of
        it). The array keeps the view mapped. Needs numpy, imported on the first call."""

    def close(self) -> None:
        """Unmaps the view now, or when the last exported buffer is released. Never raises."""

    @property
    def size(self) -> int:
        """The view's length in bytes (also ``len(view)``)."""

    @property
    def offset(self) -> int:
        """Where the view starts in the object."""

    @property
    def access(self) -> _Access:
        """``"rw"``, ``"ro"`` or ``"copy"``."""

    @property
    def readonly(self) -> bool:
        """Whether the view is read-only."""

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (the memory may still be mapped for live arrays)."""

    @property
    def exports(self) -> int:
        """Buffers exported and not yet released (numpy arrays, memoryviews)."""

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, key: int, /) -> int: ...
    @overload
    def __getitem__(self, key: slice, /) -> memoryview: ...
    def __setitem__(self, key: int | slice, value: Any, /) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

@final
class SharedValue:
    """A named value that any number of processes store and retrieve whole: every reader sees
    one stored value, never a torn mix, and readers never block writers. Each store is a new
    version; :meth:`wait_newer` and :meth:`changed` sleep in the kernel until another process
    stores. The byte format is mmf's (``FORMAT.md``), shared with the Rust library and the
    ``mmf`` command-line tool."""

    @staticmethod
    def create(
        name: str,
        *,
        capacity: int | None = None,
        slots: int | None = None,
        lifetime: _Lifetime = "handle",
        mode: int = 0o600,
    ) -> SharedValue:
        """Creates the named value. ``capacity``: bytes a value may have before the object has to
        grow (4 KiB by default; values grow as needed). ``slots`` (2 to 64, default 8): how many
        versions the object holds, each of ``capacity`` bytes; more protect more concurrent
        readers of older versions, fewer save memory for large values."""

    @staticmethod
    def open(name: str, *, readonly: bool = False) -> SharedValue:
        """Opens the named value. Raises :class:`~mmfpy.NotFoundError`,
        :class:`~mmfpy.CorruptError` for objects that are not shared values."""

    @staticmethod
    def open_or_create(
        name: str,
        *,
        capacity: int | None = None,
        slots: int | None = None,
        lifetime: _Lifetime = "handle",
        mode: int = 0o600,
    ) -> tuple[SharedValue, bool]:
        """Opens the named value or creates it; the bool says whether this call created it."""

    def store(self, data: Buffer) -> int:
        """Stores a bytes-like object as the new value, copied from where it is straight into
        the value's slot (no intermediate copy), and returns its version. The object may be
        shared memory that others write meanwhile: the value stored is then whatever the copy
        read, never a crash. Raises :class:`~mmfpy.BusyError` if another live process kept the
        writer lock for 5 s."""

    def retrieve(self) -> bytes:
        """The latest value (``b""`` if nothing was stored yet)."""

    def retrieve_versioned(self) -> tuple[int, bytes]:
        """The latest value and its version."""

    def retrieve_into(self, buffer: Buffer) -> int:
        """Copies the latest value straight from its slot into a writable bytes-like object (a
        ``bytearray``, a numpy array) and returns its length. Raises
        :class:`~mmfpy.InvalidInputError` (``ValueError``) if the buffer is too small."""

    @property
    def version(self) -> int:
        """The latest version stored (0: none yet)."""

    def wait_newer(
        self, seen: int, timeout: float | None = None, *, spin: float | None = None
    ) -> int:
        """Blocks until a version newer than ``seen`` is stored (by any process) and returns it;
        returns at once if there is one already. Sleeps in the kernel (a futex on Linux) without
        the GIL; Ctrl-C interrupts it. Raises :class:`~mmfpy.TimedOutError`
        (``TimeoutError``) when ``timeout`` seconds pass first.

        Before it sleeps it polls the version (without the GIL) for a moment, so that a store
        landing within it is seen without a kernel sleep and wake-up, which is what makes a
        ping-pong between two processes fast. ``spin``: how many seconds to poll; ``None`` (the
        default) adapts it per handle between 5 and 50 µs (the whole 50 µs while stores come
        within it, halving after each wait that had to sleep longer); ``0`` sleeps at once."""

    def changed(self, seen: int, timeout: float | None = None) -> Coroutine[Any, Any, int]:
        """``await value.changed(seen)``: :meth:`wait_newer` for asyncio, woken from the kernel.
        On Linux the wait is an eventfd the event loop watches (``loop.add_reader``), signalled
        by the library's waiter thread (one ``futex_waitv`` thread per 127 waits in the process),
        so a pending await costs one descriptor and no thread. Elsewhere, and with loops without
        ``add_reader``, a waiter thread per await sleeps in :meth:`wait_newer` and wakes the loop
        through ``call_soon_threadsafe``. Cancelling the task (``task.cancel()``,
        ``asyncio.wait_for``) ends the wait at once and releases what it held. Raises
        :class:`~mmfpy.TimedOutError` after ``timeout`` seconds."""

    def close(self) -> None:
        """Closes the handle (a handle-lifetime value goes away with its last handle). Never
        raises."""

    @property
    def name(self) -> str:
        """The value's name."""

    @property
    def readonly(self) -> bool:
        """Whether the handle was opened read-only (it cannot store)."""

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

@final
class ObjectInfo:
    """What :func:`list` and :func:`info` report about a named object."""

    name: str
    size: int
    owner_uid: int
    mode: int
    lifetime: _Lifetime | None
    """``None`` for objects made by other programs (treated as persistent)."""
    holders: int | None
    """Open handles holding it; ``None`` where it cannot be read."""
    holder_pids: builtins.list[int]
    is_value: bool
    """Whether it is a :class:`SharedValue`."""

def list() -> builtins.list[ObjectInfo]:
    """Every named object (``/dev/shm``, or ``$MMF_DIR``), sorted by name. Handle-lifetime
    objects whose holders are all gone are removed on the way and not listed."""

def info(name: str) -> ObjectInfo:
    """What :func:`list` reports about one object; :class:`~mmfpy.NotFoundError` if there is
    none."""

def remove(name: str) -> None:
    """Removes the name (``shm_unlink``); processes that have the object open keep using it."""

def gc() -> builtins.list[str]:
    """Removes handle-lifetime objects whose holders are all gone (killed), and returns their
    names."""

__all__ = ["Mapping", "View", "SharedValue", "ObjectInfo", "list", "info", "remove", "gc"]

if sys.platform == "linux":
    __all__ += ["_Waiter", "_wait_fd"]

    @final
    class _Waiter:
        """One pending :meth:`SharedValue.changed` (used by ``mmfpy._aio``): the library's async
        wait and the eventfd its waker signals."""

        def fileno(self) -> int:
            """The eventfd, for ``loop.add_reader``."""

        def poll(self) -> int | None:
            """The version once one newer than ``seen`` was stored, else ``None`` (the first call
            registers the wait)."""

        def close(self) -> None:
            """Ends the wait (after ``loop.remove_reader``); the eventfd is closed with the last
            waker."""

    def _wait_fd(value: SharedValue, seen: int) -> _Waiter:
        """A wait for a version of ``value`` newer than ``seen``, with its eventfd."""

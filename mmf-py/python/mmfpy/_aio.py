"""``await SharedValue.changed(seen)``: asyncio waits for a newer version.

How it wakes, on Linux: the library's async wait (``wait_newer_async``) registers with its
per-process waiter threads, which sleep in the kernel (``futex_waitv``: up to 127 waits per
thread) and wake the wait's ``Waker``; that writes to an eventfd the event loop watches with
``loop.add_reader``, so the loop itself wakes from its own ``epoll_wait`` and its callback polls the
wait again. Nothing is polled on either side, and no thread is started per await. Cancelling the
awaiting task (``task.cancel()``, ``asyncio.wait_for``, a ``timeout``) removes the reader and the
registration at once and closes the eventfd.

Elsewhere (Windows, macOS, or a loop without ``add_reader``, such as Windows' proactor loop): a
daemon thread of its own sleeps in ``wait_newer`` without the GIL and hands the version to the
loop with ``call_soon_threadsafe`` (the loop's self-pipe). It is not a thread of the loop's
default executor, so any number of pending waits cannot starve ``run_in_executor``; when the
awaiting task is cancelled the thread notices within a quarter of a second and ends.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from . import _mmfpy

# How long the fallback's waiter thread sleeps in one kernel wait before it checks whether the
# awaiting task was cancelled. A store wakes it at once whatever the slice.
_SLICE = 0.25


def _settle(fut: asyncio.Future[int], value: int | None, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)  # type: ignore[arg-type]


def _timed_out(value: Any, seen: int, timeout: float) -> BaseException:
    from ._errors import from_kind

    op, obj = "wait for a new version of", f"shared value {value.name!r}"
    return from_kind(
        "timed out",
        f"cannot {op} {obj}: timed out: no version newer than {seen} was stored within "
        f"{timeout} s",
        op,
        obj,
        None,
    )


async def changed(value: Any, seen: int, timeout: float | None = None) -> int:
    """Waits until a version newer than ``seen`` is stored and returns it."""
    from ._errors import from_kind

    if timeout is not None and not timeout >= 0:
        raise from_kind(
            "invalid input",
            f"cannot wait for a new version of shared value {value.name!r}: invalid input: "
            f"timeout must be a number of seconds, 0 or more, not {timeout}",
            "wait for a new version of",
            f"shared value {value.name!r}",
            None,
        )
    loop = asyncio.get_running_loop()
    wait_fd = getattr(_mmfpy, "_wait_fd", None)
    if wait_fd is not None:
        # A bad `seen` or a closed handle raises here, in the caller's task.
        waiter = wait_fd(value, seen)
        try:
            version = waiter.poll()
            if version is not None:
                return version
            fd = waiter.fileno()
            fut: asyncio.Future[int] = loop.create_future()

            def ready() -> None:
                if fut.done():
                    return
                try:
                    got = waiter.poll()
                except BaseException as e:  # noqa: BLE001 - handed to the awaiting task
                    fut.set_exception(e)
                    return
                if got is not None:
                    fut.set_result(got)

            try:
                loop.add_reader(fd, ready)
            except NotImplementedError:
                pass  # a loop without add_reader: the thread below
            else:
                timer = None
                if timeout is not None:
                    timer = loop.call_later(
                        timeout, lambda: _settle(fut, None, _timed_out(value, seen, timeout))
                    )
                try:
                    return await fut
                finally:
                    loop.remove_reader(fd)
                    if timer is not None:
                        timer.cancel()
        finally:
            waiter.close()
    return await _changed_in_thread(loop, value, seen, timeout)


async def _changed_in_thread(
    loop: asyncio.AbstractEventLoop, value: Any, seen: int, timeout: float | None
) -> int:
    from ._errors import TimedOutError

    # A version already newer returns at once; a bad `seen` or a closed handle raises here, in
    # the caller's task.
    try:
        return value.wait_newer(seen, 0)
    except TimedOutError:
        pass
    fut: asyncio.Future[int] = loop.create_future()
    stop = threading.Event()
    deadline = None if timeout is None else time.monotonic() + timeout

    def wait() -> None:
        version: int | None = None
        error: BaseException | None = None
        try:
            while not stop.is_set():
                left = _SLICE if deadline is None else min(_SLICE, deadline - time.monotonic())
                try:
                    version = value.wait_newer(seen, max(left, 0.0), spin=0)
                    break
                except TimedOutError:
                    if deadline is not None and time.monotonic() >= deadline:
                        error = _timed_out(value, seen, timeout)  # type: ignore[arg-type]
                        break
        except BaseException as e:  # noqa: BLE001 - handed to the awaiting task
            error = e
        if stop.is_set():
            return
        try:
            loop.call_soon_threadsafe(_settle, fut, version, error)
        except RuntimeError:
            pass  # the loop was closed meanwhile; nobody is waiting

    threading.Thread(target=wait, name=f"mmfpy changed({value.name})", daemon=True).start()
    try:
        return await fut
    finally:
        stop.set()

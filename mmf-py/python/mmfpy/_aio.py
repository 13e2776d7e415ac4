"""``await SharedValue.changed(seen)``: asyncio waits for a newer version.

How it wakes: a waiter thread sleeps in the kernel (``wait_newer``: a futex on Linux, an event
on Windows, without the GIL) and hands the version to the event loop with
``call_soon_threadsafe``, which writes to the loop's self-pipe, so the loop itself wakes through
its selector: no polling on either side. The thread is a daemon thread of its own, not one from
the loop's default executor, so any number of pending waits cannot starve ``run_in_executor``.
When the awaiting task is cancelled the thread notices within one wait slice (a quarter of a
second) and ends.

When mmf gains a pollable wait descriptor, this module can register it with
``loop.add_reader`` instead and drop the thread; the Python API stays the same.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

# How long the waiter thread sleeps in one kernel wait before it checks whether the awaiting
# task was cancelled. A store wakes it at once whatever the slice.
_SLICE = 0.25


def _settle(fut: asyncio.Future[int], value: int | None, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)  # type: ignore[arg-type]


async def changed(value: Any, seen: int, timeout: float | None = None) -> int:
    """Waits until a version newer than ``seen`` is stored and returns it."""
    from ._errors import TimedOutError, from_kind

    # A version already newer returns at once; a bad `seen` or a closed handle raises here, in
    # the caller's task.
    try:
        return value.wait_newer(seen, 0)
    except TimedOutError:
        pass
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
                    version = value.wait_newer(seen, max(left, 0.0))
                    break
                except TimedOutError as e:
                    if deadline is not None and time.monotonic() >= deadline:
                        error = from_kind(
                            "timed out",
                            f"cannot {e.operation} {e.object}: timed out: no version newer than "
                            f"{seen} was stored within {timeout} s",
                            e.operation,
                            e.object,
                            None,
                        )
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

"""`await SharedValue.changed(seen)`: on Linux an eventfd the event loop watches (no thread per
await), woken by stores from another Python process; 100 awaiters on one value in one loop;
cancellation and timeouts leave no descriptor or thread behind; the thread fallback (other
platforms, loops without add_reader) behaves the same."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import time

import pytest
from conftest import WATCHDOG, python, read_line

import mmfpy
from mmfpy import _mmfpy

LINUX = sys.platform == "linux"
linux_only = pytest.mark.skipif(not LINUX, reason="the eventfd path is Linux's")

STORER = """
import sys, mmfpy
v = mmfpy.SharedValue.open(sys.argv[1])
for line in sys.stdin:
    print(v.store(line.strip().encode()), flush=True)
"""


@contextlib.contextmanager
def storer(name: str):
    """Another Python process that stores each line it is sent (and prints the version); it must
    exit cleanly when its input ends."""
    p = python(STORER, name)

    def store(line: bytes) -> None:
        p.stdin.write(line + b"\n")
        p.stdin.flush()

    try:
        yield store, p
    finally:
        p.stdin.close()
        assert p.wait(WATCHDOG) == 0


def fds() -> dict[str, str]:
    """This process's open descriptors and what they are (the listing's own descriptor is closed
    by the time it is looked at, so it is left out)."""
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:
            pass
    return out


def tasks() -> int:
    """This process's threads, the library's waiter threads included."""
    return len(os.listdir("/proc/self/task"))


def fallback_threads() -> list[str]:
    """The fallback's waiter threads still running."""
    return [t.name for t in threading.enumerate() if t.name.startswith("mmfpy changed")]


async def settle(what, want) -> None:
    """Waits (bounded by the watchdog) until `what()` is `want`: a waiter thread that was waking
    a cancelled wait may hold its descriptor a moment longer."""
    deadline = time.monotonic() + WATCHDOG
    while what() != want:
        assert time.monotonic() < deadline, f"{what.__name__}: {what()!r}, not {want!r}"
        await asyncio.sleep(0.01)


@pytest.fixture(params=["eventfd", "thread"] if LINUX else ["thread"])
def way(request, monkeypatch):
    """Each test runs on Linux's eventfd path and on the fallback (a thread per await)."""
    if request.param == "thread":
        monkeypatch.delattr(_mmfpy, "_wait_fd", raising=False)
    return request.param


@linux_only
def test_a_pending_wait_is_one_eventfd_and_no_thread(name):
    v = mmfpy.SharedValue.create(name)

    async def main():
        # A first wait starts the library's waiter thread (one per 127 waits, for the life of
        # the process).
        with pytest.raises(TimeoutError):
            await v.changed(0, timeout=0.01)
        before, threads = fds(), (threading.active_count(), tasks())
        waiter = asyncio.create_task(v.changed(0))
        await asyncio.sleep(0.05)
        now = fds()
        assert [now[fd] for fd in now.keys() - before.keys()] == ["anon_inode:[eventfd]"]
        assert (threading.active_count(), tasks()) == threads
        v.store(b"x")
        assert await asyncio.wait_for(waiter, WATCHDOG) == 1
        await settle(fds, before)

    asyncio.run(main())
    v.close()


def test_a_store_from_another_python_process_wakes_the_await(name, way):
    v = mmfpy.SharedValue.create(name)
    v.store(b"before")
    with storer(name) as (store, p):

        async def main():
            waiter = asyncio.create_task(v.changed(v.version))
            await asyncio.sleep(0.05)
            assert not waiter.done()
            store(b"from another process")
            return await asyncio.wait_for(waiter, WATCHDOG)

        assert asyncio.run(main()) == 2
        assert read_line(p) == "2"
        assert v.retrieve() == b"from another process"
    v.close()


def test_a_hundred_awaiters_on_one_value_in_one_loop(name, way):
    v = mmfpy.SharedValue.create(name)
    with storer(name) as (store, _):

        async def main():
            before = fds()
            waiters = [asyncio.create_task(v.changed(0)) for _ in range(100)]
            await asyncio.sleep(0.1)
            assert not any(w.done() for w in waiters)
            store(b"all of you")
            got = await asyncio.wait_for(asyncio.gather(*waiters), WATCHDOG)
            await settle(fds, before)
            return got

        assert asyncio.run(main()) == [1] * 100
    v.close()


@linux_only
def test_a_waits_eventfd_stays_open_until_close(name):
    # The loop watches the descriptor until the awaiting task runs again (`remove_reader`, then
    # `close()`): closed any earlier, its number could go to the next descriptor opened in the
    # loop, whose registration the stale one would swallow.
    v = mmfpy.SharedValue.create(name)
    waiter = _mmfpy._wait_fd(v, v.version)
    assert waiter.poll() is None
    fd = str(waiter.fileno())
    v.store(b"x")
    deadline = time.monotonic() + WATCHDOG
    while (got := waiter.poll()) is None:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    assert got == 1
    assert fds().get(fd) == "anon_inode:[eventfd]", "closed when the wait ended"
    waiter.close()
    deadline = time.monotonic() + WATCHDOG
    while fds().get(fd) == "anon_inode:[eventfd]":
        assert time.monotonic() < deadline, "not closed by close()"
        time.sleep(0.001)
    v.close()


def test_cancellation_and_timeouts_leave_nothing_behind(name, way):
    v = mmfpy.SharedValue.create(name)

    async def main():
        # Warm up: the library's waiter thread, asyncio's own descriptors; the fallback's thread
        # for this wait ends on its own.
        with pytest.raises(TimeoutError):
            await v.changed(0, timeout=0.01)
        await settle(fallback_threads, [])
        before, threads = fds(), tasks()
        # task.cancel()
        waiters = [asyncio.create_task(v.changed(0)) for _ in range(100)]
        await asyncio.sleep(0.05)
        for w in waiters:
            w.cancel()
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        await settle(fds, before)
        await settle(tasks, threads)
        # asyncio.wait_for, and the wait's own timeout
        for _ in range(20):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(v.changed(0), 0.01)
            with pytest.raises(mmfpy.TimedOutError):
                await v.changed(0, timeout=0.01)
        await settle(fds, before)
        await settle(tasks, threads)
        # Still woken afterwards, once.
        waiter = asyncio.create_task(v.changed(0))
        await asyncio.sleep(0.05)
        v.store(b"after")
        assert await asyncio.wait_for(waiter, WATCHDOG) == 1

    asyncio.run(main())
    v.close()


@linux_only
def test_a_loop_without_add_reader_falls_back_to_a_thread(name):
    class NoReaders(asyncio.SelectorEventLoop):
        def add_reader(self, *args, **kwargs):
            raise NotImplementedError

    v = mmfpy.SharedValue.create(name)
    loop = NoReaders()
    try:
        before = fds()

        async def main():
            waiter = asyncio.create_task(v.changed(0))
            await asyncio.sleep(0.05)
            v.store(b"x")
            return await asyncio.wait_for(waiter, WATCHDOG)

        assert loop.run_until_complete(main()) == 1
        assert fds() == before  # the eventfd was closed when the loop refused it
    finally:
        loop.close()
    v.close()

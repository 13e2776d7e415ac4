"""SharedValue in one process (threads stand in for a second process where timing does not
matter; the cross-process tests are in test_processes.py and test_cli.py)."""

from __future__ import annotations

import array
import asyncio
import threading

import numpy as np
import pytest

import mmfpy


def test_store_retrieve_version(name):
    with mmfpy.SharedValue.create(name) as v:
        assert (v.name, v.version, v.retrieve()) == (name, 0, b"")
        assert v.store(b"first") == 1
        assert v.store(bytearray(b"second")) == 2
        assert (v.version, v.retrieve()) == (2, b"second")
        assert v.retrieve_versioned() == (2, b"second")
        with mmfpy.SharedValue.open(name) as other:
            assert other.retrieve() == b"second"
    with pytest.raises(mmfpy.NotFoundError):
        mmfpy.SharedValue.open(name)


def test_store_reads_any_buffer_in_place(name):
    v = mmfpy.SharedValue.create(name)
    v.store(np.arange(4, dtype=np.uint16))
    assert v.retrieve() == np.arange(4, dtype=np.uint16).tobytes()
    v.store(array.array("d", [1.5]))
    assert v.retrieve() == array.array("d", [1.5]).tobytes()
    v.store(memoryview(b"abcdef")[2:4])
    assert v.retrieve() == b"cd"
    big = np.random.default_rng(1).integers(0, 255, 3 << 20, dtype=np.uint8)
    v.store(big)  # larger than the initial capacity: the value grows
    assert v.retrieve() == big.tobytes()
    v.close()


def test_retrieve_at_every_size_and_after_size_changes(name):
    # Small values go through a buffer on the stack, larger ones straight into the new bytes:
    # every switch between the two ways, at and around the line between them.
    v = mmfpy.SharedValue.create(name)
    rng = np.random.default_rng(2)
    for n in [0, 10, 4096, 4097, 10, 100_000, 0, 4095, 1 << 20, 4096, 1, 70_000, 70_000, 3]:
        data = rng.integers(0, 255, n, dtype=np.uint8).tobytes()
        version = v.store(data)
        assert v.retrieve_versioned() == (version, data), n
        into = bytearray(n + 3)
        assert v.retrieve_into(into) == n and into[:n] == data
    v.close()


def test_store_and_view_write_from_shared_memory(name):
    # The source is itself shared memory (a View's buffer): copied as it is, nothing else.
    m = mmfpy.Mapping.create(name + "-src", 8192)
    view = m.map()
    view.write(0, bytes(range(256)) * 32)
    v = mmfpy.SharedValue.create(name)
    v.store(memoryview(view)[100:5000])
    assert v.retrieve() == (bytes(range(256)) * 32)[100:5000]
    view.write(1, memoryview(view)[4096:8000])  # overlapping the destination's mapping
    assert view.read(1, 3904) == (bytes(range(256)) * 32)[4096:8000]
    v.close()
    view.close()
    m.close()


def test_retrieve_into_a_buffer(name):
    v = mmfpy.SharedValue.create(name)
    v.store(b"hello")
    buf = bytearray(16)
    assert v.retrieve_into(buf) == 5 and buf[:5] == b"hello"
    arr = np.zeros(8, np.uint8)
    assert v.retrieve_into(arr) == 5 and arr[:5].tobytes() == b"hello"
    with pytest.raises(mmfpy.InvalidInputError, match="5 bytes and the destination holds only 4"):
        v.retrieve_into(bytearray(4))
    with pytest.raises(BufferError):
        v.retrieve_into(b"read-only bytes")
    v.close()


def test_version_is_a_read_only_int(name):
    v = mmfpy.SharedValue.create(name)
    v.store(b"x")
    assert isinstance(v.version, int) and v.version == 1
    with pytest.raises(AttributeError):
        v.version = 5
    v.close()


def test_wait_newer_wakes_on_store_and_times_out(name):
    v = mmfpy.SharedValue.create(name)
    seen = v.version
    with pytest.raises(mmfpy.TimedOutError) as e:
        v.wait_newer(seen, 0.05)
    assert isinstance(e.value, TimeoutError) and "no version newer than 0" in str(e.value)
    got = []
    t = threading.Thread(target=lambda: got.append(v.wait_newer(seen, 60)))
    t.start()
    other = mmfpy.SharedValue.open(name)
    other.store(b"wake up")
    t.join(60)
    assert got == [1]
    assert v.wait_newer(0) == 1  # a newer one exists already: returns at once
    other.close()
    v.close()


def test_wait_newer_releases_the_gil(name):
    v = mmfpy.SharedValue.create(name)
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.001)

    t = threading.Thread(target=count)
    t.start()
    with pytest.raises(TimeoutError):
        v.wait_newer(0, 0.3)
    n = len(ticks)
    stop.set()
    t.join()
    assert n > 10  # the other thread ran while this one waited
    v.close()


def test_changed_in_asyncio(name):
    v = mmfpy.SharedValue.create(name)

    async def main():
        waiter = asyncio.create_task(v.changed(v.version))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        writer = mmfpy.SharedValue.open(name)
        await asyncio.get_running_loop().run_in_executor(None, writer.store, b"news")
        got = await asyncio.wait_for(waiter, 60)
        writer.close()
        # already newer: returns without waiting
        assert await v.changed(0) == 1
        with pytest.raises(TimeoutError):
            await v.changed(1, timeout=0.1)
        # cancellation: the task ends, nothing is left hanging
        t = asyncio.create_task(v.changed(1))
        await asyncio.sleep(0.05)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        return got

    assert asyncio.run(main()) == 1
    v.close()


def test_readonly_handle_cannot_store(name):
    v = mmfpy.SharedValue.create(name)
    v.store(b"one")
    r = mmfpy.SharedValue.open(name, readonly=True)
    assert r.readonly and r.retrieve() == b"one"
    with pytest.raises(mmfpy.PermissionDeniedError):
        r.store(b"two")
    r.close()
    v.close()


def test_open_or_create(name):
    a, created = mmfpy.SharedValue.open_or_create(name, capacity=1 << 16)
    b, again = mmfpy.SharedValue.open_or_create(name)
    assert (created, again) == (True, False)
    a.store(b"shared")
    assert b.retrieve() == b"shared"
    assert mmfpy.info(name).is_value
    a.close()
    b.close()


def test_closed_handle_raises(name):
    v = mmfpy.SharedValue.create(name)
    v.close()
    v.close()
    assert v.closed
    for call in (lambda: v.store(b"x"), v.retrieve, lambda: v.version, lambda: v.wait_newer(0, 0)):
        with pytest.raises(mmfpy.InvalidInputError, match="closed"):
            call()


@pytest.mark.parametrize(
    "call, exc",
    [
        (lambda v: v.store("text"), TypeError),
        (lambda v: v.store(None), TypeError),
        (lambda v: v.store(np.arange(10, dtype=np.uint8)[::3]), (BufferError, ValueError)),
        (lambda v: v.wait_newer(-1, 0), mmfpy.InvalidInputError),
        (lambda v: v.wait_newer(0, -1.0), mmfpy.InvalidInputError),
        (lambda v: v.wait_newer(0, float("nan")), ValueError),
        (lambda v: v.wait_newer("0", 0), TypeError),
        (lambda v: v.retrieve_into(42), TypeError),
        (lambda v: mmfpy.SharedValue.create(v.name), FileExistsError),
        (lambda v: mmfpy.SharedValue.create("a/b"), mmfpy.InvalidNameError),
        (lambda v: mmfpy.SharedValue.create(v.name + "x", capacity=-1), ValueError),
        (lambda v: mmfpy.SharedValue.open(v.name + "missing"), FileNotFoundError),
        (lambda v: asyncio.run(v.changed(-3)), ValueError),
        (lambda v: asyncio.run(v.changed(0, timeout=-1)), ValueError),
    ],
)
def test_bad_value_arguments_raise_the_right_exception(name, call, exc):
    v = mmfpy.SharedValue.create(name)
    with pytest.raises(exc):
        call(v)
    v.close()


def test_plain_objects_are_not_values(name):
    m = mmfpy.Mapping.create(name, 4096)
    m.map().write(0, b"not a shared value header")
    with pytest.raises(mmfpy.CorruptError) as e:
        mmfpy.SharedValue.open(name)
    assert isinstance(e.value, OSError) and name in str(e.value)
    m.close()


def test_slots_and_capacity(name):
    v = mmfpy.SharedValue.create(name, capacity=1 << 16, slots=2)
    v.store(bytes(1 << 16))
    assert len(v.retrieve()) == 1 << 16
    v.close()
    for bad in (1, 65, -2):
        with pytest.raises(ValueError):
            mmfpy.SharedValue.create(name, slots=bad)


def test_wait_newer_with_spin(name):
    # The default (adaptive) and no spin at all.
    w = mmfpy.SharedValue.create(name + "-2")
    for spin in ({}, {"spin": None}, {"spin": 0}):
        seen = w.version
        t = threading.Thread(target=lambda: w.store(b"y"))
        t.start()
        assert w.wait_newer(seen, 60, **spin) > seen
        t.join(60)
        with pytest.raises(TimeoutError):
            w.wait_newer(w.version, 0.01, **spin)
    w.close()
    v = mmfpy.SharedValue.create(name)
    got = []
    t = threading.Thread(target=lambda: got.append(v.wait_newer(0, 60, spin=0.001)))
    t.start()
    mmfpy.SharedValue.open(name).store(b"x")
    t.join(60)
    assert got == [1]
    assert v.wait_newer(0, spin=1.0) == 1  # already newer
    with pytest.raises(TimeoutError):
        v.wait_newer(1, 0.05, spin=10.0)  # the spin is bounded by the timeout
    with pytest.raises(ValueError):
        v.wait_newer(1, 0.05, spin=-1)
    v.close()

"""Real processes: arrays and values shared between them, and killed holders."""

from __future__ import annotations

import multiprocessing
import os
import signal

import numpy as np
import pytest
import workers
from conftest import WATCHDOG, python, read_line, run_python

import mmfpy

spawn = multiprocessing.get_context("spawn")


def test_array_written_by_one_process_is_seen_by_another(name):
    m = mmfpy.Mapping.create(name, 1 << 20)
    mine = m.map().numpy(np.float64)
    with spawn.Pool(1) as pool:
        # the child writes, closes its handle, and still reads its array after the close
        assert pool.apply(workers.fill, (name, 2.5)) == 2.5 * mine.size
        assert float(mine.sum()) == 2.5 * mine.size
        mine[:] = 1.0
        assert pool.apply(workers.total, (name,)) == float(mine.size)
    m.close()
    del mine


def test_a_pool_shares_an_array_with_handle_lifetime(name):
    m = mmfpy.Mapping.create(name, workers.ROWS * workers.COLS * 8)
    a = m.map().numpy(np.float64, (workers.ROWS, workers.COLS))
    with spawn.Pool(3, initializer=workers.pool_init, initargs=(name,)) as pool:
        pids = pool.map(workers.pool_row, range(workers.ROWS))
        assert len(set(pids)) >= 1
        assert mmfpy.info(name).holders >= 2  # this process and the workers
    pool.join()
    expected = np.arange(workers.ROWS)[:, None] * np.arange(workers.COLS)[None, :]
    assert np.array_equal(a, expected)
    m.close()
    del a
    # the workers have exited and this process let go: the name is gone
    with pytest.raises(FileNotFoundError):
        mmfpy.Mapping.open(name)


HOLDER = """
import sys, mmfpy
m = mmfpy.Mapping.create(sys.argv[1], 4096)
m.map().write(0, b"written before the kill")
v = mmfpy.SharedValue.create(sys.argv[1] + "-value")
v.store(b"stored before the kill")
print("ready", flush=True)
sys.stdin.read()  # hold until killed
"""


def test_a_killed_holder_leaves_the_objects_to_the_other_holders(name):
    p = python(HOLDER, name)
    assert read_line(p) == "ready"
    m = mmfpy.Mapping.open(name)
    v = mmfpy.SharedValue.open(name + "-value")
    p.send_signal(signal.SIGKILL)
    p.wait(WATCHDOG)
    assert p.returncode == -signal.SIGKILL
    # still there for the surviving holder, contents intact
    assert m.map().read(0, 23) == b"written before the kill"
    assert v.retrieve() == b"stored before the kill"
    mmfpy.Mapping.open(name).close()
    m.close()
    v.close()
    # the last holder let go: both names are gone
    with pytest.raises(FileNotFoundError):
        mmfpy.Mapping.open(name)
    with pytest.raises(FileNotFoundError):
        mmfpy.SharedValue.open(name + "-value")


def test_a_killed_sole_holder_is_removed_by_gc(name, tmp_path, monkeypatch):
    # A namespace of this test's own (on tmpfs where /dev/shm is), so that nobody else's gc or
    # open removes the dead object before ours does.
    ns = f"/dev/shm/{name}-dir"
    os.mkdir(ns)
    try:
        monkeypatch.setenv("MMF_DIR", ns)
        p = python(HOLDER, name)
        assert read_line(p) == "ready"
        info = mmfpy.info(name)
        assert (info.lifetime, info.holders, info.holder_pids) == ("handle", 1, [p.pid])
        p.kill()
        p.wait(WATCHDOG)
        assert sorted(os.listdir(ns)) == [name, name + "-value"]  # nobody removed them yet
        assert sorted(mmfpy.gc()) == [name, name + "-value"]
        assert os.listdir(ns) == []
        # and `open` of a dead object also removes it rather than reviving it
        p = python(HOLDER, name)
        assert read_line(p) == "ready"
        p.kill()
        p.wait(WATCHDOG)
        with pytest.raises(FileNotFoundError):
            mmfpy.Mapping.open(name)
        assert os.listdir(ns) == [name + "-value"]
        mmfpy.gc()
    finally:
        for f in os.listdir(ns):
            os.unlink(os.path.join(ns, f))
        os.rmdir(ns)


def test_close_with_a_live_array_keeps_it_live_and_never_crashes(name):
    # In a child, so that a crash would show as a signal instead of taking pytest down.
    r = run_python(
        """
        import gc, sys, numpy as np, mmfpy
        name = sys.argv[1]
        m = mmfpy.Mapping.create(name, 1 << 16)
        a = m.map().numpy(np.uint8)
        mv = memoryview(m.map())
        m.close()
        print("closed", flush=True)
        other = mmfpy.Mapping.open(name)  # the array still holds the object: it can be opened
        other.map().write(0, b"seen after close")
        other.close()
        print(bytes(a[:16]).decode(), bytes(mv[:4]).decode(), flush=True)
        mv.release()
        del a
        gc.collect()
        try:
            mmfpy.Mapping.open(name)
        except FileNotFoundError:
            print("gone", flush=True)
        """,
        name,
    )
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().split("\n")[:3] == ["closed", "seen after close seen", "gone"]


WAITER = """
import sys, mmfpy
v = mmfpy.SharedValue.open(sys.argv[1])
seen = v.version
print("waiting", seen, flush=True)
new = v.wait_newer(seen, 60)
print(new, v.retrieve().decode(), flush=True)
"""


def test_a_store_wakes_a_waiter_in_another_process(name):
    v = mmfpy.SharedValue.create(name)
    v.store(b"old")
    p = python(WAITER, name)
    assert read_line(p) == "waiting 1"
    v.store(b"new")
    assert read_line(p) == "2 new"
    assert p.wait(WATCHDOG) == 0
    v.close()

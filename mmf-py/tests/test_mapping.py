"""Mapping and View in one process: creation, the buffer protocol, numpy, deferred unmap."""

from __future__ import annotations

import ctypes
import errno
import gc
import os
import subprocess

import numpy as np
import pytest

import mmfpy


def is_mapped(inode: int) -> bool:
    """Whether this process maps the file with this inode (/proc shows the inode even when the
    name has changed or gone)."""
    with open("/proc/self/maps") as f:
        return any(int(line.split()[4]) == inode for line in f)


def test_create_open_and_share_bytes(name):
    with mmfpy.Mapping.create(name, 4096) as m:
        assert (m.name, m.size, m.lifetime, m.backing, m.readonly) == (name, 4096, "handle", "named", False)
        m.map().write(100, b"typed by the user")
        with mmfpy.Mapping.open(name) as o:
            assert o.map(100, 17).read() == b"typed by the user"
    # handle lifetime: gone with the last handle
    with pytest.raises(mmfpy.NotFoundError):
        mmfpy.Mapping.open(name)


def test_open_or_create_says_which(name):
    a, created = mmfpy.Mapping.open_or_create(name, 8192)
    b, created_again = mmfpy.Mapping.open_or_create(name, 8192)
    assert (created, created_again) == (True, False)
    assert b.size == 8192
    a.close()
    b.close()


def test_persistent_lives_until_removed(name):
    mmfpy.Mapping.create(name, 4096, lifetime="persistent", mode=0o640).close()
    info = mmfpy.info(name)
    assert (info.size, info.lifetime, info.mode, info.is_value) == (4096, "persistent", 0o640, False)
    assert name in [o.name for o in mmfpy.list()]
    mmfpy.Mapping.open(name).close()
    mmfpy.remove(name)
    with pytest.raises(FileNotFoundError):
        mmfpy.info(name)


def test_buffer_protocol_is_zero_copy(name):
    m = mmfpy.Mapping.create(name, 4096)
    v = m.map()
    mv = memoryview(v)
    assert (mv.nbytes, mv.readonly, mv.format) == (4096, False, "B")
    mv[10:15] = b"hello"
    assert v.read(10, 5) == b"hello"  # written through the memoryview, read through the view
    assert bytes(v[10:15]) == b"hello"
    v[20] = 7
    assert v[20] == 7 and v.read(20, 1) == b"\x07"
    a = np.frombuffer(v, dtype=np.uint8)
    a[30] = 42
    assert v.read(30, 1) == b"*"
    arr = v.numpy(np.float64, (8, 4))
    assert arr.shape == (8, 4) and arr.dtype == np.float64
    arr[1, 2] = 1.5
    assert np.frombuffer(v.read(8 * 6, 8), np.float64)[0] == 1.5
    assert v.exports == 3
    del mv, a, arr
    gc.collect()
    assert v.exports == 0
    m.close()


def test_views_at_offsets_and_copy_on_write(name):
    m = mmfpy.Mapping.create(name, 3 * 4096)
    m.map().write(5000, b"at 5000")
    v = m.map(5000, 100)
    assert (v.offset, v.size, len(v)) == (5000, 100, 100)
    assert v.read(0, 7) == b"at 5000"
    c = m.map(access="copy")
    c.write(5000, b"private")
    assert c.read(5000, 7) == b"private"
    assert m.map().read(5000, 7) == b"at 5000"
    m.close()


def test_close_with_live_array_defers_the_unmap(name):
    m = mmfpy.Mapping.create(name, 1 << 20)
    inode = os.stat(f"/dev/shm/{name}").st_ino
    arr = m.map().numpy(np.int64)
    arr[:] = np.arange(arr.size)
    m.close()  # never raises, although the array is alive
    m.close()  # twice is fine
    assert is_mapped(inode)  # still mapped: the array reads real memory
    assert int(arr[12345]) == 12345
    arr[0] = -1
    assert int(arr[0]) == -1
    # The mapped memory still holds the handle-lifetime object, as a view does in Win32.
    mmfpy.Mapping.open(name).close()
    del arr
    gc.collect()
    assert not is_mapped(inode)  # the last release unmapped it
    with pytest.raises(FileNotFoundError):  # and with it went the last holder: the name is gone
        mmfpy.Mapping.open(name)


def test_closed_view_refuses_new_exports_and_reads(name):
    m = mmfpy.Mapping.create(name, 4096)
    v = m.map()
    mv = memoryview(v)
    v.close()
    assert v.closed and v.exports == 1
    assert mv[0] == 0  # the existing export still works
    with pytest.raises(BufferError, match="closed"):
        memoryview(v)
    with pytest.raises(mmfpy.InvalidInputError, match="closed"):
        v.read(0, 1)
    with pytest.raises(ValueError, match="closed"):
        v.write(0, b"x")
    mv.release()
    assert v.exports == 0
    m.close()
    with pytest.raises(ValueError, match="the mapping is closed"):
        m.map()


def test_readonly_views_refuse_writable_buffers(name):
    mmfpy.Mapping.create(name, 4096, lifetime="persistent").close()
    m = mmfpy.Mapping.open(name, readonly=True)
    assert m.readonly
    v = m.map()
    assert (v.access, v.readonly) == ("ro", True)
    assert memoryview(v).readonly
    a = v.numpy()
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0] = 1
    # A writable request straight through the C API gets a BufferError that says why.
    buf = (ctypes.c_char * 88)()
    get = ctypes.pythonapi.PyObject_GetBuffer
    get.argtypes = [ctypes.py_object, ctypes.c_void_p, ctypes.c_int]
    with pytest.raises(BufferError, match="read-only.*access=\"rw\""):
        get(v, ctypes.addressof(buf), 1)  # PyBUF_WRITABLE
    with pytest.raises(mmfpy.PermissionDeniedError):
        m.map(access="rw")
    with pytest.raises(PermissionError):
        v.write(0, b"x")
    del a
    m.close()


def test_anonymous_and_file_mappings(tmp_path):
    a = mmfpy.Mapping.anonymous(8192)
    assert (a.name, a.backing) == (None, "anonymous")
    a.map().write(0, b"anon")
    assert a.map().read(0, 4) == b"anon"
    a.close()

    p = tmp_path / "data.bin"
    f = mmfpy.Mapping.open_file(p, size=10000, create=True)
    assert (f.size, f.backing) == (10000, "file")
    v = f.map()
    v.numpy(np.uint8)[9990:] = 9
    v.flush()
    f.close()
    del v
    assert p.read_bytes()[9990:] == b"\x09" * 10
    r = mmfpy.Mapping.open_file(str(p), readonly=True)
    assert r.map(9990).read() == b"\x09" * 10
    with pytest.raises(FileNotFoundError):
        mmfpy.Mapping.open_file(tmp_path / "missing")


def test_numpy_shape_checks(name):
    m = mmfpy.Mapping.create(name, 100)
    v = m.map()
    with pytest.raises(mmfpy.InvalidInputError, match="whole number"):
        v.numpy(np.float64)
    with pytest.raises(mmfpy.OutOfRangeError, match="needs 104 bytes"):
        v.numpy(np.float64, (13,))
    assert v.numpy(np.float64, (3, 4)).shape == (3, 4)
    assert v.numpy(np.int32, 25).shape == (25,)
    m.close()


def test_opening_a_multiprocessing_shared_memory_segment(name):
    from multiprocessing import resource_tracker, shared_memory

    seg = shared_memory.SharedMemory(name=name, create=True, size=4096)
    try:
        seg.buf[:5] = b"hello"
        m = mmfpy.Mapping.open(name)  # the same POSIX object, no resource tracker involved
        assert m.lifetime == "persistent" and m.size >= 4096
        assert m.map().read(0, 5) == b"hello"
        m.map().write(5, b" world")
        assert bytes(seg.buf[:11]) == b"hello world"
        m.close()
    finally:
        seg.close()
        seg.unlink()
    # and the reverse: SharedMemory opens an mmfpy object by its name
    m = mmfpy.Mapping.create(name, 4096, lifetime="persistent")
    m.map().write(0, b"from mmfpy")
    seg = shared_memory.SharedMemory(name=name)
    try:
        assert bytes(seg.buf[:10]) == b"from mmfpy"
    finally:
        seg.close()
        resource_tracker.unregister(seg._name, "shared_memory")  # 3.11 tracks what it opens
    m.close()
    mmfpy.remove(name)


def test_exceptions_are_both_mmf_and_builtin(name):
    with pytest.raises(mmfpy.NotFoundError) as e:
        mmfpy.Mapping.open(name)
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, mmfpy.Error)
    assert e.value.kind == "not found" and e.value.operation == "open"
    assert e.value.errno == errno.ENOENT
    assert name in str(e.value) and str(e.value).startswith("cannot open")
    m = mmfpy.Mapping.create(name, 4096)
    with pytest.raises(FileExistsError) as e:
        mmfpy.Mapping.create(name, 4096)
    assert isinstance(e.value, mmfpy.AlreadyExistsError)
    assert e.value.errno == errno.EEXIST
    m.close()


@pytest.mark.parametrize(
    "call, exc",
    [
        (lambda n: mmfpy.Mapping.create("", 4096), mmfpy.InvalidNameError),
        (lambda n: mmfpy.Mapping.create("a/b", 4096), ValueError),
        (lambda n: mmfpy.Mapping.create("x" * 300, 4096), ValueError),
        (lambda n: mmfpy.Mapping.create("nul\0", 4096), ValueError),
        (lambda n: mmfpy.Mapping.create(n, -1), mmfpy.InvalidInputError),
        (lambda n: mmfpy.Mapping.create(n, 0), ValueError),
        (lambda n: mmfpy.Mapping.create(n, 2**70), ValueError),
        (lambda n: mmfpy.Mapping.create(n, "4096"), TypeError),
        (lambda n: mmfpy.Mapping.create(n, 4.5), TypeError),
        (lambda n: mmfpy.Mapping.create(42, 4096), TypeError),
        (lambda n: mmfpy.Mapping.create(n, 4096, lifetime="forever"), ValueError),
        (lambda n: mmfpy.Mapping.create(n, 4096, mode=0o7777), ValueError),
        (lambda n: mmfpy.Mapping.create(n, 4096, mode=-1), ValueError),
        (lambda n: mmfpy.Mapping.open(n), FileNotFoundError),
        (lambda n: mmfpy.Mapping.anonymous(-4096), ValueError),
        (lambda n: mmfpy.Mapping.open_file(None), TypeError),
        (lambda n: mmfpy.remove("bad/name"), mmfpy.InvalidNameError),
        (lambda n: mmfpy.info(""), ValueError),
    ],
)
def test_bad_input_raises_the_right_exception(name, call, exc):
    with pytest.raises(exc):
        call(name)


@pytest.mark.parametrize(
    "call, exc",
    [
        (lambda m: m.map(4097), mmfpy.OutOfRangeError),
        (lambda m: m.map(-1), ValueError),
        (lambda m: m.map(0, 8192), mmfpy.OutOfRangeError),
        (lambda m: m.map(2**64 - 1, 2), ValueError),
        (lambda m: m.map(access="rwx"), mmfpy.InvalidInputError),
        (lambda m: m.map(access=1), TypeError),
        (lambda m: m.map().read(4000, 200), mmfpy.OutOfRangeError),
        (lambda m: m.map().read(-5, 1), ValueError),
        (lambda m: m.map().read(0, 2**40), mmfpy.OutOfRangeError),  # allocates nothing first
        (lambda m: m.map().read(2**63, 2**63), mmfpy.OutOfRangeError),
        (lambda m: m.map().write(4095, b"ab"), mmfpy.OutOfRangeError),
        (lambda m: m.map().write(0, "text"), TypeError),
        (lambda m: m.map().write(0, 12), TypeError),
        (lambda m: m.map()[5000], IndexError),
        (lambda m: m.map().numpy("not a dtype"), TypeError),
    ],
)
def test_bad_view_arguments_raise_the_right_exception(name, call, exc):
    m = mmfpy.Mapping.create(name, 4096)
    with pytest.raises(exc):
        call(m)
    m.close()


def test_write_accepts_any_contiguous_buffer(name):
    m = mmfpy.Mapping.create(name, 4096)
    v = m.map()
    v.write(0, np.array([1, 2], dtype=np.uint32))
    v.write(8, bytearray(b"ba"))
    v.write(10, memoryview(b"xmv")[1:])
    assert v.read(0, 12) == b"\x01\0\0\0\x02\0\0\0bamv"
    with pytest.raises((BufferError, ValueError)):  # numpy says ValueError
        v.write(0, np.arange(10, dtype=np.uint8)[::2])  # not contiguous
    m.close()


def test_repr_names_the_object(name):
    m = mmfpy.Mapping.create(name, 4096)
    assert name in repr(m) and name in repr(m.map(0, 10))
    m.close()
    assert "closed" in repr(m)
    assert os.path.exists(f"/dev/shm/{name}") is False


def test_a_full_shm_directory_is_out_of_space(name, tmp_path, monkeypatch):
    # A 1 MiB tmpfs as the namespace: a 4 MiB object cannot be committed there.
    d = tmp_path / "tmpfs"
    d.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "mmfpy-test", str(d)], capture_output=True
    )
    if r.returncode != 0:
        why = f"cannot mount a small tmpfs: {r.stderr.decode().strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        print(f"SKIPPED: {why}")
        pytest.skip(why)
    try:
        monkeypatch.setenv("MMF_DIR", str(d))
        with pytest.raises(mmfpy.OutOfSpaceError) as e:
            mmfpy.Mapping.create(name, 4 << 20)
        assert isinstance(e.value, OSError) and name in str(e.value)
        assert e.value.errno == errno.ENOSPC
        v = mmfpy.SharedValue.create(name + "-value")
        with pytest.raises(mmfpy.OutOfSpaceError):
            v.store(bytes(4 << 20))  # the value cannot grow: an error, never SIGBUS
        assert v.retrieve() == b""  # nothing was stored
        v.close()
        assert os.listdir(d) == []
    finally:
        subprocess.run(["umount", str(d)], capture_output=True)


def test_exports_and_close_from_many_threads(name):
    import threading

    for _ in range(50):
        m = mmfpy.Mapping.create(name, 1 << 16)
        views = [m.map() for _ in range(4)]
        errors = []

        def work(k):
            try:
                for i in range(50):
                    v = views[(k + i) % 4]
                    try:
                        a = np.frombuffer(v, np.uint8)
                        a[k] += 1
                        del a
                    except BufferError:
                        pass  # closed meanwhile
                    try:
                        v.read(0, 16)
                    except mmfpy.InvalidInputError:
                        pass
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        m.close()  # while the threads export and read
        for t in threads:
            t.join(60)
        assert errors == []
        assert [v.exports for v in views] == [0, 0, 0, 0]
        assert all(v.closed for v in views)
    with pytest.raises(FileNotFoundError):  # every view was unmapped: the name is gone
        mmfpy.Mapping.open(name)

"""Interoperability with the Rust library called directly (its test helper binary): values and
mapped bytes from Python read by Rust, and the reverse, and a Rust waiter woken by a Python store."""

from __future__ import annotations

import subprocess

import numpy as np
from conftest import WATCHDOG, read_line

import mmfpy


def helper(path: str, *args: str) -> str:
    p = subprocess.run([path, *args], capture_output=True, timeout=WATCHDOG)
    assert p.returncode == 0, f"mmf-testhelper {args} exited {p.returncode}: {p.stderr!r}"
    return p.stdout.decode().strip()


def test_python_value_is_retrieved_by_rust(name, rust_helper):
    v = mmfpy.SharedValue.create(name)
    v.store(b"\x00from python\xff")
    assert helper(rust_helper, "value-wait", name, "0").split("\n") == [
        "waiting",
        "got 1 " + b"\x00from python\xff".hex(),
    ]
    v.close()


def test_rust_value_is_retrieved_by_python(name, rust_helper):
    v = mmfpy.SharedValue.create(name)
    assert helper(rust_helper, "value-store", name, b"from rust".hex()) == "1"
    assert v.retrieve_versioned() == (1, b"from rust")
    v.close()


def test_a_rust_waiter_is_woken_by_a_python_store(name, rust_helper):
    v = mmfpy.SharedValue.create(name)
    v.store(b"one")
    p = subprocess.Popen(
        [rust_helper, "value-wait", name, "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert read_line(p) == "waiting"
    v.store(b"two")
    assert read_line(p) == "got 2 " + b"two".hex()
    assert p.wait(WATCHDOG) == 0
    v.close()


def test_mapped_bytes_both_ways(name, rust_helper):
    m = mmfpy.Mapping.create(name, 4096)
    a = m.map().numpy(np.uint32)
    a[:4] = [1, 2, 3, 0xDEADBEEF]
    assert helper(rust_helper, "read", name, "0", "16") == a[:4].tobytes().hex()
    helper(rust_helper, "write", name, "16", np.array([7, 8], np.uint32).tobytes().hex())
    assert a[4:6].tolist() == [7, 8]
    m.close()

"""Shared fixtures: unique object names that are cleaned up, the mmf CLI, child processes with
watchdogs."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mmfpy

REPO = Path(__file__).resolve().parents[2]
# Every wait on another process is bounded by this; no test asserts how long anything takes.
WATCHDOG = 60

_counter = itertools.count()


@pytest.fixture
def name(request):
    """A name unique to this test run and test; anything left under it (and under the same
    name with a suffix) is removed afterwards."""
    base = f"mmfpy-test-{os.getpid()}-{next(_counter)}"
    yield base
    shm = Path(os.environ.get("MMF_DIR", "/dev/shm"))
    for p in shm.glob(base + "*"):
        try:
            mmfpy.remove(p.name)
        except mmfpy.Error:
            pass


def _binary(env: str, path: str, build: str) -> str:
    """A Rust binary the tests run: `$ENV`, else `path` (relative to the repository); skipped
    with `SKIPPED:` when it is not built, failed instead under CI=true."""
    found = os.environ.get(env) or str(REPO / path)
    if not os.access(found, os.X_OK):
        why = f"{found} is not built; run `{build}` or set {env}"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        print(f"SKIPPED: {why}")
        pytest.skip(why)
    return found


@pytest.fixture
def cli():
    """The `mmf` command-line tool."""
    return _binary("MMF_CLI", "target/debug/mmf", "cargo build -p mmf-cli")


@pytest.fixture
def rust_helper():
    """The library's multi-process test helper (`mmf/src/bin/mmf-testhelper.rs`): the Rust API
    called directly, one command per run."""
    return _binary(
        "MMF_TESTHELPER", "target/debug/mmf-testhelper", "cargo build -p mmf --bin mmf-testhelper"
    )


def run_cli(cli: str, *args: str, input: bytes | None = None) -> bytes:
    """Runs the CLI and returns its stdout; fails the test with everything it printed if it
    exits non-zero."""
    p = subprocess.run([cli, *args], input=input, capture_output=True, timeout=WATCHDOG)
    assert p.returncode == 0, (
        f"`mmf {' '.join(args)}` exited {p.returncode}\nstdout: {p.stdout!r}\nstderr: {p.stderr!r}"
    )
    return p.stdout


def python(code: str, *args: str, **kw) -> subprocess.Popen:
    """Starts `python -c code args...` with pipes, for tests that need a process they can kill."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kw,
    )


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    """Runs `python -c code args...` to completion (bounded by the watchdog); a crash shows as a
    negative return code instead of taking pytest down."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        timeout=WATCHDOG,
    )


def read_line(p: subprocess.Popen) -> str:
    """The child's next line of stdout (it must come within the watchdog)."""
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(p.stdout, selectors.EVENT_READ)
        if not sel.select(WATCHDOG):
            p.kill()
            raise AssertionError(f"no line from the child within {WATCHDOG} s")
    line = p.stdout.readline().decode()
    if not line:
        p.wait(WATCHDOG)
        raise AssertionError(f"the child exited {p.returncode}: {p.stderr.read().decode()}")
    return line.strip()

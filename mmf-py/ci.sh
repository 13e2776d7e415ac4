#!/usr/bin/env bash
# The Python package's lane: a fresh virtual environment with maturin, pytest, numpy and mypy from
# PyPI; the wheel built and installed with `pip install ./mmf-py` (the documented command); the
# mmf CLI and the library's test helper, which the interoperability tests run; mypy's stubtest
# of the type stubs; the pytest suite. A suite that collects no tests (pytest exit status 5)
# fails the lane like any other failure.
#
# Environment: PYTHON (default python3, CPython >= 3.11), MMF_PY_VENV (default target/python-venv;
# reused when present), MMF_PY_PYTEST_ARGS (extra pytest arguments).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
venv=${MMF_PY_VENV:-target/python-venv}

"$py" -c 'import sys; assert sys.version_info >= (3, 11), f"mmfpy needs CPython 3.11 or newer, not {sys.version}"'
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
vpy=$(cd "$venv" && pwd)/bin/python
"$vpy" -m pip install -q --disable-pip-version-check "maturin>=1.9,<2" pytest numpy mypy

# The Rust programs the interoperability tests run (debug builds, shared with `cargo test`): the
# CLI and the library's test helper.
cargo build -q -p mmf-cli -p mmf --bins --locked
export MMF_CLI=$PWD/target/debug/mmf MMF_TESTHELPER=$PWD/target/debug/mmf-testhelper

# The documented install command; --force-reinstall so that a reused venv gets this tree's build.
"$vpy" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps ./mmf-py

# From outside the source tree, so that the installed package is what gets imported.
cd mmf-py/tests
# The type stubs against the module as built: every name, signature and class.
"$vpy" -m mypy.stubtest mmfpy

# shellcheck disable=SC2086 # MMF_PY_PYTEST_ARGS is a list of words
"$vpy" -m pytest -q -p no:cacheprovider -o addopts= ${MMF_PY_PYTEST_ARGS:-} .

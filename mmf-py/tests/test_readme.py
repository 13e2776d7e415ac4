"""Every Python example in the README's "Python" section runs as shown and prints what its
comments say."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO, WATCHDOG


def examples() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("\n## Python\n") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_has_python_examples():
    assert len(examples()) >= 4


@pytest.mark.parametrize("index", range(len(examples())))
def test_readme_example_runs(index, tmp_path):
    code = examples()[index]
    script = tmp_path / f"example{index}.py"  # a file: the pool example's workers import it
    script.write_text(code)
    r = subprocess.run(
        [sys.executable, str(script)], capture_output=True, timeout=WATCHDOG, cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    # Each `print(...)  # expected` comment names what that line prints (or its tail).
    for expected in re.findall(r"print\(.*\)[ \t]+# (.+)", code):
        expected = expected.removeprefix("... ")
        assert expected in out, f"{expected!r} not in the output:\n{out}"

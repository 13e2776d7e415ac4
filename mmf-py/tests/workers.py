"""Functions that child processes run (a module, so that the spawn start method can import them)."""

from __future__ import annotations

import os

import numpy as np

import mmfpy

ROWS, COLS = 16, 1024


def fill(name: str, value: float) -> float:
    """Opens the object, fills it as a float64 array, closes the handle, and returns the sum read
    through the array after the close."""
    with mmfpy.Mapping.open(name) as m:
        a = m.map().numpy(np.float64)
        a[:] = value
    return float(a.sum())


def total(name: str) -> float:
    """The sum of the object read as float64."""
    with mmfpy.Mapping.open(name, readonly=True) as m:
        return float(m.map().numpy(np.float64).sum())


# The pool example: each worker opens the array once, in the initializer, and keeps it.
_array = None


def pool_init(name: str) -> None:
    global _array
    m = mmfpy.Mapping.open(name)
    _array = m.map().numpy(np.float64, (ROWS, COLS))
    m.close()  # the array keeps the memory mapped (and the object alive) until the worker exits


def pool_row(i: int) -> int:
    _array[i] = i * np.arange(COLS)
    return os.getpid()

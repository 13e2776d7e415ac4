"""``View.numpy``: numpy is imported here, when first asked for, so it stays optional."""

from __future__ import annotations

import math
from typing import Any


def as_array(view: Any, dtype: Any = None, shape: Any = None) -> Any:
    """A numpy array over the view's memory, zero-copy (the array keeps the view mapped)."""
    try:
        import numpy as np
    except ImportError as e:  # pragma: no cover - exercised only without numpy
        raise ImportError(
            "View.numpy needs numpy (pip install numpy); without it use memoryview(view)"
        ) from e
    from ._errors import from_kind

    dt = np.dtype(np.uint8 if dtype is None else dtype)
    size = view.size
    if shape is None:
        if size % dt.itemsize:
            raise from_kind(
                "invalid input",
                f"cannot make an array of {view!r}: invalid input: its {size} bytes are not a "
                f"whole number of {dt} items ({dt.itemsize} bytes each); pass a shape",
                "make an array of",
                repr(view),
                None,
            )
        return np.frombuffer(view, dtype=dt)
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    count = math.prod(dims)
    if any(d < 0 for d in dims) or count * dt.itemsize > size:
        raise from_kind(
            "out of range",
            f"cannot make an array of {view!r}: out of range: shape {dims} of {dt} needs "
            f"{count * dt.itemsize} bytes and the view has {size}",
            "make an array of",
            repr(view),
            None,
        )
    return np.frombuffer(view, dtype=dt, count=count).reshape(dims)

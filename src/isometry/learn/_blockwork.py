"""Work shared by the iterative solvers: reusable arrays and the positions in a mask."""

from __future__ import annotations

import numpy as np

__all__ = ["Scratch", "true_rows_cols"]


class Scratch:
    """Hands out the same array for the same name, shape and dtype on every call.

    An optimizer evaluates its objective hundreds of times; a fresh array of a
    megabyte or more comes from new pages each time, and the page faults cost as
    much as the arithmetic (LMNN on digits: a quarter of its time). Contents are
    not kept meaningful between calls: callers overwrite what they take.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        #: what a caller keeps from one call to the next on purpose (unlike the arrays)
        self.kept: dict[str, object] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
        """An uninitialized array of ``shape`` and ``dtype``, the same one as last time when they match."""
        array = self._arrays.get(name)
        if array is None or array.shape != tuple(shape) or array.dtype != np.dtype(dtype):
            array = self._arrays[name] = np.empty(shape, dtype=dtype)
        return array


def true_rows_cols(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column (int64, row-major order) of the True entries of a C-contiguous 2-D mask.

    A flat nonzero and a division: 1.3-6x faster than ``np.nonzero`` or torch's
    ``nonzero`` on one thread for masks with 1-10 % True (233 x 898 and 80 x 5,000).
    """
    flat = np.flatnonzero(mask)
    rows = flat // mask.shape[1]
    return rows, flat - rows * mask.shape[1]

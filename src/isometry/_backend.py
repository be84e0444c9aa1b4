"""numpy <-> torch conversion, device and dtype choice, memory-budgeted blocks.

Functions take numpy arrays (memmaps included) or torch tensors (CPU or GPU). The
boundary decides once which kind the input is; computation happens in torch on the
input's device, and results go back to the input's kind.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "is_torch",
    "to_numpy",
    "as_tensor",
    "like_input",
    "rows_per_block",
    "device_of",
]

#: Bytes one blocked computation may hold at once (distance blocks, top-k buffers).
#: Override with the environment variable ``ISOMETRY_MEMORY_BUDGET`` (bytes).
DEFAULT_MEMORY_BUDGET = int(os.environ.get("ISOMETRY_MEMORY_BUDGET", 256 * 2**20))


def is_torch(x: Any) -> bool:
    """True when ``x`` is a ``torch.Tensor``."""
    return isinstance(x, torch.Tensor)


def device_of(x: Any) -> torch.device:
    """The device a computation on ``x`` should run on (CPU for numpy input)."""
    return x.device if is_torch(x) else torch.device("cpu")


def to_numpy(x: Any) -> np.ndarray:
    """A numpy view or copy of ``x`` (torch tensors are detached and moved to CPU)."""
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def as_tensor(x: Any, *, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """``x`` as a torch tensor, sharing memory with a numpy input where possible.

    Read-only or memory-mapped numpy arrays are copied (torch cannot wrap them
    safely); callers pass row blocks of memmaps, never the whole file.
    """
    if is_torch(x):
        return x.to(device=device if device is not None else x.device, dtype=dtype or x.dtype)
    arr = np.asarray(x)
    if isinstance(x, np.memmap) or not arr.flags.writeable or not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr).copy()
    t = torch.from_numpy(arr)
    return t.to(device=device or "cpu", dtype=dtype or t.dtype)


def like_input(result: torch.Tensor, reference: Any) -> Any:
    """``result`` in the kind of ``reference``: a tensor for torch input, numpy otherwise."""
    if is_torch(reference):
        return result
    return result.detach().cpu().numpy()


def rows_per_block(
    n_columns: int,
    bytes_per_row_item: int = 4,
    *,
    budget: int | None = None,
    minimum: int = 1,
    maximum: int | None = None,
) -> int:
    """How many rows of an ``(rows, n_columns)`` buffer fit in the memory budget.

    Parameters
    ----------
    n_columns : int
        Width of one row of the buffer (for example the number of references).
    bytes_per_row_item : int, default=4
        Bytes per element, summed over every buffer of that width held at once.
    budget : int, optional
        Bytes allowed; defaults to :data:`DEFAULT_MEMORY_BUDGET`.
    """
    budget = DEFAULT_MEMORY_BUDGET if budget is None else int(budget)
    rows = max(minimum, budget // max(1, n_columns * bytes_per_row_item))
    if maximum is not None:
        rows = min(rows, maximum)
    return int(rows)


def n_blocks(n: int, block: int) -> int:
    """Number of blocks of size ``block`` covering ``n`` rows."""
    return int(math.ceil(n / block)) if n else 0

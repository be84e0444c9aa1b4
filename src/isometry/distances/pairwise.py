"""Full pairwise matrices for sets that fit, computed in row blocks."""

from __future__ import annotations

from typing import Any

import torch

from .._backend import as_tensor, device_of, is_torch, like_input, rows_per_block
from .._validate import check_embeddings, check_same_width
from . import DISTANCES

__all__ = ["pairwise"]


def pairwise(a: Any, b: Any = None, distance: str = "euclidean", *, budget: int | None = None) -> Any:
    """Distance (or similarity) matrix between the rows of ``a`` and ``b``.

    Parameters
    ----------
    a : array-like or torch.Tensor, shape (n, d)
    b : array-like or torch.Tensor, shape (m, d), optional
        Defaults to ``a``.
    distance : str, default="euclidean"
        A name from :data:`isometry.distances.DISTANCES`.
    budget : int, optional
        Bytes of temporaries per block (the result itself is n x m).

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (n, m)
        Same kind as ``a``; float64 for float64 input, float32 otherwise. With
        ``b`` omitted the diagonal of a distance is exactly 0.

    Examples
    --------
    >>> import numpy as np
    >>> pairwise(np.array([[0.0, 0.0], [3.0, 4.0]]))
    array([[0., 5.],
           [5., 0.]])
    """
    record = DISTANCES[distance]
    a = check_embeddings(a, name="a")
    b_is_a = b is None
    b = a if b_is_a else check_embeddings(b, name="b")
    check_same_width(a, b, ("a", "b"))
    device = device_of(a)
    dtype = a.dtype if is_torch(a) else (torch.float64 if a.dtype.itemsize == 8 else torch.float32)
    bt = as_tensor(b, dtype=dtype, device=device)
    step = rows_per_block(bt.shape[0], 3 * bt.element_size(), budget=budget)
    out = torch.cat([
        record.function(as_tensor(a[s : s + step], dtype=dtype, device=device), bt)
        for s in range(0, a.shape[0], step)
    ])
    if b_is_a and not record.extra["is_similarity"]:
        out.fill_diagonal_(0.0)  # exact zeros where GEMM rounding would leave ~1e-8
    return like_input(out, a)

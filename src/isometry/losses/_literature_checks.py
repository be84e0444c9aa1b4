"""Boundary checks shared by the losses from the literature (private).

Losses take torch tensors: embeddings stay on their device and keep their graph;
labels are never cast to float (they are mapped to int64 codes 0..C-1, so labels
2**24 and 2**24 + 1 stay different and strings work).
"""

from __future__ import annotations

from typing import Any

import torch

from .._validate import check_embeddings, check_labels, encode_labels
from ..errors import InputError

__all__ = ["check_tensor", "check_batch", "class_codes", "check_class_labels", "one_hot"]


def check_tensor(x: Any, name: str, owner: str, *, min_rows: int = 1) -> torch.Tensor:
    """A finite 2-D floating tensor (its graph kept), else InputError."""
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{owner} takes torch tensors; {name} is a {type(x).__name__}. Use torch.as_tensor(...) first.")
    if not x.is_floating_point():
        raise InputError(f"{owner} needs floating-point {name}; got dtype {x.dtype}.")
    return check_embeddings(x, name=name, min_rows=min_rows)


def class_codes(labels: Any, n: int, device: torch.device) -> torch.Tensor:
    """Labels (ints, strings, any hashable) as int64 codes 0..C-1 on ``device``."""
    y = check_labels(labels, n)
    (codes,), _ = encode_labels(y)
    return torch.as_tensor(codes, device=device)


def check_batch(embeddings: Any, labels: Any, owner: str, *, min_rows: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Checked ``(embeddings, codes)``: a float tensor (n, d) and int64 class codes (n,)."""
    x = check_tensor(embeddings, "embeddings", owner, min_rows=min_rows)
    return x, class_codes(labels, x.shape[0], x.device)


def check_class_labels(labels: Any, n: int, num_classes: int, owner: str, device: torch.device) -> torch.Tensor:
    """Integer labels in ``[0, num_classes)`` for losses with one weight row per class."""
    y = check_labels(labels, n)
    if y.dtype.kind not in "iu":
        raise InputError(
            f"{owner} indexes one weight row per class, so labels must be integers in [0, {num_classes}); "
            f"got dtype {y.dtype}. Map them with isometry._validate.encode_labels first."
        )
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        raise InputError(f"{owner} was built for num_classes={num_classes}; labels must lie in [0, {num_classes}), got range [{low}, {high}].")
    return torch.as_tensor(y.astype("int64"), device=device)


def one_hot(codes: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(n, C) class indicator of int64 codes."""
    return torch.nn.functional.one_hot(codes, int(codes.max()) + 1).to(dtype)

"""Boundary validation: arrays, labels, pairs, and declared scalar constraints.

Public functions call these once; private helpers trust their callers. Every
failure is an :class:`isometry.errors.InputError` whose message names the
argument, what was seen and what was expected.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np
import torch

from ._backend import is_torch, rows_per_block
from .errors import InputError

__all__ = [
    "check_embeddings",
    "check_labels",
    "check_pairs",
    "check_same_width",
    "encode_labels",
    "Interval",
    "Options",
    "check_param",
    "check_params",
]

_MAX_LISTED = 5


def _listed(indices: np.ndarray) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:_MAX_LISTED])
    more = f", ... ({len(indices)} in all)" if len(indices) > _MAX_LISTED else ""
    return shown + more


def _nonfinite_rows(x: Any) -> np.ndarray:
    """Indices of rows holding NaN or inf, checked in blocks (memmaps stay on disk)."""
    if is_torch(x):
        bad = ~torch.isfinite(x).all(dim=1)
        return bad.nonzero().flatten().cpu().numpy()
    n = x.shape[0]
    step = rows_per_block(max(1, x.shape[1]), 1)
    found = []
    for start in range(0, n, step):
        block = np.asarray(x[start : start + step])
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            found.append(np.flatnonzero(bad) + start)
    return np.concatenate(found) if found else np.empty(0, dtype=np.int64)


def check_embeddings(
    x: Any,
    *,
    name: str = "embeddings",
    min_rows: int = 1,
    min_features: int = 1,
    allow_torch: bool = True,
) -> np.ndarray | torch.Tensor:
    """Check a 2-D array of embeddings, one row per item.

    Parameters
    ----------
    x : array-like or torch.Tensor, shape (n, d)
        Numbers; ``np.memmap`` is kept as it is (checked in blocks, never loaded whole).
    name : str
        The argument's name, used in messages.
    min_rows : int, default=1
        Fewest rows accepted.
    allow_torch : bool, default=True
        Whether a torch tensor is returned as a tensor (else converted to numpy).

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (n, d)
        Integer and boolean inputs become float64 numpy arrays / float32 tensors;
        float inputs keep their dtype.

    Raises
    ------
    InputError
        Not 2-D, empty, not numeric, complex, or with NaN/inf (the rows are named).
    """
    if x is None:
        raise InputError(f"{name} is missing: expected a 2-D array of shape (n_samples, n_features).")
    if is_torch(x):
        if not allow_torch:
            x = x.detach().cpu().numpy()
        else:
            x = x.detach() if not x.requires_grad else x
    if not is_torch(x) and not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as exc:  # ragged lists
            raise InputError(f"{name} could not be read as a 2-D numeric array: {exc}") from None
    dtype = x.dtype
    if is_torch(x):
        if x.is_complex() or not (x.is_floating_point() or dtype in _TORCH_INTS):
            raise InputError(f"{name} must hold real numbers; got dtype {dtype}.")
        if not x.is_floating_point():
            x = x.float()
    else:
        if dtype.kind not in "fiub":
            raise InputError(
                f"{name} must hold real numbers; got dtype {dtype}"
                + (" (strings or objects)" if dtype.kind in "OUS" else "")
                + "."
            )
        if dtype.kind in "iub":
            x = x.astype(np.float64)
    if x.ndim != 2:
        hint = " Reshape a single vector with x.reshape(1, -1) or a feature column with x.reshape(-1, 1)." if x.ndim == 1 else ""
        raise InputError(f"{name} must be 2-D (n_samples, n_features); got {x.ndim}-D with shape {tuple(x.shape)}.{hint}")
    if x.shape[0] < min_rows:
        what = "is empty" if x.shape[0] == 0 else f"has {x.shape[0]} row(s)"
        raise InputError(f"{name} {what}; at least {min_rows} row(s) are needed.")
    if x.shape[1] < min_features:
        raise InputError(f"{name} has {x.shape[1]} feature(s); at least {min_features} needed.")
    bad = _nonfinite_rows(x)
    if bad.size:
        raise InputError(f"{name} has NaN or inf in {bad.size} row(s): rows {_listed(bad)}. Remove or impute them first.")
    return x


_TORCH_INTS = {torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool}


def check_labels(labels: Any, n: int | None = None, *, name: str = "labels", min_classes: int = 1) -> np.ndarray:
    """Check a 1-D array of class labels, kept as they are (never cast).

    Parameters
    ----------
    labels : array-like or torch.Tensor, shape (n,)
        Integers, strings or any hashable scalars; a (n, 1) column is accepted.
    n : int, optional
        Expected length (the number of embeddings).
    min_classes : int, default=1
        Fewest distinct labels accepted.

    Returns
    -------
    numpy.ndarray, shape (n,)
        The labels as a numpy array of their own dtype (no float cast: 2**24 and
        2**24 + 1 stay different).

    Raises
    ------
    InputError
        Wrong shape or length, NaN labels, too few classes.
    """
    if labels is None:
        raise InputError(f"{name} is missing: expected a 1-D array with one label per embedding.")
    y = labels.detach().cpu().numpy() if is_torch(labels) else np.asarray(labels)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise InputError(f"{name} must be 1-D (one label per row); got shape {tuple(y.shape)}.")
    if n is not None and y.shape[0] != n:
        raise InputError(f"{name} has {y.shape[0]} entries but there are {n} embeddings; give one label per row.")
    if y.shape[0] == 0:
        raise InputError(f"{name} is empty.")
    if y.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(y))
        if bad.size:
            raise InputError(f"{name} has NaN or inf at positions {_listed(bad)}.")
    if y.dtype.kind == "O":
        try:
            hash(tuple(y.tolist()))
        except TypeError:
            raise InputError(f"{name} must hold hashable scalars (ints or strings).") from None
    if min_classes > 1:
        k = len(np.unique(y))
        if k < min_classes:
            raise InputError(f"{name} has {k} distinct class(es); at least {min_classes} are needed.")
    return y


def encode_labels(*label_arrays: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Map labels of one or more arrays to shared int64 codes 0..C-1.

    Returns the code arrays (same order as given) and the sorted distinct labels.
    Mixed kinds (ints in one array, strings in another) are compared as strings.
    """
    arrays = [np.asarray(a) for a in label_arrays]
    kinds = {a.dtype.kind for a in arrays}
    if len(kinds) > 1 and kinds & {"U", "S", "O"}:
        arrays = [a.astype(str) for a in arrays]
    joined = np.concatenate(arrays)
    try:
        classes, codes = np.unique(joined, return_inverse=True)
    except TypeError:
        classes, codes = np.unique(joined.astype(str), return_inverse=True)
    codes = codes.astype(np.int64).reshape(-1)
    out, start = [], 0
    for a in arrays:
        out.append(codes[start : start + len(a)])
        start += len(a)
    return out, classes


def check_same_width(a: Any, b: Any, names: tuple[str, str] = ("embeddings", "reference")) -> None:
    """Raise unless two embedding arrays have the same number of columns."""
    if a.shape[1] != b.shape[1]:
        raise InputError(
            f"{names[0]} has {a.shape[1]} features but {names[1]} has {b.shape[1]}; both must have the same width."
        )


def check_pairs(pairs: Any, *, tuple_size: int = 2, name: str = "pairs") -> np.ndarray:
    """Check tuples of points: shape (n_tuples, tuple_size, n_features), finite.

    This is metric-learn's convention for weakly supervised learners (pairs,
    triplets, quadruplets of points given by value).
    """
    if pairs is None:
        raise InputError(f"{name} is missing.")
    arr = pairs.detach().cpu().numpy() if is_torch(pairs) else np.asarray(pairs)
    if arr.dtype.kind not in "fiub":
        raise InputError(f"{name} must hold real numbers; got dtype {arr.dtype}.")
    if arr.ndim != 3 or arr.shape[1] != tuple_size:
        raise InputError(
            f"{name} must have shape (n_tuples, {tuple_size}, n_features); got shape {tuple(arr.shape)}."
        )
    if arr.shape[0] == 0:
        raise InputError(f"{name} is empty.")
    bad = np.flatnonzero(~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1))
    if bad.size:
        raise InputError(f"{name} has NaN or inf in {bad.size} tuple(s): {_listed(bad)}.")
    return arr.astype(np.float64)


# --------------------------------------------------------------------------------------
# Declared scalar constraints: one message format for every parameter of every class.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A numeric range ``[low, high]``; ``closed`` is "both", "left", "right" or "neither".

    ``kind`` is ``numbers.Real`` or ``numbers.Integral``; ``None`` bounds are open ends.
    """

    kind: type = numbers.Real
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        if isinstance(value, float) and value != value:  # NaN
            return False
        lo_ok = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        hi_ok = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        return lo_ok and hi_ok

    def describe(self) -> str:
        what = "an int" if self.kind is numbers.Integral else "a number"
        parts = []
        if self.low is not None:
            parts.append((">= " if self.closed in ("both", "left") else "> ") + f"{self.low:g}")
        if self.high is not None:
            parts.append(("<= " if self.closed in ("both", "right") else "< ") + f"{self.high:g}")
        return what + (" " + " and ".join(parts) if parts else "")


@dataclass(frozen=True)
class Options:
    """A finite set of accepted values (strings, ``None``, booleans, ...)."""

    values: tuple

    def __init__(self, values: Iterable) -> None:
        object.__setattr__(self, "values", tuple(values))

    def accepts(self, value: Any) -> bool:
        return any(value is v or (type(value) is type(v) and value == v) for v in self.values)

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


def check_param(value: Any, name: str, owner: str, *constraints: Any) -> Any:
    """Return ``value`` if any constraint accepts it, else raise one InputError.

    A constraint is an :class:`Interval`, :class:`Options`, a type (``bool``,
    ``str``, ``callable``) or ``None`` (value may be ``None``).

    Example message: "The 'margin' parameter of TripletMarginLoss must be a number
    >= 0. Got -5 instead."
    """
    for c in constraints:
        if c is None and value is None:
            return value
        if isinstance(c, (Interval, Options)) and c.accepts(value):
            return value
        if c is callable and callable(value):
            return value
        if isinstance(c, type) and isinstance(value, c) and not (c is not bool and isinstance(value, bool)):
            return value
    described = []
    for c in constraints:
        if c is None:
            described.append("None")
        elif isinstance(c, (Interval, Options)):
            described.append(c.describe())
        elif c is callable:
            described.append("a callable")
        else:
            described.append(f"of type {c.__name__}")
    raise InputError(f"The {name!r} parameter of {owner} must be {' or '.join(described)}. Got {value!r} instead.")


def check_params(owner: str, values: Mapping[str, Any], constraints: Mapping[str, tuple]) -> None:
    """Check several parameters at once against declared constraints."""
    for key, allowed in constraints.items():
        if key in values:
            check_param(values[key], key, owner, *allowed)

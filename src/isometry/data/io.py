"""Read embeddings and labels from .npy, .npz, .csv, .parquet files (memmap for .npy).

``.npy`` files are opened with ``mmap_mode="r"``: rows stay on disk and are read in
blocks by the computations that use them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["load_array", "load_embeddings", "load_labels", "SUFFIXES"]

SUFFIXES = (".npy", ".npz", ".csv", ".parquet")


def load_array(path: str | os.PathLike, *, key: str | None = None, what: str = "array") -> np.ndarray:
    """Load one array from a file.

    Parameters
    ----------
    path : path-like
        ``.npy`` (memory-mapped), ``.npz`` (``key`` or the only / first array),
        ``.csv`` (numbers, optional header row; one column for labels) or
        ``.parquet`` (needs pyarrow; every column, or ``key``).
    key : str, optional
        Array name in an ``.npz`` or column in a ``.parquet`` file.

    Raises
    ------
    InputError
        Missing file, unknown suffix, unreadable content.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} file not found: {path}")
    if path.is_dir():
        raise InputError(f"{what} path is a folder, expected a file: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, mmap_mode="r", allow_pickle=False)
        if suffix == ".npz":
            return _load_npz(path, key, what)
        if suffix == ".csv":
            return _load_csv(path)
        if suffix == ".parquet":
            return _load_parquet(path, key)
    except InputError:
        raise
    except (ValueError, OSError, KeyError) as exc:
        raise InputError(f"could not read {what} from {path}: {exc}") from None
    raise InputError(f"{what} file {path} has an unknown type {suffix!r}; use one of {', '.join(SUFFIXES)}.")


def load_embeddings(path: str | os.PathLike, *, key: str | None = None) -> np.ndarray:
    """Load an (n, d) embedding array (see :func:`load_array`); a 1-D file is an error later."""
    return load_array(path, key=key or None, what="embeddings")


def load_labels(path: str | os.PathLike, *, key: str | None = None) -> np.ndarray:
    """Load a 1-D label array; a one-column 2-D table is flattened. Strings are kept."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        arr = _load_csv(path, labels=True) if path.exists() else load_array(path, what="labels")
    else:
        arr = load_array(path, key=key or ("labels" if path.suffix.lower() == ".npz" else None), what="labels")
    arr = np.asarray(arr)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    return arr


def _load_npz(path: Path, key: str | None, what: str) -> np.ndarray:
    with np.load(path, allow_pickle=False) as data:
        names = list(data.files)
        if not names:
            raise InputError(f"{path} holds no arrays.")
        if key is None:
            preferred = [n for n in ("embeddings", "X", "x", "arr_0") if n in names]
            key = preferred[0] if preferred else names[0]
        if key not in names:
            if what == "labels" and key == "labels":
                raise InputError(f"{path} has no 'labels' array; it holds: {', '.join(names)}.")
            raise InputError(f"{path} has no array {key!r}; it holds: {', '.join(names)}.")
        return data[key]


def _load_csv(path: Path, *, labels: bool = False) -> np.ndarray:
    with open(path, encoding="utf-8") as fh:
        first = fh.readline()
    if not first.strip():
        raise InputError(f"{path} is empty.")
    header = any(not _is_number(tok) for tok in first.strip().split(","))
    if labels:
        arr = np.loadtxt(path, delimiter=",", dtype=str, skiprows=int(header and len(first.split(",")) == 1 and not _is_number(first.strip()) and _looks_like_header(path)), ndmin=1)
        return _numeric_if_possible(arr)
    return np.loadtxt(path, delimiter=",", skiprows=int(header), ndmin=2, dtype=np.float64)


def _looks_like_header(path: Path) -> bool:
    """A one-column label CSV has a header when its first line differs in kind from the rest."""
    with open(path, encoding="utf-8") as fh:
        first, second = fh.readline().strip(), fh.readline().strip()
    return bool(second) and (_is_number(second) and not _is_number(first))


def _numeric_if_possible(arr: np.ndarray) -> np.ndarray:
    for dtype in (np.int64, np.float64):
        try:
            return arr.astype(dtype)
        except ValueError:
            continue
    return arr


def _is_number(tok: str) -> bool:
    try:
        float(tok)
        return True
    except ValueError:
        return False


def _load_parquet(path: Path, key: str | None) -> np.ndarray:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("reading .parquet needs pyarrow: pip install 'isometry[parquet]'.") from None
    table = pq.read_table(path)
    if key is not None:
        if key not in table.column_names:
            raise InputError(f"{path} has no column {key!r}; it has: {', '.join(table.column_names)}.")
        return table.column(key).to_numpy()
    columns = [table.column(c) for c in table.column_names]
    if len(columns) == 1 and _is_list_column(columns[0]):
        return np.stack(columns[0].to_numpy(zero_copy_only=False))
    if len(columns) == 1:
        return columns[0].to_numpy()
    return np.column_stack([c.to_numpy() for c in columns])


def _is_list_column(column: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_list(column.type) or pa.types.is_fixed_size_list(column.type)

"""Atomic writes: a temporary file in the target's folder, then ``os.replace``.

A crash or Ctrl-C mid-write leaves the previous file intact, never a torn one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

__all__ = ["atomic_write", "write_text", "write_json", "save_npy", "save_torch"]


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], *, binary: bool = True) -> Path:
    """Call ``write(file_object)`` on a temporary file, then rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results follow the umask like open()
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return atomic_write(path, lambda fh: fh.write(text), binary=False)


def write_json(path: str | os.PathLike, obj: Any, *, indent: int = 2) -> Path:
    """Write ``obj`` as JSON atomically (NaN written as null)."""
    return write_text(path, dumps_json(obj, indent=indent) + "\n")


def dumps_json(obj: Any, *, indent: int | None = 2) -> str:
    """JSON text with NaN/inf turned into null (valid JSON for every reader)."""
    return json.dumps(_finite(obj), indent=indent, allow_nan=False)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return _finite(obj.item())
    return obj


def save_npy(path: str | os.PathLike, array: Any) -> Path:
    """Save a numpy array as ``.npy`` atomically."""
    import numpy as np

    return atomic_write(path, lambda fh: np.save(fh, np.asarray(array)))


def save_torch(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save`` atomically (load it back with ``torch.load(..., weights_only=True)``)."""
    import torch

    return atomic_write(path, lambda fh: torch.save(obj, fh))

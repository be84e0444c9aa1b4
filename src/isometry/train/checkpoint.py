"""Checkpoints: written atomically, read back with ``torch.load(weights_only=True)``.

A checkpoint holds only tensors, numbers, strings, lists and dicts (state dicts of the
model, loss, optimizer, LR schedule and gradient scaler, plus the epoch, the best score
and the metric history), so loading it never runs pickled code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .._atomic import save_torch
from ..errors import InputError

__all__ = ["save_checkpoint", "load_checkpoint", "LAST", "BEST"]

LAST = "last.pt"
BEST = "best.pt"


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (a crash leaves the previous file intact)."""
    return save_torch(path, state)


def load_checkpoint(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``.

    Raises
    ------
    InputError
        Missing or unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many kinds for a torn or foreign file
        raise InputError(f"could not read checkpoint {path}: {exc}") from None

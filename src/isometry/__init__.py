"""isometry: learn, evaluate and measure metric spaces of embeddings."""

from __future__ import annotations

__version__ = "0.1.0"

from . import errors  # noqa: F401
from .errors import InputError, IsometryError  # noqa: F401

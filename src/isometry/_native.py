"""The optional C kernels, loaded through ctypes.

``setup.py`` builds them at install time where a C compiler exists; each caller keeps a
numpy/torch path for installs without them.
"""

from __future__ import annotations

import ctypes
import functools
import importlib

__all__ = ["load"]


@functools.lru_cache(maxsize=None)
def load(module: str, signatures: tuple[tuple[str, object, tuple], ...]) -> ctypes.CDLL | None:
    """The shared library of extension ``module`` with each ``(name, restype, argtypes)``
    set, or None when it was not built."""
    try:
        path = importlib.import_module(module).__file__
    except ImportError:
        return None
    lib = ctypes.CDLL(path)
    for name, restype, argtypes in signatures:
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, list(argtypes)
    return lib

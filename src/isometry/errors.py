"""Exceptions and warnings raised by isometry.

Every public function validates its input once, at the boundary, and raises
:class:`InputError` with a message that says what was wrong and how to fix it.
The command line turns an :class:`InputError` into exit status 2 and one line on
standard error.
"""

from __future__ import annotations

__all__ = ["IsometryError", "InputError", "NotFittedError", "ConvergenceWarning"]


class IsometryError(Exception):
    """Base class of every error isometry raises on purpose."""


class InputError(IsometryError, ValueError):
    """Bad input: wrong shape, dtype, NaN/inf values, unknown option, missing file, ..."""


class NotFittedError(IsometryError, ValueError, AttributeError):
    """An estimator was used before ``fit``.

    Subclasses ``ValueError`` and ``AttributeError`` like scikit-learn's own
    ``NotFittedError``, so code written for scikit-learn catches it too.
    """


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped before reaching its tolerance."""

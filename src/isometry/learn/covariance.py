"""Covariance: the Mahalanobis metric of the data's own inverse covariance.

Mahalanobis, "On the generalised distance in statistics" (1936). A baseline: no
labels are used; ``M = Sigma^{-1}`` (pseudo-inverse when Sigma is singular), as in
metric-learn 0.7's ``Covariance``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg import pinvh
from sklearn.base import BaseEstimator
from sklearn.utils.validation import validate_data

from ..errors import InputError
from ._base import MahalanobisMixin, components_from_metric

__all__ = ["Covariance", "inverse_covariance"]


def inverse_covariance(X: np.ndarray) -> np.ndarray:
    """Pseudo-inverse of the sample covariance (``n - 1`` normalization).

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features), n_samples >= 2

    Returns
    -------
    ndarray, shape (n_features, n_features)
        Symmetric PSD; directions without variance get weight 0.
    """
    cov = np.atleast_2d(np.cov(X, rowvar=False))
    return pinvh(cov)


class Covariance(MahalanobisMixin, BaseEstimator):
    """Mahalanobis metric of the inverse covariance of X (no supervision).

    Parameters
    ----------
    preprocessor : array-like or callable, default=None
        For ``pair_distance`` on index pairs.

    Attributes
    ----------
    components_ : ndarray, shape (n_features, n_features)
        ``L`` with ``L^T L = pinv(cov(X))``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 3)) * [1.0, 2.0, 4.0]
    >>> M = Covariance().fit(X).get_mahalanobis_matrix()
    >>> bool(np.allclose(M, np.linalg.inv(np.cov(X, rowvar=False))))
    True
    """

    _requires_y = False

    def __init__(self, preprocessor=None):
        self.preprocessor = preprocessor

    def fit(self, X: Any, y: Any = None) -> "Covariance":
        """Learn ``M = pinv(cov(X))`` from X (n_samples >= 2, n_features); y is ignored."""
        try:
            X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        except TypeError:
            raise
        except ValueError as exc:
            raise InputError(f"Covariance: {exc}") from None
        self.components_ = components_from_metric(inverse_covariance(X))
        return self

"""Starting points of the learners: initial components (LMNN, NCA, ...) and prior metrics.

Options and their meaning follow metric-learn 0.7 (``init`` of LMNN/NCA/MLKR,
``prior`` of ITML/LSML/SDML, ``init`` of MMC).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg import pinvh
from sklearn.utils import check_random_state

from ..errors import InputError

__all__ = ["initial_components", "prior_metric", "check_n_components", "points_of_tuples"]

COMPONENT_INITS = ("auto", "pca", "lda", "identity", "random")
PRIORS = ("identity", "covariance", "random")


def check_n_components(n_components: Any, n_features: int, owner: str) -> int:
    """``n_components`` or ``n_features`` when None; InputError when out of range."""
    if n_components is None:
        return n_features
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)) \
            or not 1 <= n_components <= n_features:
        raise InputError(f"The 'n_components' parameter of {owner} must be an int in [1, n_features={n_features}] "
                         f"or None. Got {n_components!r} instead.")
    return int(n_components)


def initial_components(X: np.ndarray, codes: np.ndarray | None, init: Any, n_components: int,
                       random_state: Any, owner: str) -> np.ndarray:
    """Initial linear map L, shape (n_components, n_features).

    ``auto`` picks ``lda`` when ``n_components <= min(n_classes - 1, n_features)``
    (labels given), else ``pca`` when ``n_components < min(n_features, n_samples)``,
    else ``identity``. An array is used as given (its shape is checked).
    """
    n, d = X.shape
    if isinstance(init, np.ndarray) or (not isinstance(init, str) and np.ndim(init) == 2):
        L = np.asarray(init, dtype=np.float64)
        if L.shape != (n_components, d) or not np.isfinite(L).all():
            raise InputError(f"{owner}: init array must be finite with shape ({n_components}, {d}); "
                             f"got shape {L.shape}.")
        return L.copy()
    if not isinstance(init, str) or init not in COMPONENT_INITS:
        raise InputError(f"The 'init' parameter of {owner} must be one of {COMPONENT_INITS} or an array. "
                         f"Got {init!r} instead.")
    n_classes = len(np.unique(codes)) if codes is not None else 0
    if init == "auto":
        if codes is not None and n_components <= min(n_classes - 1, d):
            init = "lda"
        elif n_components < min(d, n):
            init = "pca"
        else:
            init = "identity"
    if init == "identity":
        return np.eye(n_components, d)
    if init == "random":
        return check_random_state(random_state).standard_normal((n_components, d))
    if init == "pca":
        return _pca(X, n_components)
    if codes is None:
        raise InputError(f"{owner}: init='lda' needs class labels.")
    if n_components > min(n_classes - 1, d):
        raise InputError(f"{owner}: init='lda' gives at most n_classes - 1 = {n_classes - 1} components; "
                         f"n_components is {n_components}.")
    return _lda(X, codes, n_components)


def _pca(X: np.ndarray, n_components: int) -> np.ndarray:
    centred = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    out = np.zeros((n_components, X.shape[1]))
    out[: min(n_components, vt.shape[0])] = vt[:n_components]
    return out


def _lda(X: np.ndarray, codes: np.ndarray, n_components: int) -> np.ndarray:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    lda = LinearDiscriminantAnalysis(n_components=n_components, solver="eigen", shrinkage="auto")
    try:
        lda.fit(X, codes)
        return np.asarray(lda.scalings_.T[:n_components], dtype=np.float64)
    except (np.linalg.LinAlgError, ValueError):
        lda = LinearDiscriminantAnalysis(n_components=n_components, solver="svd").fit(X, codes)
        return np.asarray(lda.scalings_.T[:n_components], dtype=np.float64)


def points_of_tuples(tuples: np.ndarray) -> np.ndarray:
    """The distinct points of tuples (n, k, d), shape (m, d)."""
    return np.unique(tuples.reshape(-1, tuples.shape[-1]), axis=0)


def prior_metric(points: np.ndarray, prior: Any, random_state: Any, owner: str,
                 name: str = "prior") -> np.ndarray:
    """A starting (prior) Mahalanobis matrix M0, shape (d, d), symmetric PSD.

    ``identity``: I; ``covariance``: the inverse (pseudo-inverse) of the covariance
    of ``points`` (m, d), or of the distinct points of tuples (n, k, d); ``random``: a
    random symmetric positive-definite matrix; an array is checked (square,
    symmetric, PSD) and copied.
    """
    d = points.shape[-1]
    if isinstance(prior, np.ndarray) or (not isinstance(prior, str) and np.ndim(prior) == 2):
        M = np.asarray(prior, dtype=np.float64)
        if M.shape != (d, d) or not np.isfinite(M).all() or not np.allclose(M, M.T, atol=1e-8):
            raise InputError(f"{owner}: {name} array must be a finite symmetric ({d}, {d}) matrix; "
                             f"got shape {M.shape}.")
        if np.linalg.eigvalsh(M).min() < -1e-8 * max(1.0, np.abs(M).max()):
            raise InputError(f"{owner}: {name} array must be positive semi-definite.")
        return M.copy()
    if not isinstance(prior, str) or prior not in PRIORS:
        raise InputError(f"The {name!r} parameter of {owner} must be one of {PRIORS} or an array. "
                         f"Got {prior!r} instead.")
    if prior == "identity":
        return np.eye(d)
    if prior == "covariance":
        if points.ndim == 3:
            points = points_of_tuples(points)
        cov = np.atleast_2d(np.cov(points, rowvar=False))
        return pinvh(cov)
    A = check_random_state(random_state).standard_normal((d, d))
    return A @ A.T + 1e-6 * np.eye(d)

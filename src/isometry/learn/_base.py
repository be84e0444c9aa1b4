"""Shared base of the Mahalanobis metric learners: validation, transform, pair scores.

A learner finds a linear map ``L`` (``components_``, shape (n_components,
n_features)); its metric is ``d(x, x') = ||L x - L x'|| = sqrt((x - x')^T M (x - x'))``
with ``M = L^T L``. The names follow metric-learn 0.7 (``components_``,
``get_mahalanobis_matrix``, ``pair_distance``, ``pair_score``, ``get_metric``) so its
users switch by changing the import.

Two input conventions, as in metric-learn:

- supervised learners take ``fit(X, y)``: X (n_samples, n_features), y class labels;
- weakly supervised learners take tuples of points given by value, shape
  (n_tuples, tuple_size, n_features) (pairs: 2, triplets: 3, quadruplets: 4), or,
  with ``preprocessor`` set to an (n_samples, n_features) array or a callable, tuples
  of indices, shape (n_tuples, tuple_size).

Classes are composed as ``class LMNN(MahalanobisMixin, BaseEstimator)`` and
``class ITML(PairsClassifierMixin, MahalanobisMixin, BaseEstimator)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg import eigh
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.metrics import roc_auc_score
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validate import check_pairs, encode_labels
from ..errors import InputError

__all__ = [
    "MahalanobisMixin",
    "PairsClassifierMixin",
    "TripletsClassifierMixin",
    "QuadrupletsClassifierMixin",
    "components_from_metric",
    "check_supervised",
]


def components_from_metric(metric: np.ndarray, *, tol: float | None = None) -> np.ndarray:
    """A matrix ``L`` with ``L^T L = M`` for a symmetric PSD matrix ``M``.

    metric-learn's convention: the transposed Cholesky factor when M is positive
    definite (upper triangular, and a tenth of an eigendecomposition's time at d = 64),
    else the eigendecomposition.

    Parameters
    ----------
    metric : ndarray, shape (d, d)
        Symmetric positive semi-definite matrix (tiny negative eigenvalues from round-off
        are clipped to 0).
    tol : float, optional
        Eigenvalues below ``-tol`` raise; default ``1e-10 * max(|eigenvalue|)``.

    Returns
    -------
    ndarray, shape (d, d)
        ``cholesky(M).T``, or, when M is singular (or not PSD within ``tol``), rows
        ``sqrt(w_i) v_i`` for the eigenpairs, largest eigenvalue first.
    """
    metric = (metric + metric.T) / 2.0
    try:
        return np.linalg.cholesky(metric).T
    except np.linalg.LinAlgError:
        pass
    w, v = eigh(metric)
    scale = max(float(np.abs(w).max()), 1e-300)
    limit = 1e-10 * scale if tol is None else tol
    if w.min() < -limit:
        raise InputError(f"The metric matrix is not positive semi-definite (smallest eigenvalue {w.min():.3g}).")
    w = np.clip(w, 0.0, None)[::-1]
    return np.sqrt(w)[:, None] * v[:, ::-1].T


def check_supervised(estimator: Any, X: Any, y: Any, *, min_classes: int = 2,
                     min_per_class: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate ``fit(X, y)`` of a supervised learner (sets ``n_features_in_``).

    Returns X as float64 (n, d), integer class codes (n,) and the sorted distinct labels.
    Labels are never cast: strings and large integers keep their identity.

    Raises
    ------
    InputError
        NaN/inf, empty or non-2-D X, y of the wrong length, fewer than ``min_classes``
        classes ("1 class"), a class with fewer than ``min_per_class`` samples.
    TypeError
        Sparse X (scikit-learn's own error type).
    """
    name = type(estimator).__name__
    try:
        X, y = validate_data(estimator, X, y, dtype=np.float64, y_numeric=False, ensure_min_samples=1)
    except TypeError:
        raise
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from None
    (codes,), classes = encode_labels(np.asarray(y))
    if len(classes) < min_classes:
        raise InputError(
            f"{name} needs labels of at least {min_classes} classes; got {len(classes)} class"
            f"{'es' if len(classes) != 1 else ''} in {X.shape[0]} sample(s).")
    if min_per_class > 1:
        counts = np.bincount(codes, minlength=len(classes))
        small = np.flatnonzero(counts < min_per_class)
        if small.size:
            raise InputError(
                f"{name} needs at least {min_per_class} samples in every class; class {classes[small[0]]!r} "
                f"has {counts[small[0]]} ({small.size} class(es) too small).")
    return X, codes, classes


class MahalanobisMixin(ClassNamePrefixFeaturesOutMixin, TransformerMixin):
    """Transform, metric and pair distances of a learner with ``components_``.

    Subclasses set ``components_`` (n_components, n_features) in ``fit``.
    """

    @property
    def _n_features_out(self) -> int:
        return self.components_.shape[0]

    def transform(self, X: Any) -> np.ndarray:
        """Embed points: ``X @ components_.T``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples, n_components)
        """
        check_is_fitted(self, "components_")
        X = self._check_points(X)
        return X @ self.components_.T

    def get_mahalanobis_matrix(self) -> np.ndarray:
        """The learned matrix ``M = components_.T @ components_``, shape (n_features, n_features)."""
        check_is_fitted(self, "components_")
        return self.components_.T @ self.components_

    def get_metric(self):
        """A function ``metric(u, v, squared=False)`` of two 1-D points (usable by scipy/sklearn)."""
        check_is_fitted(self, "components_")
        L = self.components_.copy()

        def metric(u: Any, v: Any, squared: bool = False) -> float:
            diff = L @ (np.asarray(u, dtype=np.float64).ravel() - np.asarray(v, dtype=np.float64).ravel())
            value = float(diff @ diff)
            return value if squared else float(np.sqrt(value))

        return metric

    def pair_distance(self, pairs: Any) -> np.ndarray:
        """Learned distance of each pair.

        Parameters
        ----------
        pairs : array-like, shape (n_pairs, 2, n_features), or (n_pairs, 2) indices
            when ``preprocessor`` is set.

        Returns
        -------
        ndarray, shape (n_pairs,)
        """
        check_is_fitted(self, "components_")
        tuples = self._check_tuples(pairs, tuple_size=2, reset=False)
        diff = (tuples[:, 0] - tuples[:, 1]) @ self.components_.T
        return np.sqrt(np.einsum("ij,ij->i", diff, diff))

    def pair_score(self, pairs: Any) -> np.ndarray:
        """Similarity of each pair: minus :meth:`pair_distance` (higher is more similar)."""
        return -self.pair_distance(pairs)

    def score_pairs(self, pairs: Any) -> np.ndarray:
        """Alias of :meth:`pair_distance` kept for metric-learn 0.6 code."""
        return self.pair_distance(pairs)

    # ---------------------------------------------------------------- validation

    def _check_points(self, X: Any, *, reset: bool = False) -> np.ndarray:
        try:
            return validate_data(self, X, reset=reset, dtype=np.float64)
        except TypeError:
            raise
        except ValueError as exc:
            raise InputError(f"{type(self).__name__}: {exc}") from None

    def _check_tuples(self, tuples: Any, *, tuple_size: int, reset: bool) -> np.ndarray:
        """Tuples of points (n, tuple_size, d), looked up through ``preprocessor`` if set."""
        preprocessor = getattr(self, "preprocessor", None)
        if preprocessor is not None and np.ndim(tuples) == 2:
            tuples = _lookup(preprocessor, tuples, tuple_size)
        name = {2: "pairs", 3: "triplets", 4: "quadruplets"}.get(tuple_size, "tuples")
        try:
            arr = check_pairs(tuples, tuple_size=tuple_size, name=name)
        except InputError as exc:
            raise InputError(f"{type(self).__name__}: {exc}") from None
        width = arr.shape[2]
        if reset:
            self.n_features_in_ = width
        elif hasattr(self, "n_features_in_") and width != self.n_features_in_:
            raise InputError(
                f"X has {width} features, but {type(self).__name__} is expecting {self.n_features_in_} "
                "features as input.")
        return arr

    #: Whether ``fit`` needs y (class labels or pair labels); Covariance sets False.
    _requires_y = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self._requires_y
        return tags


def _lookup(preprocessor: Any, indices: Any, tuple_size: int) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.shape[1] != tuple_size or idx.dtype.kind not in "iu":
        raise InputError(f"Index tuples must be integers of shape (n_tuples, {tuple_size}); got "
                         f"{idx.dtype} of shape {idx.shape}.")
    if callable(preprocessor):
        return np.stack([np.asarray(preprocessor(idx[:, j])) for j in range(tuple_size)], axis=1)
    data = np.asarray(preprocessor)
    if idx.size and (idx.min() < 0 or idx.max() >= data.shape[0]):
        raise InputError(f"Index tuples refer to rows outside the preprocessor's {data.shape[0]} rows.")
    return data[idx]


def check_pair_labels(y: Any, n: int, owner: str) -> np.ndarray:
    """Pair labels: +1 similar, -1 dissimilar, one per pair."""
    if y is None:
        raise InputError(f"{owner} needs y: +1 for similar pairs and -1 for dissimilar pairs.")
    y = np.asarray(y).ravel()
    if y.shape[0] != n:
        raise InputError(f"{owner}: y has {y.shape[0]} entries but there are {n} pairs.")
    if y.dtype.kind not in "iuf" or not np.isin(y, (-1, 1)).all():
        raise InputError(f"{owner}: pair labels must be +1 (similar) or -1 (dissimilar); got {np.unique(y)[:5]}.")
    return y.astype(np.int64)


class _TupleClassifierMixin:
    """Shared tags of the weakly supervised learners (input: 3-D tuples of points)."""

    _tuple_size = 2

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags


class PairsClassifierMixin(_TupleClassifierMixin):
    """Pair classification: similar (+1) when the learned distance is <= ``threshold_``.

    ``score`` is the ROC AUC of ``decision_function`` (minus the distance), as in
    metric-learn; ``classes_`` is ``[-1, 1]`` (metric-learn reports ``[0, 1]``).
    """

    _tuple_size = 2
    classes_ = np.array([-1, 1])

    def decision_function(self, pairs: Any) -> np.ndarray:
        """Minus the learned distance of each pair, shape (n_pairs,)."""
        return self.pair_score(pairs)

    def predict(self, pairs: Any) -> np.ndarray:
        """+1 (similar) where distance <= ``threshold_``, else -1, shape (n_pairs,)."""
        check_is_fitted(self, "components_")
        if not hasattr(self, "threshold_"):
            raise AttributeError("No threshold set: call set_threshold or calibrate_threshold first.")
        return np.where(self.pair_distance(pairs) <= self.threshold_, 1, -1)

    def score(self, pairs: Any, y: Any) -> float:
        """ROC AUC of ``decision_function`` against pair labels y (+1 / -1)."""
        scores = self.decision_function(pairs)
        return float(roc_auc_score(check_pair_labels(y, len(scores), type(self).__name__), scores))

    def set_threshold(self, threshold: float):
        """Set the distance threshold used by :meth:`predict`; returns self."""
        check_is_fitted(self, "components_")
        try:
            self.threshold_ = float(threshold)
        except (TypeError, ValueError):
            raise InputError(f"threshold must be a real number; got {threshold!r}.") from None
        return self

    def calibrate_threshold(self, pairs_valid: Any, y_valid: Any, strategy: str = "accuracy"):
        """Choose ``threshold_`` maximizing accuracy on validation pairs; returns self.

        Only ``strategy="accuracy"`` is implemented (metric-learn also offers f_beta,
        max_tpr and max_tnr).
        """
        if strategy != "accuracy":
            raise InputError(f"calibrate_threshold supports strategy='accuracy' only; got {strategy!r}.")
        dist = self.pair_distance(pairs_valid)
        y = check_pair_labels(y_valid, len(dist), type(self).__name__)
        order = np.argsort(dist, kind="stable")
        d, pos = dist[order], (y[order] == 1)
        # Threshold after position i accepts pairs 0..i: correct = positives accepted + negatives rejected.
        correct = np.cumsum(pos) + (np.sum(~pos) - np.cumsum(~pos))
        last = np.r_[d[1:] != d[:-1], True]  # only cut between distinct distances
        correct = np.where(last, correct, -1)
        best = int(np.argmax(correct))
        reject_all = np.sum(~pos)
        self.threshold_ = float(d[best]) if correct[best] >= reject_all else float(d[0]) - 1.0
        return self


class TripletsClassifierMixin(_TupleClassifierMixin):
    """Triplets (a, b, c): predict +1 when a is closer to b than to c."""

    _tuple_size = 3
    classes_ = np.array([-1, 1])

    def decision_function(self, triplets: Any) -> np.ndarray:
        """``d(a, c) - d(a, b)`` for each triplet, shape (n_triplets,)."""
        t = self._check_tuples(triplets, tuple_size=3, reset=False)
        return self.pair_distance(t[:, [0, 2]]) - self.pair_distance(t[:, [0, 1]])

    def predict(self, triplets: Any) -> np.ndarray:
        """+1 where the triplet's order is respected, else -1."""
        return np.where(self.decision_function(triplets) >= 0, 1, -1)

    def score(self, triplets: Any, y: Any = None) -> float:
        """Share of triplets whose order the metric respects."""
        return float(np.mean(self.predict(triplets) == 1))


class QuadrupletsClassifierMixin(_TupleClassifierMixin):
    """Quadruplets (a, b, c, d): predict +1 when d(a, b) < d(c, d)."""

    _tuple_size = 4
    classes_ = np.array([-1, 1])

    def decision_function(self, quadruplets: Any) -> np.ndarray:
        """``d(c, d) - d(a, b)`` for each quadruplet, shape (n_quadruplets,)."""
        q = self._check_tuples(quadruplets, tuple_size=4, reset=False)
        return self.pair_distance(q[:, [2, 3]]) - self.pair_distance(q[:, [0, 1]])

    def predict(self, quadruplets: Any) -> np.ndarray:
        """+1 where the first pair is closer than the second, else -1."""
        return np.where(self.decision_function(quadruplets) >= 0, 1, -1)

    def score(self, quadruplets: Any, y: Any = None) -> float:
        """Share of quadruplets whose order the metric respects."""
        return float(np.mean(self.predict(quadruplets) == 1))

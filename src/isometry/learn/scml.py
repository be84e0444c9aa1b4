"""Sparse Compositional Metric Learning (SCML) from triplets or class labels.

Shi, Bellet & Sha, "Sparse Compositional Metric Learning" (AAAI 2014). The metric is a
sparse non-negative combination of rank-one bases, ``M = sum_k w_k b_k b_k^T``; the
weights minimize ``beta * sum(w) + mean_t max(0, 1 + d_w(a, b) - d_w(a, c))`` over
triplets (a closer to b than to c) by stochastic dual averaging with AdaGrad steps
(mini-batches of ``batch_size`` triplets), keeping the best iterate seen every
``output_iter`` steps, as in metric-learn 0.7.

Bases: ``triplet_diffs`` (eigenvectors of ``sum (a-b)(a-b)^T - (a-c)(a-c)^T`` over
random groups of triplets) for :class:`SCML`; ``lda`` (normalized LDA directions of
the neighbourhoods of k-means centres, at two scales) for :class:`SCML_Supervised`;
or a given (n_basis, n_features) array.

Differences from metric-learn, on purpose: ``SCML_Supervised`` honours ``gamma``
(metric-learn drops it); the per-triplet basis distances are computed per block of
mini-batches instead of one (n_triplets x n_basis) matrix; neighbour searches use
:func:`isometry.distances.knn`.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.utils import check_random_state

from .._backend import rows_per_block
from .._validate import Interval, Options, check_params
from ..distances import knn
from ..errors import ConvergenceWarning, InputError
from ._base import MahalanobisMixin, TripletsClassifierMixin, check_supervised, components_from_metric
from .constraints import Constraints

__all__ = ["SCML", "SCML_Supervised", "scml_weights", "triplet_diff_basis", "lda_basis"]


def _basis_gaps(triplets: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Per basis, ``(b^T(a - b))^2 - (b^T(a - c))^2``; triplets (t, 3, d) -> (t, n_basis)."""
    pos = (triplets[:, 0] - triplets[:, 1]) @ basis.T
    neg = (triplets[:, 0] - triplets[:, 2]) @ basis.T
    return pos * pos - neg * neg


#: Largest (n_triplets x n_basis) gap matrix kept in memory (float32 entries, 640 MB; metric-learn
#: keeps the same matrix in float64 whatever its size); beyond that, gaps are recomputed per block.
MAX_GAP_ENTRIES = 160_000_000


class _Gaps:
    """Basis gaps of the triplets: one precomputed matrix when it fits, else recomputed in blocks."""

    def __init__(self, triplets: np.ndarray, basis: np.ndarray) -> None:
        self.triplets, self.basis = triplets, basis
        self.step = rows_per_block(basis.shape[0], 8 * 3)
        self.full = None
        if len(triplets) * basis.shape[0] <= MAX_GAP_ENTRIES:
            self.full = np.empty((len(triplets), basis.shape[0]), dtype=np.float32)
            for s in range(0, len(triplets), self.step):
                self.full[s:s + self.step] = _basis_gaps(triplets[s:s + self.step], basis)

    def rows(self, idx: np.ndarray) -> np.ndarray:
        if self.full is not None:
            return self.full[idx].astype(np.float64)
        return _basis_gaps(self.triplets[idx], self.basis)

    def objective(self, w: np.ndarray, beta: float) -> float:
        """``beta * sum(w) + mean_t max(0, 1 + gaps_t . w)``."""
        if self.full is not None:
            hinge = float(np.maximum(0.0, 1.0 + self.full @ w.astype(np.float32)).sum(dtype=np.float64))
        else:
            hinge = sum(float(np.maximum(0.0, 1.0 + _basis_gaps(self.triplets[s:s + self.step], self.basis) @ w).sum())
                        for s in range(0, len(self.triplets), self.step))
        return beta * float(w.sum()) + hinge / len(self.triplets)


def scml_weights(triplets: np.ndarray, basis: np.ndarray, *, beta: float = 1e-5, gamma: float = 5e-3,
                 max_iter: int = 10000, output_iter: int = 500, batch_size: int = 10,
                 random_state: Any = None, verbose: bool = False) -> tuple[np.ndarray, int]:
    """Sparse basis weights by stochastic dual averaging (AdaGrad), best iterate kept.

    Parameters
    ----------
    triplets : ndarray, shape (n_triplets, 3, n_features)
        Points (a, b, c) with a meant closer to b than to c.
    basis : ndarray, shape (n_basis, n_features)

    Returns
    -------
    w : ndarray, shape (n_basis,)
        Non-negative weights (the best objective among the checkpoints; zeros if none beat w = 0).
    n_iter : int
    """
    output_iter = min(output_iter, max_iter)
    rng = check_random_state(random_state)
    draws = rng.randint(0, len(triplets), size=(max_iter, batch_size))
    k = basis.shape[0]
    w, avg, ada = np.zeros(k), np.zeros(k), np.zeros(k)
    best_w, best = w.copy(), np.inf
    delta = 1e-3
    source = _Gaps(triplets, basis)
    for start in range(0, max_iter, output_iter):
        stop = min(max_iter, start + output_iter)
        gaps = source.rows(draws[start:stop].ravel()).reshape(stop - start, batch_size, k)
        for it in range(start, stop):
            batch = gaps[it - start]
            active = 1.0 + batch @ w > 0
            grad = batch[active].sum(axis=0) / batch_size
            avg = (it * avg + grad) / (it + 1)
            ada = np.sqrt(ada * ada + grad * grad)
            w = (-(it + 1) / (gamma * (delta + ada))) * np.minimum(avg + beta, 0.0)
        if stop % output_iter == 0 or stop == max_iter:
            obj = source.objective(w, beta)
            if verbose:
                print(f"[SCML] iter {stop}\t obj {obj:.6f}")
            if obj < best:
                best, best_w = obj, w.copy()
    return best_w, max_iter


def triplet_diff_basis(triplets: np.ndarray, n_basis: int, random_state: Any) -> np.ndarray:
    """``n_basis`` unit vectors: eigenvectors (non-zero eigenvalue) of
    ``sum_t (a-b)(a-b)^T - (a-c)(a-c)^T`` over groups of n_features random triplets."""
    t, d = triplets.shape[0], triplets.shape[2]
    if d > t:
        raise InputError(f"SCML: the 'triplet_diffs' basis needs at least n_features={d} triplets; got {t}. "
                         "Give more triplets or a basis array.")
    rng = check_random_state(random_state)
    pos = triplets[:, 0] - triplets[:, 1]
    neg = triplets[:, 0] - triplets[:, 2]
    found, total = [], 0
    while total < n_basis:
        rounds = max(1, int(np.ceil((n_basis - total) / d)))
        groups = np.stack([rng.choice(t, size=d, replace=False) for _ in range(rounds)])
        P, N = pos[groups], neg[groups]
        S = np.einsum("rti,rtj->rij", P, P) - np.einsum("rti,rtj->rij", N, N)
        vals, vecs = np.linalg.eigh(S)
        keep = np.abs(vals) > 1e-10 * np.abs(vals).max(axis=1, keepdims=True)
        rows = np.transpose(vecs, (0, 2, 1))[keep]
        if rows.shape[0] == 0:
            raise InputError("SCML: the triplets give no basis direction (all differences are zero).")
        found.append(rows)
        total += rows.shape[0]
    return np.concatenate(found)[:n_basis]


def lda_basis(X: np.ndarray, codes: np.ndarray, n_basis: int | None, random_state: Any) -> np.ndarray:
    """Normalized LDA directions of the same-class neighbourhoods of k-means centres.

    Two scales of neighbourhood (10 and 20 per class, 20 and 50 above 50 features);
    ``n_basis`` defaults to ``min(20 d, 2 n (C - 1) - 1)`` as in metric-learn.
    """
    n, d = X.shape
    counts = np.bincount(codes)
    n_class = counts.size
    num_eig = min(n_class - 1, d)
    if n_basis is None:
        n_basis = min(20 * d, 2 * n * num_eig - 1)
    if n_basis >= 2 * n * num_eig:
        raise InputError(f"SCML_Supervised: not enough samples for {n_basis} LDA bases; n_basis must be "
                         f"< {2 * n * num_eig}.")
    n_clusters = int(np.ceil(n_basis / (2 * num_eig)))
    if n_clusters > n:
        raise InputError(f"SCML_Supervised: n_basis={n_basis} needs {n_clusters} clusters but there are {n} samples.")
    centres = KMeans(n_clusters=n_clusters, n_init=10, random_state=random_state).fit(X).cluster_centers_
    scales = (20, 50) if d > 50 else (10, 20)
    members = [np.flatnonzero(codes == c) for c in range(n_class)]
    near = [m[np.asarray(knn(centres, X[m], k=min(len(m), scales[1]), backend="torch").indices)]
            for m in members]  # per class: (n_clusters, k_c) row indices, nearest first
    rows = []
    lda = LinearDiscriminantAnalysis()
    for scale in scales:
        for c in range(n_clusters):
            idx = np.concatenate([nb[c, :min(nb.shape[1], scale)] for nb in near])
            S = lda.fit(X[idx], codes[idx]).scalings_.T[:num_eig]
            rows.append(S / np.maximum(np.linalg.norm(S, axis=1, keepdims=True), 1e-300))
    return np.concatenate(rows)[:n_basis]


def _components(basis: np.ndarray, w: np.ndarray, owner: str) -> np.ndarray:
    active = w > 0
    d = basis.shape[1]
    if not active.any():
        warnings.warn(f"{owner}: no basis received a positive weight; the metric is zero. Try a smaller beta "
                      "or more iterations.", ConvergenceWarning, stacklevel=3)
        return np.zeros((1, d))
    if active.sum() < d:
        return np.sqrt(w[active])[:, None] * basis[active]
    B = basis[active]
    return components_from_metric(B.T @ (w[active][:, None] * B))


_SHARED_CONSTRAINTS = {
    "beta": (Interval(numbers.Real, 0, None),),
    "gamma": (Interval(numbers.Real, 0, None, closed="neither"),),
    "n_basis": (Interval(numbers.Integral, 1, None), None),
    "max_iter": (Interval(numbers.Integral, 1, None),),
    "output_iter": (Interval(numbers.Integral, 1, None),),
    "batch_size": (Interval(numbers.Integral, 1, None),),
    "verbose": (bool, Options([0, 1])),
}


class _SCMLFit:
    """Parameter checks and the shared fit of both SCML estimators."""

    def _check(self) -> None:
        owner = type(self).__name__
        check_params(owner, self.get_params(), self._parameter_constraints)

    def _given_basis(self, d: int) -> np.ndarray | None:
        if isinstance(self.basis, str):
            return None
        basis = np.asarray(self.basis, dtype=np.float64)
        if basis.ndim != 2 or basis.shape[1] != d or not np.isfinite(basis).all():
            raise InputError(f"{type(self).__name__}: a basis array must be finite with shape (n_basis, {d}); "
                             f"got shape {basis.shape}.")
        return basis

    def _fit_triplets(self, triplets: np.ndarray, basis: np.ndarray) -> Any:
        w, self.n_iter_ = scml_weights(
            triplets, basis, beta=self.beta, gamma=self.gamma, max_iter=self.max_iter,
            output_iter=self.output_iter, batch_size=self.batch_size, random_state=self.random_state,
            verbose=bool(self.verbose))
        self.components_ = _components(basis, w, type(self).__name__)
        return self


class SCML(_SCMLFit, TripletsClassifierMixin, MahalanobisMixin, BaseEstimator):
    """Sparse Compositional Metric Learning from triplets (Shi, Bellet & Sha, 2014).

    Parameters
    ----------
    beta : float, default=1e-5
        Weight of the L1 penalty on the basis weights.
    basis : "triplet_diffs" or ndarray (n_basis, n_features), default="triplet_diffs"
    n_basis : int or None, default=None
        Number of bases for ``triplet_diffs`` (None: 80 x n_features).
    gamma : float, default=5e-3
        Step-size scale of dual averaging (smaller = larger steps).
    max_iter : int, default=10000
    output_iter : int, default=500
        Iterations between objective checkpoints (the best is kept); the last iteration
        is always a checkpoint (metric-learn raises when output_iter > max_iter).
    batch_size : int, default=10
    verbose : bool, default=False
    preprocessor : array-like or callable, default=None
        Turns (n_triplets, 3) index triplets into points.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    components_ : ndarray, shape (n_components, n_features)
    n_iter_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(200, 2))
    >>> b, c = a + [0.0, 3.0] * rng.normal(size=(200, 2)), a + [3.0, 0.0] * rng.normal(size=(200, 2))
    >>> M = SCML(n_basis=20, max_iter=2000, random_state=0).fit(np.stack([a, b, c], 1)).get_mahalanobis_matrix()
    >>> bool(M[0, 0] > M[1, 1])
    True
    """

    _parameter_constraints = {**_SHARED_CONSTRAINTS, "basis": (Options(["triplet_diffs"]), np.ndarray, list)}

    def __init__(self, beta=1e-5, basis="triplet_diffs", n_basis=None, gamma=5e-3, max_iter=10000,
                 output_iter=500, batch_size=10, verbose=False, preprocessor=None, random_state=None):
        self.beta = beta
        self.basis = basis
        self.n_basis = n_basis
        self.gamma = gamma
        self.max_iter = max_iter
        self.output_iter = output_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.preprocessor = preprocessor
        self.random_state = random_state

    def fit(self, triplets: Any, y: Any = None) -> "SCML":
        """Learn from triplets (n_triplets, 3, n_features) ordered so d(t0, t1) < d(t0, t2); y is ignored."""
        self._check()
        triplets = self._check_tuples(triplets, tuple_size=3, reset=True)
        d = triplets.shape[2]
        basis = self._given_basis(d)
        if basis is None:
            n_basis = 80 * d if self.n_basis is None else self.n_basis
            basis = triplet_diff_basis(triplets, n_basis, self.random_state)
        return self._fit_triplets(triplets, basis)


class SCML_Supervised(_SCMLFit, MahalanobisMixin, BaseEstimator):
    """SCML on k-NN triplets drawn from class labels.

    Each point a gets triplets (a, b, c) with b among its ``k_genuine`` nearest
    same-class neighbours and c among its ``k_impostor`` nearest other-class points.

    Parameters
    ----------
    k_genuine : int, default=3
    k_impostor : int, default=10
    basis : "lda" or ndarray (n_basis, n_features), default="lda"
    Other parameters as in :class:`SCML`.

    Attributes
    ----------
    components_ : ndarray, shape (n_components, n_features)
    n_iter_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> SCML_Supervised(max_iter=1000, random_state=0).fit(X, y).transform(X).shape[0]
    150
    """

    _parameter_constraints = {
        **_SHARED_CONSTRAINTS,
        "basis": (Options(["lda"]), np.ndarray, list),
        "k_genuine": (Interval(numbers.Integral, 1, None),),
        "k_impostor": (Interval(numbers.Integral, 1, None),),
    }

    def __init__(self, k_genuine=3, k_impostor=10, beta=1e-5, basis="lda", n_basis=None, gamma=5e-3,
                 max_iter=10000, output_iter=500, batch_size=10, verbose=False, preprocessor=None,
                 random_state=None):
        self.k_genuine = k_genuine
        self.k_impostor = k_impostor
        self.beta = beta
        self.basis = basis
        self.n_basis = n_basis
        self.gamma = gamma
        self.max_iter = max_iter
        self.output_iter = output_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.preprocessor = preprocessor
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> "SCML_Supervised":
        """Learn from points X (n_samples, n_features) and class labels y (n_samples,)."""
        self._check()
        X, codes, _ = check_supervised(self, X, y, min_classes=2, min_per_class=2)
        basis = self._given_basis(X.shape[1])
        if basis is None:
            basis = lda_basis(X, codes, self.n_basis, self.random_state)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # classes smaller than k_genuine use what they have
            idx = Constraints(codes).generate_knntriplets(X, self.k_genuine, self.k_impostor)
        if len(idx) == 0:
            raise InputError("SCML_Supervised: no k-NN triplet could be formed from these labels.")
        return self._fit_triplets(X[idx], basis)

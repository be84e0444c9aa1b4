"""Constraints drawn from (partial) class labels: pairs, chunks and k-NN triplets.

The API follows metric-learn 0.7's ``Constraints`` so code using it switches by
changing the import. Differences, on purpose:

- labels are never cast to int: strings and large integers are fine (metric-learn
  casts with ``dtype=int``); numeric labels below 0 mean "unknown", as there;
- draws are vectorized (one batch of random numbers per round, not one per pair);
- :meth:`Constraints.chunks` draws from every class; metric-learn's
  ``randint(0, n_classes - 1)`` never draws the last class.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from .._validate import check_embeddings, check_labels, encode_labels
from ..errors import InputError

__all__ = ["Constraints", "wrap_pairs"]


class Constraints:
    """Build constraints from labeled data.

    Parameters
    ----------
    partial_labels : array-like, shape (n_samples,)
        Class labels (any hashable scalars); numeric labels < 0 mark unknown samples.

    Examples
    --------
    >>> c = Constraints([0, 0, 0, 1, 1, 1])
    >>> a, b, c_, d = c.positive_negative_pairs(4, random_state=0)
    >>> bool(((a < 3) == (b < 3)).all() and ((c_ < 3) != (d < 3)).all())
    True
    """

    def __init__(self, partial_labels: Any) -> None:
        labels = check_labels(partial_labels, name="partial_labels")
        self.partial_labels = labels
        known = labels >= 0 if labels.dtype.kind in "iuf" else np.ones(len(labels), dtype=bool)
        self._known = np.flatnonzero(known)
        (self._codes,), self._classes = encode_labels(labels[self._known])

    # ------------------------------------------------------------------ pairs

    def positive_negative_pairs(self, n_constraints: int, same_length: bool = False,
                                random_state: Any = None) -> tuple[np.ndarray, ...]:
        """Draw ``n_constraints`` distinct same-label and different-label pairs.

        Parameters
        ----------
        n_constraints : int
            Pairs of each kind. Fewer are returned, with a warning, when the labels
            cannot give that many distinct pairs within 10 rounds of draws.
        same_length : bool, default=False
            Cut the longer of the two lists to the length of the shorter.
        random_state : int, RandomState or None

        Returns
        -------
        a, b, c, d : ndarray of int, each shape (n,)
            Positive pairs (a[i], b[i]) and negative pairs (c[i], d[i]), as row indices.
        """
        if not isinstance(n_constraints, (int, np.integer)) or n_constraints < 1:
            raise InputError(f"n_constraints must be a positive int; got {n_constraints!r}.")
        rng = check_random_state(random_state)
        a, b = self._pairs(int(n_constraints), True, rng)
        c, d = self._pairs(int(n_constraints), False, rng)
        if same_length and len(a) != len(c):
            n = min(len(a), len(c))
            a, b, c, d = a[:n], b[:n], c[:n], d[:n]
        return a, b, c, d

    def _pairs(self, n_constraints: int, same_label: bool, rng: np.random.RandomState,
               max_rounds: int = 10) -> tuple[np.ndarray, np.ndarray]:
        codes = self._codes
        n = len(codes)
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes, minlength=len(self._classes))
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n) - starts[codes[order]]
        found = np.empty(0, dtype=np.int64)
        for _ in range(max_rounds):
            need = n_constraints - len(found)
            if need <= 0 or n == 0:
                break
            anchor = rng.randint(n, size=need)
            c = codes[anchor]
            if same_label:
                choices = counts[c] - 1
                ok = choices > 0
                pick = (rng.random_sample(need) * np.maximum(choices, 1)).astype(np.int64)
                pick += pick >= rank[anchor]  # skip the anchor itself
                partner = order[np.minimum(starts[c] + pick, n - 1)]
            else:
                choices = n - counts[c]
                ok = choices > 0
                pick = (rng.random_sample(need) * np.maximum(choices, 1)).astype(np.int64)
                pick += np.where(pick >= starts[c], counts[c], 0)  # skip the anchor's class block
                partner = order[np.minimum(pick, n - 1)]
            keys = anchor[ok] * n + partner[ok]
            merged = np.concatenate([found, keys])
            found = merged[_first_occurrences(merged)]
        if len(found) < n_constraints:
            warnings.warn(f"Only generated {len(found)} {'positive' if same_label else 'negative'} constraints "
                          f"(requested {n_constraints}).", UserWarning, stacklevel=3)
        found = found[:n_constraints]
        return self._known[found // max(n, 1)], self._known[found % max(n, 1)]

    # ------------------------------------------------------------------ chunks

    def chunks(self, n_chunks: int = 100, chunk_size: int = 2, random_state: Any = None) -> np.ndarray:
        """Split samples into ``n_chunks`` disjoint same-class groups of ``chunk_size``.

        Each chunk picks its class uniformly among the classes that still have
        ``chunk_size`` unused samples (every class can be drawn).

        Returns
        -------
        ndarray of int, shape (n_samples,)
            Chunk index of each sample, -1 for samples in no chunk.

        Raises
        ------
        InputError
            The classes cannot give ``n_chunks`` chunks of ``chunk_size``.
        """
        if chunk_size < 1 or n_chunks < 1:
            raise InputError(f"n_chunks and chunk_size must be >= 1; got {n_chunks} and {chunk_size}.")
        rng = check_random_state(random_state)
        capacity = np.bincount(self._codes, minlength=len(self._classes)) // chunk_size
        if capacity.sum() < n_chunks:
            raise InputError(f"Not enough samples to form {n_chunks} chunks of {chunk_size} from the same class: "
                             f"at most {int(capacity.sum())} chunks are possible.")
        members = [rng.permutation(np.flatnonzero(self._codes == k)) for k in range(len(self._classes))]
        used = np.zeros(len(capacity), dtype=np.int64)
        out = -np.ones(len(self.partial_labels), dtype=np.int64)
        for chunk in range(n_chunks):
            open_classes = np.flatnonzero(used < capacity)
            k = open_classes[rng.randint(len(open_classes))]
            rows = members[k][used[k] * chunk_size:(used[k] + 1) * chunk_size]
            out[self._known[rows]] = chunk
            used[k] += 1
        return out

    # ------------------------------------------------------------------ triplets

    def generate_knntriplets(self, X: Any, k_genuine: int, k_impostor: int) -> np.ndarray:
        """Triplets (a, b, c): b among a's ``k_genuine`` nearest same-class neighbours,
        c among its ``k_impostor`` nearest other-class neighbours (Euclidean).

        Classes too small for ``k_genuine`` (or with too few other samples for
        ``k_impostor``) use as many as they have, with a warning.

        Returns
        -------
        ndarray of int, shape (n_triplets, 3)
        """
        from ..distances import knn

        X = check_embeddings(X, name="X", allow_torch=False)
        if X.shape[0] != len(self.partial_labels):
            raise InputError(f"X has {X.shape[0]} rows but partial_labels has {len(self.partial_labels)}.")
        Xk = np.asarray(X[self._known], dtype=np.float64)
        out = []
        for k in range(len(self._classes)):
            same = np.flatnonzero(self._codes == k)
            other = np.flatnonzero(self._codes != k)
            kg = min(k_genuine, len(same) - 1)
            ki = min(k_impostor, len(other))
            if kg < k_genuine or ki < k_impostor:
                warnings.warn(f"Class {self._classes[k]!r} gives only {kg} genuine and {ki} impostor neighbours "
                              f"(asked {k_genuine} and {k_impostor}).", UserWarning, stacklevel=2)
            if kg < 1 or ki < 1:
                continue
            gen = same[knn(Xk[same], k=kg).indices]
            imp = other[knn(Xk[same], Xk[other], k=ki).indices]
            a = np.repeat(same, kg * ki)
            b = np.repeat(gen, ki, axis=1).ravel()
            c = np.tile(imp, (1, kg)).ravel()
            out.append(np.stack([a, b, c], axis=1))
        trip = np.concatenate(out) if out else np.empty((0, 3), dtype=np.int64)
        return self._known[trip]


def _first_occurrences(keys: np.ndarray) -> np.ndarray:
    """Sorted positions of the first occurrence of each distinct value of ``keys`` (int64, >= 0).

    Same as ``np.sort(np.unique(keys, return_index=True)[1])``, but one unstable sort of
    ``key * len + position`` (distinct values) instead of a stable argsort, when that fits in int64.
    """
    size = len(keys)
    if size == 0 or keys.max() >= np.iinfo(np.int64).max // size - 1:
        return np.sort(np.unique(keys, return_index=True)[1])
    composite = np.sort(keys * size + np.arange(size))
    value = composite // size
    first = np.ones(size, dtype=bool)
    first[1:] = value[1:] != value[:-1]
    return np.sort(composite[first] % size)


def wrap_pairs(X: Any, constraints: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Turn index pairs ``(a, b, c, d)`` into metric-learn's pair input.

    Returns
    -------
    pairs : ndarray, shape (n_pos + n_neg, 2, n_features)
    y : ndarray of int, shape (n_pos + n_neg,)
        +1 for the positive pairs (a, b), -1 for the negative pairs (c, d).
    """
    a, b, c, d = (np.asarray(v, dtype=np.int64) for v in constraints)
    idx = np.vstack([np.column_stack([a, b]), np.column_stack([c, d])])
    y = np.r_[np.ones(len(a), dtype=np.int64), -np.ones(len(c), dtype=np.int64)]
    return np.asarray(X)[idx], y

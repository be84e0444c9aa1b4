"""Clustering quality of an embedding set: NMI and AMI of k-means clusters vs labels.

k-means with k = number of classes, then scikit-learn's normalized / adjusted
mutual information: the definition of pytorch-metric-learning's AccuracyCalculator ("Deep Metric Learning via Lifted Structured Feature Embedding", Oh Song et
al. 2016, popularised NMI for metric learning).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score
from threadpoolctl import threadpool_limits

from .._backend import to_numpy
from ..distances.knn import faiss, faiss_available

__all__ = ["kmeans_labels", "nmi", "ami"]

#: Lloyd iterations of each start before the best one is kept.
_TRIAL_ITER = 10


def kmeans_labels(embeddings: Any, n_clusters: int, *, seed: int = 0, max_iter: int = 50, n_init: int = 1,
                  spherical: bool = False, max_points_per_cluster: int = 256) -> np.ndarray:
    """Cluster assignment of each row by k-means: greedy k-means++ starts, then Lloyd.

    Seeding is greedy k-means++ ("k-means++: The Advantages of Careful Seeding",
    Arthur & Vassilvitskii 2007; 2 + log k trials per centre), written with GEMMs;
    Lloyd iterations run in faiss when importable (scikit-learn's ``KMeans``
    otherwise). Centroids are fitted on a seeded sample of at most
    ``max_points_per_cluster * n_clusters`` rows (faiss's rule), then every row is
    assigned to its nearest centroid by the exact k-NN search, so time and memory
    stay linear in n. A random start (faiss's default, used by AccuracyCalculator)
    merges clusters even on well-separated data; one k-means++ start rarely does,
    which is why it is scikit-learn's default (``n_init="auto"``) and ours. Seeding
    runs on at most 32 rows per cluster. With ``n_init > 1`` each start runs 10
    Lloyd iterations and the best (lowest inertia) continues to ``max_iter``.

    Parameters
    ----------
    embeddings : array-like, shape (n, d)
        Already validated.
    n_clusters : int
        Number of clusters (``<= n``).
    seed : int, default=0
        Seed of the sample and of the starts.
    max_iter : int, default=50
        Lloyd iterations of the kept start (the others stop after 10).
    n_init : int, default=1
        k-means++ starts; the one with the lowest within-cluster sum of squares is
        kept. At 20,000 x 128 and 200 clusters each start costs ~0.25 s (2 cores).
    spherical : bool, default=False
        Normalize rows first (cosine geometry).

    Returns
    -------
    numpy.ndarray, shape (n,)
        int64 cluster ids.
    """
    from ..distances import knn

    x = np.ascontiguousarray(to_numpy(embeddings), dtype=np.float32)
    if spherical:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    if n_clusters == 1:
        return np.zeros(len(x), dtype=np.int64)
    rng = np.random.default_rng(seed)
    cap = max_points_per_cluster * n_clusters
    sample = x[np.sort(rng.choice(len(x), cap, replace=False))] if len(x) > cap else x
    best, best_inertia = None, np.inf
    seed_cap = 32 * n_clusters  # k-means++ on a sub-sample: its cost is O(k n d log k)
    trial_iter = min(max_iter, _TRIAL_ITER) if n_init > 1 else max_iter
    with _faiss_threads(1), threadpool_limits(1, user_api="blas"):
        for _ in range(n_init):
            seeding = sample[rng.choice(len(sample), seed_cap, replace=False)] if len(sample) > seed_cap else sample
            centroids, inertia = _lloyd(sample, _kmeans_plusplus(seeding, n_clusters, rng), trial_iter, rng)
            if inertia < best_inertia:
                best, best_inertia = centroids, inertia
        if max_iter > trial_iter:
            best, _ = _lloyd(sample, best, max_iter - trial_iter, rng)
    return knn(x, best, k=1, exclude_self=False).indices.ravel().astype(np.int64)


@contextmanager
def _faiss_threads(n: int):
    """Run faiss on at most n OpenMP threads inside the block.

    Seeding and Lloyd iterations are many short GEMMs and parallel regions; on a
    busy machine their barriers cost more than a second thread saves (5-10x slower
    measured on 2 cores), so they run on one thread (BLAS too).
    """
    if not faiss_available():
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(min(n, before))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _kmeans_plusplus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ centres of ``x`` (n, d) float32 -> (k, d)."""
    n = len(x)
    trials = 2 + int(np.log(k))
    sq = np.einsum("ij,ij->i", x, x)
    centres = np.empty((k, x.shape[1]), dtype=np.float32)
    first = rng.integers(n)
    centres[0] = x[first]
    closest = np.maximum(sq - 2 * x @ x[first] + sq[first], 0)
    for i in range(1, k):
        total = closest.sum()
        if total <= 0:  # fewer distinct points than clusters
            cand = rng.integers(0, n, trials)
        else:
            cand = np.searchsorted(np.cumsum(closest, dtype=np.float64), rng.random(trials) * total)
            cand = np.minimum(cand, n - 1)
        dist = np.maximum(sq[cand, None] - 2 * x[cand] @ x.T + sq[None, :], 0)
        candidate_closest = np.minimum(closest, dist)
        pick = int(np.argmin(candidate_closest.sum(axis=1)))
        closest = candidate_closest[pick]
        centres[i] = x[cand[pick]]
    return centres


def _lloyd(x: np.ndarray, init: np.ndarray, max_iter: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Lloyd iterations from ``init``; returns centroids and the final inertia."""
    if faiss_available():
        km = faiss.Kmeans(x.shape[1], len(init), niter=max_iter, seed=int(rng.integers(2**31)), verbose=False,
                          max_points_per_centroid=max(256, len(x) // len(init) + 1), min_points_per_centroid=1)
        km.train(x, init_centroids=init)
        return km.centroids, float(km.obj[-1])
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=len(init), init=init, n_init=1, max_iter=max_iter).fit(x)
    return km.cluster_centers_.astype(np.float32), float(km.inertia_)


def nmi(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Normalized mutual information (arithmetic normalization, scikit-learn's default)."""
    return float(normalized_mutual_info_score(labels, clusters))


def ami(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Adjusted mutual information (corrected for chance)."""
    return float(adjusted_mutual_info_score(labels, clusters))

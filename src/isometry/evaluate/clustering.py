"""Clustering quality of an embedding set: NMI and AMI of k-means clusters vs labels.

k-means with k = number of classes, then scikit-learn's normalized / adjusted
mutual information: the definition of pytorch-metric-learning's AccuracyCalculator ("Deep Metric Learning via Lifted Structured Feature Embedding", Oh Song et
al. 2016, popularised NMI for metric learning).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score

from .._backend import to_numpy

__all__ = ["kmeans_labels", "nmi", "ami"]


def kmeans_labels(embeddings: Any, n_clusters: int, *, seed: int = 0, max_iter: int = 50, n_init: int = 3,
                  spherical: bool = False, max_points_per_cluster: int = 256) -> np.ndarray:
    """Cluster assignment of each row by k-means (k-means++ seeding, then Lloyd).

    Centroids are fitted by scikit-learn's ``KMeans`` on a seeded sample of at most
    ``max_points_per_cluster * n_clusters`` rows (faiss's rule for large sets), then
    every row is assigned to its nearest centroid through the exact k-NN search, so
    memory and time stay linear in n. k-means++ seeding avoids the merged clusters
    that a random start (faiss's default, used by AccuracyCalculator) gives even on
    well-separated data, and several starts make a bad one unlikely.

    Parameters
    ----------
    embeddings : array-like, shape (n, d)
        Already validated.
    n_clusters : int
        Number of clusters (``<= n``).
    seed : int, default=0
        Seed of the sample and of the k-means++ start.
    max_iter : int, default=50
        Lloyd iterations at most, per start.
    n_init : int, default=3
        k-means++ starts; the one with the lowest inertia is kept (one start
        merges clusters on well-separated data about one time in three).
    spherical : bool, default=False
        Normalize rows first (cosine geometry).

    Returns
    -------
    numpy.ndarray, shape (n,)
        int64 cluster ids.
    """
    from sklearn.cluster import KMeans

    from ..distances import knn

    x = np.ascontiguousarray(to_numpy(embeddings), dtype=np.float32)
    if spherical:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    if n_clusters == 1:
        return np.zeros(len(x), dtype=np.int64)
    rng = np.random.default_rng(seed)
    cap = max_points_per_cluster * n_clusters
    sample = x[np.sort(rng.choice(len(x), cap, replace=False))] if len(x) > cap else x
    km = KMeans(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, random_state=seed).fit(sample)
    centroids = km.cluster_centers_.astype(np.float32)
    return knn(x, centroids, k=1, exclude_self=False).indices.ravel().astype(np.int64)


def nmi(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Normalized mutual information (arithmetic normalization, scikit-learn's default)."""
    return float(normalized_mutual_info_score(labels, clusters))


def ami(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Adjusted mutual information (corrected for chance)."""
    return float(adjusted_mutual_info_score(labels, clusters))

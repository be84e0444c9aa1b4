"""Distances between embeddings: one registry, blockwise pairwise matrices, exact k-NN.

Names: ``euclidean``, ``sqeuclidean``, ``cosine`` (1 - cosine similarity),
``cosine_similarity``, ``dot``, ``snr``. ``mahalanobis(a, b, M)`` takes its matrix.
Similarities (``cosine_similarity``, ``dot``) rank larger values as closer.
"""

from __future__ import annotations

from .._registry import Record, Registry
from . import _functions as F
from ._functions import cosine, cosine_similarity, dot, euclidean, mahalanobis, normalize, snr, sqeuclidean

DISTANCES = Registry("distance")
for _name, _fn, _sim, _desc in [
    ("euclidean", F.euclidean, False, "L2 distance"),
    ("sqeuclidean", F.sqeuclidean, False, "squared L2 distance"),
    ("cosine", F.cosine, False, "1 - cosine similarity (inputs need not be normalized)"),
    ("cosine_similarity", F.cosine_similarity, True, "cosine similarity (higher is closer)"),
    ("dot", F.dot, True, "inner product (higher is closer)"),
    ("snr", F.snr, False, "signal-to-noise ratio distance (Yuan et al. 2019)"),
]:
    DISTANCES.register(Record(_name, _fn, None, frozenset(), _desc, {"is_similarity": _sim}))

from .pairwise import pairwise  # noqa: E402
from .knn import KNNResult, knn, iter_knn, faiss_available  # noqa: E402

__all__ = [
    "DISTANCES",
    "pairwise",
    "knn",
    "iter_knn",
    "KNNResult",
    "faiss_available",
    "euclidean",
    "sqeuclidean",
    "cosine",
    "cosine_similarity",
    "dot",
    "snr",
    "mahalanobis",
    "normalize",
]

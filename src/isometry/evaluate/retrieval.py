"""Retrieval metrics of an embedding set: P@1, Recall@K, R-precision, MAP@R, MAP, MRR, NMI, AMI.

Definitions follow "A Metric Learning Reality Check" (Musgrave et al., 2020) and
pytorch-metric-learning's AccuracyCalculator, so numbers match it on tie-free data:

- R = number of references sharing the query's label (the query itself excluded
  when queries are the references). Queries with R = 0 (a class of one sample, or a
  label absent from the reference) are left out of the k-NN metrics, with a warning;
  if every query is left out those metrics are NaN. NMI/AMI use every query.
- The k-NN list has ``k`` entries; ``k="max_bin_count"`` (default) is the largest R,
  so MAP@R and R-precision are exact. An int ``k`` smaller than some R truncates them
  (a warning says so); ``k=None`` uses the whole reference set.
- precision_at_1: share of queries whose nearest reference has their label.
- recall_at_K (K = 1, 2, 4, 8): share of queries with at least one same-label
  reference among the K nearest ("Deep Metric Learning via Lifted Structured Feature
  Embedding", Oh Song et al. 2016). AccuracyCalculator has no such metric.
- r_precision: same-label share among the first min(R, k) neighbours.
- mean_average_precision_at_r: (1/R) sum_{i<=R} P@i rel(i).
- mean_average_precision: (1/R) sum_{i<=k} P@i rel(i); with the default k that is
  the average precision over the first max-R neighbours, divided by R as in
  AccuracyCalculator (equal to the full AP when no positive ranks beyond k).
- mean_reciprocal_rank: 1 / rank of the first same-label neighbour within k, 0 if none.
- nmi / ami: k-means on the queries with k = number of query classes, then
  scikit-learn's normalized / adjusted mutual information.

Ties: neighbours at equal distance are ranked by reference index (lowest first),
so results never depend on the search back-end's internal order.
AccuracyCalculator leaves that order to faiss.
"""

from __future__ import annotations

import numbers
import warnings
from functools import cached_property
from typing import Any, Iterable

import numpy as np
import torch

from .._registry import Record, Registry
from .._validate import Interval, Options, check_embeddings, check_labels, check_param, check_same_width, encode_labels
from ..distances.knn import KNN_DISTANCES, iter_knn
from ..errors import InputError
from .clustering import ami, kmeans_labels, nmi

__all__ = ["retrieval", "retrieval_per_query", "RETRIEVAL_METRICS", "RECALL_KS"]

RECALL_KS = (1, 2, 4, 8)


class _Ranked:
    """One block of ranked neighbours, with the running sums the k-NN metrics share.

    ``hits`` (b, search_len) bool: neighbour j of query i has its label;
    ``r`` (b,) float64: same-label references per query; ``k``: list length.
    Running sums are computed once per block, on first use.
    """

    def __init__(self, hits: torch.Tensor, r: torch.Tensor, k: int) -> None:
        self.hits, self.r, self.k = hits, r, k
        self.top = hits[:, :k]

    @cached_property
    def found(self) -> torch.Tensor:
        """(b, k) int32: same-label neighbours among the first j + 1."""
        return self.top.cumsum(dim=1, dtype=torch.int32)

    @cached_property
    def precision_sums(self) -> torch.Tensor:
        """(b, k) float64: running sum of P@i rel(i)."""
        ranks = torch.arange(1, self.k + 1, device=self.hits.device, dtype=torch.float64)
        return torch.where(self.top, self.found / ranks, 0.0).cumsum(dim=1)

    def at_r(self, values: torch.Tensor) -> torch.Tensor:
        """Column min(R, k) - 1 of a (b, k) running quantity."""
        col = (self.r.clamp(max=self.k) - 1).long()
        return values.gather(1, col[:, None])[:, 0]


def _precision_at_1(ranked: _Ranked) -> torch.Tensor:
    return ranked.top[:, 0].to(torch.float64)


def _r_precision(ranked: _Ranked) -> torch.Tensor:
    return ranked.at_r(ranked.found) / ranked.r.clamp(max=ranked.k)


def _map_at_r(ranked: _Ranked) -> torch.Tensor:
    return ranked.at_r(ranked.precision_sums) / ranked.r


def _map(ranked: _Ranked) -> torch.Tensor:
    return ranked.precision_sums[:, -1] / ranked.r


def _mrr(ranked: _Ranked) -> torch.Tensor:
    found = ranked.top.any(dim=1)
    first = ranked.top.to(torch.uint8).argmax(dim=1).to(torch.float64) + 1.0
    return torch.where(found, 1.0 / first, torch.zeros_like(first))


def _recall_at(k: int):
    def recall(ranked: _Ranked) -> torch.Tensor:
        return ranked.hits[:, :k].any(dim=1).to(torch.float64)

    recall.__name__ = f"_recall_at_{k}"
    return recall


RETRIEVAL_METRICS = Registry("retrieval metric")
for _name, _fn, _desc in [
    ("precision_at_1", _precision_at_1, "share of queries whose nearest neighbour has their label"),
    ("r_precision", _r_precision, "same-label share among the first R neighbours"),
    ("mean_average_precision_at_r", _map_at_r, "MAP@R (Musgrave et al. 2020)"),
    ("mean_average_precision", _map, "average precision over the k-NN list, divided by R"),
    ("mean_reciprocal_rank", _mrr, "1 / rank of the first same-label neighbour"),
    *[(f"recall_at_{k}", _recall_at(k), f"share of queries with a same-label neighbour in the top {k}")
      for k in RECALL_KS],
]:
    RETRIEVAL_METRICS.register(Record(_name, _fn, True, frozenset({"knn", "labels"}), _desc))
RETRIEVAL_METRICS.register(Record("nmi", nmi, True, frozenset({"clustering", "labels"}),
                                  "normalized mutual information of k-means clusters"))
RETRIEVAL_METRICS.register(Record("ami", ami, True, frozenset({"clustering", "labels"}),
                                  "adjusted mutual information of k-means clusters"))


def retrieval(
    embeddings: Any,
    labels: Any,
    *,
    reference: Any = None,
    reference_labels: Any = None,
    distance: str = "euclidean",
    k: int | str | None = "max_bin_count",
    metrics: Iterable[str] | None = None,
    ref_includes_query: bool = False,
    seed: int = 0,
    backend: str = "auto",
    budget: int | None = None,
    progress: bool | None = None,
) -> dict[str, float]:
    """Retrieval and clustering metrics of an embedding set (definitions in the module doc).

    Parameters
    ----------
    embeddings : array-like or torch.Tensor, shape (n, d)
        Query embeddings (``np.memmap`` is streamed).
    labels : array-like, shape (n,)
        Query labels: ints, strings, any hashable scalar (never cast).
    reference, reference_labels : optional, shapes (m, d) and (m,)
        A separate reference set. Without it queries search among themselves and
        each query's own row is excluded.
    distance : {"euclidean", "sqeuclidean", "cosine", "cosine_similarity", "dot"}
        Ranking rule; ``cosine`` needs no prior normalization.
    k : int, "max_bin_count" or None, default="max_bin_count"
        Length of each k-NN list (see module doc).
    metrics : iterable of str, optional
        Subset of :data:`RETRIEVAL_METRICS` names (default: all).
    ref_includes_query : bool, default=False
        With a separate reference whose first n rows are the queries: exclude each
        query's own row, as when searching the queries among themselves.
    seed : int, default=0
        Seed of the k-means used by NMI/AMI.
    backend, budget, progress
        Passed to :func:`isometry.distances.iter_knn`.

    Returns
    -------
    dict of str to float
        One entry per requested metric, in registry order.

    Raises
    ------
    InputError
        Bad shapes, NaN/inf rows, length mismatch, fewer than two classes, unknown
        distance or metric names.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [0.1], [5.0], [5.1]], dtype=np.float32)
    >>> retrieval(x, [0, 0, 1, 1], metrics=["precision_at_1"])
    {'precision_at_1': 1.0}
    """
    per_query = retrieval_per_query(
        embeddings, labels, reference=reference, reference_labels=reference_labels, distance=distance,
        k=k, metrics=metrics, ref_includes_query=ref_includes_query, seed=seed, backend=backend,
        budget=budget, progress=progress,
    )
    out: dict[str, float] = {}
    for name, values in per_query.items():
        if np.ndim(values) == 0:
            out[name] = float(values)
        else:
            out[name] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    return out


def retrieval_per_query(
    embeddings: Any,
    labels: Any,
    *,
    reference: Any = None,
    reference_labels: Any = None,
    distance: str = "euclidean",
    k: int | str | None = "max_bin_count",
    metrics: Iterable[str] | None = None,
    ref_includes_query: bool = False,
    seed: int = 0,
    backend: str = "auto",
    budget: int | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Like :func:`retrieval`, but k-NN metrics come back per query.

    Returns
    -------
    dict
        k-NN metrics as float64 arrays of shape (n,) with NaN for queries left out
        (R = 0); ``nmi`` / ``ami`` as floats. Per-class summaries are
        ``np.nanmean(values[labels == c])``.
    """
    names = _check_metric_names(metrics)
    q, q_labels, ref, ref_labels, same = _check_inputs(embeddings, labels, reference, reference_labels)
    check_param(distance, "distance", "retrieval", Options(KNN_DISTANCES))
    check_param(k, "k", "retrieval", Interval(numbers.Integral, 1, None), Options(["max_bin_count"]), None)
    check_param(ref_includes_query, "ref_includes_query", "retrieval", bool)
    exclude_self = same or ref_includes_query
    if ref_includes_query and not same and ref.shape[0] < q.shape[0]:
        raise InputError("ref_includes_query=True needs the queries to be the first rows of the reference set.")
    (q_codes, ref_codes), _ = encode_labels(q_labels, ref_labels)
    if len(np.unique(q_codes)) < 2 and len(np.unique(ref_codes)) < 2:
        raise InputError("labels hold a single class; retrieval metrics need at least two classes.")

    out: dict[str, Any] = {}
    knn_names = [n for n in names if "knn" in RETRIEVAL_METRICS[n].needs]
    if knn_names:
        out.update(_knn_metrics(q, q_codes, ref, ref_codes, knn_names, distance=distance, k=k,
                                exclude_self=exclude_self, backend=backend, budget=budget, progress=progress))
    cluster_names = [n for n in names if "clustering" in RETRIEVAL_METRICS[n].needs]
    if cluster_names:
        n_classes = len(np.unique(q_codes))
        spherical = distance in ("cosine", "cosine_similarity")
        clusters = kmeans_labels(q, min(n_classes, q.shape[0]), seed=seed, spherical=spherical)
        for name in cluster_names:
            out[name] = RETRIEVAL_METRICS[name].function(q_codes, clusters)
    return {n: out[n] for n in names}


def _check_metric_names(metrics: Iterable[str] | None) -> list[str]:
    if metrics is None:
        return RETRIEVAL_METRICS.names()
    if isinstance(metrics, str):
        metrics = [metrics]
    names = [RETRIEVAL_METRICS[m].name for m in metrics]
    if not names:
        raise InputError("metrics is empty; name at least one metric or pass None for all.")
    return names


def _check_inputs(embeddings, labels, reference, reference_labels):
    q = check_embeddings(embeddings, name="embeddings")
    q_labels = check_labels(labels, q.shape[0], name="labels")
    if reference is None:
        if reference_labels is not None:
            raise InputError("reference_labels was given without reference embeddings.")
        return q, q_labels, q, q_labels, True
    ref = check_embeddings(reference, name="reference")
    check_same_width(q, ref, ("embeddings", "reference"))
    ref_labels = check_labels(reference_labels, ref.shape[0], name="reference_labels")
    return q, q_labels, ref, ref_labels, False


def _knn_metrics(q, q_codes, ref, ref_codes, names, *, distance, k, exclude_self, backend, budget, progress):
    n_classes = int(max(q_codes.max(), ref_codes.max())) + 1
    counts = np.bincount(ref_codes, minlength=n_classes)
    r = counts[q_codes] - int(exclude_self)
    kept = r > 0
    if not kept.all():
        warnings.warn(
            f"{int((~kept).sum())} of {len(r)} queries have no same-label reference (a class of one "
            "sample, or a label absent from the reference); they are left out of the k-NN metrics.",
            UserWarning, stacklevel=4,
        )
    candidates = ref.shape[0] - int(exclude_self)
    if candidates < 1:
        raise InputError("the reference set has no candidate neighbour for the queries.")
    max_r = int(r.max()) if kept.any() else 1
    if k == "max_bin_count":
        list_len = max_r
    elif k is None:
        list_len = candidates
    else:
        list_len = int(k)
        if list_len < max_r and {"r_precision", "mean_average_precision_at_r"} & set(names):
            warnings.warn(f"k={list_len} is below the largest class size R={max_r}: r_precision and "
                          "mean_average_precision_at_r are truncated.", UserWarning, stacklevel=4)
    list_len = max(1, min(list_len, candidates))
    search_len = min(max(list_len, max(RECALL_KS)), candidates)

    ref_codes_t = torch.from_numpy(ref_codes)
    q_codes_t = torch.from_numpy(q_codes)
    r_t = torch.from_numpy(r).to(torch.float64)
    values = {name: np.full(q.shape[0], np.nan) for name in names}
    for start, stop, _, idx in iter_knn(q, ref, search_len, distance=distance, exclude_self=exclude_self,
                                        backend=backend, budget=budget, progress=progress, validated=True):
        device = idx.device
        hits = ref_codes_t.to(device)[idx] == q_codes_t[start:stop].to(device)[:, None]
        rr = r_t[start:stop].to(device)
        keep = rr > 0
        every = bool(keep.all())
        ranked = _Ranked(hits if every else hits[keep], rr if every else rr[keep], list_len)
        rows = slice(None) if every else keep.cpu().numpy()
        for name in names:
            values[name][start:stop][rows] = RETRIEVAL_METRICS[name].function(ranked).cpu().numpy()
    return values

"""The one exact k-nearest-neighbour search of isometry.

faiss (``IndexFlatL2`` / ``IndexFlatIP``) is used when importable and the input is
float32 on the CPU; otherwise a blockwise torch GEMM + top-k runs on the input's
device (float64 stays float64). Queries stream in blocks bounded by a memory
budget, so no n x n matrix is ever held; the reference set is held once as an
(m, d) array.

Conventions (both back-ends):
- rows are sorted by distance, closest first; for similarities (``dot``,
  ``cosine_similarity``) the largest value comes first;
- equal distances are ordered by reference index (lowest first); which of several
  points tied exactly at the k-th place is kept is unspecified;
- ``exclude_self=True`` (queries are the references, row i is reference i) drops
  each query's own index; if an exact duplicate pushed it out of the k + 1 results,
  the last column is dropped instead (pytorch-metric-learning's rule).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from .._backend import as_tensor, device_of, is_torch, like_input, rows_per_block
from .._validate import check_embeddings, check_param, check_same_width, Interval, Options
from ..errors import InputError
from . import DISTANCES
from ._functions import normalize
from ._selfsearch import SelfSearch, self_search_usable

try:  # faiss is optional at import time
    import faiss  # type: ignore

    _FAISS = True
except ImportError:  # pragma: no cover - exercised by monkeypatching in tests
    faiss = None
    _FAISS = False

__all__ = ["KNNResult", "knn", "iter_knn", "faiss_available", "KNN_DISTANCES"]

#: Distances the k-NN search supports.
KNN_DISTANCES = ("euclidean", "sqeuclidean", "cosine", "cosine_similarity", "dot")

#: Pair evaluations above which a progress bar is shown by default.
_PROGRESS_WORK = 2e9


def faiss_available() -> bool:
    """Whether faiss could be imported."""
    return _FAISS


@dataclass
class KNNResult:
    """Result of :func:`knn`: ``distances`` and ``indices``, both (n_queries, k).

    Arrays are numpy for numpy input and torch tensors for torch input.
    """

    distances: Any
    indices: Any

    def __iter__(self):
        return iter((self.distances, self.indices))


def knn(
    queries: Any,
    reference: Any = None,
    k: int = 1,
    *,
    distance: str = "euclidean",
    exclude_self: bool | None = None,
    backend: str = "auto",
    budget: int | None = None,
    progress: bool | None = None,
) -> KNNResult:
    """Exact k nearest neighbours of each query among the reference rows.

    Parameters
    ----------
    queries : array-like or torch.Tensor, shape (n, d)
        ``np.memmap`` is read block by block.
    reference : array-like or torch.Tensor, shape (m, d), optional
        Defaults to ``queries`` (then ``exclude_self`` defaults to True).
    k : int, default=1
        Neighbours per query; at most m (m - 1 when excluding self).
    distance : {"euclidean", "sqeuclidean", "cosine", "cosine_similarity", "dot"}
    exclude_self : bool, optional
        Drop query i's own index i from its neighbours. Defaults to
        ``reference is None``.
    backend : {"auto", "faiss", "torch"}
        ``auto`` uses faiss for float32 CPU input when importable.
    budget : int, optional
        Bytes for one block of distances (default ``isometry._backend.DEFAULT_MEMORY_BUDGET``).
        When the queries are the references and the symmetric search applies (see
        Notes), it bounds that search's lists instead (default 2 GiB).
    progress : bool, optional
        Show a progress bar; by default only for large searches on a terminal.

    Returns
    -------
    KNNResult
        ``distances`` (n, k) in the chosen distance (similarity values for
        similarities) and ``indices`` (n, k) int64 into the reference.

    Notes
    -----
    A float32 CPU set searched against itself (``reference=None``, ``backend="auto"``,
    not ``dot``) of at least 32,768 rows uses a symmetric search when the optional C
    extension is built: each pair's distance is computed once and offered to both rows
    (:mod:`isometry.distances._selfsearch`), half of faiss's GEMM. Results equal faiss's
    up to the order of distances equal to float32 rounding.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0], [3.0]], dtype=np.float32)
    >>> knn(x, k=1).indices.ravel().tolist()
    [1, 0, 1]
    """
    blocks = list(iter_knn(queries, reference, k, distance=distance, exclude_self=exclude_self,
                           backend=backend, budget=budget, progress=progress))
    dist = torch.cat([b[2] for b in blocks])
    idx = torch.cat([b[3] for b in blocks])
    return KNNResult(like_input(dist, queries), like_input(idx, queries))


def iter_knn(
    queries: Any,
    reference: Any = None,
    k: int = 1,
    *,
    distance: str = "euclidean",
    exclude_self: bool | None = None,
    backend: str = "auto",
    budget: int | None = None,
    progress: bool | None = None,
    validated: bool = False,
) -> Iterator[tuple[int, int, torch.Tensor, torch.Tensor]]:
    """Stream :func:`knn` by query blocks: yields ``(start, stop, distances, indices)``.

    Tensors are torch on the compute device; consumers reduce each block and drop
    it, so memory stays O(block x k) whatever the number of queries. Arguments as
    in :func:`knn`; ``validated=True`` skips input checks (callers that already
    checked).
    """
    same = reference is None
    if not validated:
        queries = check_embeddings(queries, name="queries")
        if not same:
            reference = check_embeddings(reference, name="reference")
            check_same_width(queries, reference, ("queries", "reference"))
        check_param(distance, "distance", "knn", Options(KNN_DISTANCES))
        check_param(backend, "backend", "knn", Options(("auto", "faiss", "torch")))
    if same:
        reference = queries
    if exclude_self is None:
        exclude_self = same
    if exclude_self and queries.shape[0] > reference.shape[0]:
        raise InputError("exclude_self=True needs queries to be the first rows of the reference set.")
    m = reference.shape[0]
    max_k = m - 1 if exclude_self else m
    if not validated:
        check_param(k, "k", "knn", Interval(numbers.Integral, 1, None))
    if k > max_k:
        raise InputError(
            f"k={k} neighbours were asked for but the reference set has only {max_k} candidate(s)"
            + (" (each query's own row is excluded)." if exclude_self else ".")
        )
    use_faiss = _choose_faiss(queries, reference, backend)
    n = queries.shape[0]
    if use_faiss and backend == "auto" and exclude_self and n == m and distance != "dot" \
            and self_search_usable(n, k, memory=budget):
        search = _SelfSearch  # queries are the references: half the distance matrix
    else:
        search = _FaissSearch if use_faiss else _TorchSearch
    engine = search(reference, distance, budget)
    step = engine.block_rows(k + int(exclude_self))
    if progress is None:
        progress = float(n) * m > _PROGRESS_WORK
    bar = tqdm(total=n, desc="k-NN", unit="query", disable=None if progress else True, leave=False)
    try:
        for start in range(0, n, step):
            stop = min(n, start + step)
            dist, idx = engine.search(queries[start:stop], start, k, exclude_self)
            dist, idx = _order_ties(dist, idx, descending=distance in ("cosine_similarity", "dot"))
            bar.update(stop - start)
            yield start, stop, dist, idx
    finally:
        bar.close()
        getattr(engine, "close", lambda: None)()


def _choose_faiss(queries: Any, reference: Any, backend: str) -> bool:
    on_cpu = not (is_torch(queries) and queries.device.type != "cpu")
    float32 = queries.dtype in (np.float32, torch.float32) and reference.dtype in (np.float32, torch.float32)
    if backend == "faiss":
        if not _FAISS:
            raise InputError("backend='faiss' was asked for but faiss is not installed (pip install faiss-cpu).")
        return True
    if backend == "torch":
        return False
    return _FAISS and on_cpu and float32 and not (is_torch(queries) and queries.requires_grad)


def _order_ties(dist: torch.Tensor, idx: torch.Tensor, *, descending: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Order equal distances by index within rows already sorted by distance.

    Only rows holding a tie are touched. Tie groups are short in real data (pairs, made
    by float32 rounding), so a few passes of odd-even transposition (swap neighbours that
    are tied and out of index order) settle them; rows still unsettled after
    ``_TIE_PASSES`` passes (long runs of equal distances, e.g. duplicated points) are
    re-sorted by (distance, index) instead.
    """
    if dist.shape[1] < 2:
        return dist, idx
    equal = dist[:, 1:] == dist[:, :-1]
    tied = equal.any(dim=1)
    if not bool(tied.any()):
        return dist, idx
    rows = tied.nonzero()[:, 0]
    i, equal = idx[rows], equal[rows]
    quiet = 0
    for step in range(_TIE_PASSES):
        left, right = i[:, step % 2 : -1 : 2], i[:, step % 2 + 1 :: 2]
        swap = equal[:, step % 2 :: 2][:, : right.shape[1]] & (left > right)
        if not bool(swap.any()):
            quiet += 1
            if quiet == 2:
                break
            continue
        quiet = 0
        left_new = torch.where(swap, right, left)
        right.copy_(torch.where(swap, left, right))
        left.copy_(left_new)
    else:
        unsettled = ((i[:, 1:] < i[:, :-1]) & equal).any(dim=1)
        if bool(unsettled.any()):
            sub = unsettled.nonzero()[:, 0]
            d, j = dist[rows[sub]], i[sub]
            j, order = torch.sort(j, dim=1)
            d = torch.gather(d, 1, order)
            _, order = torch.sort(d, dim=1, stable=True, descending=descending)
            i[sub] = torch.gather(j, 1, order)
    idx = idx.clone()
    idx[rows] = i
    return dist, idx


#: odd-even transposition passes before a tied row is re-sorted instead
_TIE_PASSES = 8


class _TorchSearch:
    """Blocked GEMM + top-k on the reference's device."""

    def __init__(self, reference: Any, distance: str, budget: int | None) -> None:
        self.device = device_of(reference)
        self.dtype = reference.dtype if is_torch(reference) else (
            torch.float64 if reference.dtype == np.float64 else torch.float32)
        self.distance = distance
        self.similarity = DISTANCES[distance].extra["is_similarity"] or distance == "cosine"
        ref = _load_rows(reference, self.dtype, self.device)
        if distance in ("cosine", "cosine_similarity"):
            ref = normalize(ref)
        self.ref = ref
        self.ref_sq = (ref * ref).sum(dim=1) if distance in ("euclidean", "sqeuclidean") else None
        self.budget = budget

    def block_rows(self, k: int) -> int:
        # The distance block (m columns) plus top-k buffers; GPUs get bigger blocks to stay busy.
        budget = self.budget
        if budget is None and self.device.type == "cuda":
            budget = min(2 * 2**30, torch.cuda.mem_get_info(self.device)[0] // 8)
        return rows_per_block(self.ref.shape[0] + 2 * k, 2 * self.ref.element_size(), budget=budget,
                              minimum=8, maximum=8192)

    @torch.no_grad()
    def search(self, q_rows: Any, start: int, k: int, exclude_self: bool) -> tuple[torch.Tensor, torch.Tensor]:
        q = as_tensor(q_rows, dtype=self.dtype, device=self.device)
        if self.distance in ("cosine", "cosine_similarity"):
            q = normalize(q)
        if self.ref_sq is not None:
            # -(|q|^2 + |r|^2 - 2 q.r): larger is closer, so one top-k serves all distances.
            scores = torch.addmm(self.ref_sq, q, self.ref.T, beta=-1.0, alpha=2.0)
            scores -= (q * q).sum(dim=1, keepdim=True)
        else:
            scores = q @ self.ref.T
        if exclude_self:
            rows = torch.arange(q.shape[0], device=self.device)
            scores[rows, rows + start] = -torch.inf
        vals, idx = torch.topk(scores, k, dim=1, largest=True, sorted=True)
        return _scores_to_distances(vals, self.distance), idx


class _FaissSearch:
    """faiss ``IndexFlatL2`` / ``IndexFlatIP`` on float32 CPU arrays."""

    def __init__(self, reference: Any, distance: str, budget: int | None) -> None:
        ref = _load_rows(reference, torch.float32, torch.device("cpu")).numpy()
        self.distance = distance
        if distance in ("cosine", "cosine_similarity"):
            ref = _unit_rows(ref)
        ref = np.ascontiguousarray(ref, dtype=np.float32)
        self.index = faiss.IndexFlatL2(ref.shape[1]) if distance in ("euclidean", "sqeuclidean") \
            else faiss.IndexFlatIP(ref.shape[1])
        self.index.add(ref)
        self.m = ref.shape[0]
        self.budget = budget
        self.out_device = device_of(reference)

    def block_rows(self, k: int) -> int:
        # faiss tiles the distance matrix itself; our block only bounds the n x k outputs.
        return rows_per_block(max(k, 1024), 12, budget=self.budget, minimum=8, maximum=65536)

    def search(self, q_rows: Any, start: int, k: int, exclude_self: bool) -> tuple[torch.Tensor, torch.Tensor]:
        q = as_tensor(q_rows, dtype=torch.float32, device="cpu").numpy()
        if self.distance in ("cosine", "cosine_similarity"):
            q = _unit_rows(q)
        q = np.ascontiguousarray(q, dtype=np.float32)
        extra = int(exclude_self)
        raw, idx = self.index.search(q, k + extra)
        raw, idx = torch.from_numpy(raw), torch.from_numpy(idx)
        if exclude_self:
            raw, idx = _drop_own(raw, idx, start, k)
        if self.distance in ("euclidean", "sqeuclidean"):
            raw = -raw  # faiss returns squared L2; turn into "larger is closer" scores
        return _scores_to_distances(raw, self.distance), idx.to(self.out_device)


class _SelfSearch:
    """Queries are the references (float32 on the CPU, a faiss-sized search):
    :class:`~isometry.distances._selfsearch.SelfSearch` on half the distance matrix."""

    def __init__(self, reference: Any, distance: str, budget: int | None) -> None:
        ref = _load_rows(reference, torch.float32, torch.device("cpu")).numpy()
        self.l2 = distance in ("euclidean", "sqeuclidean")
        if not self.l2:  # cosine orders: unit rows, inner products
            ref = _unit_rows(ref)
        self.distance = distance
        self.engine = SelfSearch(ref, inner_product=not self.l2)
        self.out_device = device_of(reference)

    def block_rows(self, k: int) -> int:
        return self.engine.block

    def close(self) -> None:
        self.engine.close()

    def search(self, q_rows: Any, start: int, k: int, exclude_self: bool) -> tuple[torch.Tensor, torch.Tensor]:
        values, idx = self.engine.rows(start, start + q_rows.shape[0], k)
        scores = -values if self.l2 else -0.5 * values  # values: |x|^2 + |y|^2 - 2 x.y, or -2 x.y
        return _scores_to_distances(scores, self.distance), idx.to(self.out_device)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows of x (n, d) scaled to unit length (zero rows stay zero), as faiss's cosine input."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _drop_own(raw: torch.Tensor, idx: torch.Tensor, start: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop each row's own index from k + 1 results, else its last column (PML's rule)."""
    own = torch.arange(start, start + idx.shape[0]).unsqueeze(1)
    if bool((idx[:, :1] == own).all()):  # the usual case: every row found itself first
        return raw[:, 1:], idx[:, 1:]
    is_own = idx == own
    drop = torch.where(is_own.any(dim=1), is_own.to(torch.uint8).argmax(dim=1), torch.full_like(own[:, 0], k))
    keep = torch.ones_like(idx, dtype=torch.bool)
    keep[torch.arange(idx.shape[0]), drop] = False
    return raw[keep].view(-1, k), idx[keep].view(-1, k)


def _scores_to_distances(scores: torch.Tensor, distance: str) -> torch.Tensor:
    """Scores where larger is closer -> the named distance (or similarity)."""
    if distance == "euclidean":
        return (-scores).clamp_min(0).sqrt()
    if distance == "sqeuclidean":
        return (-scores).clamp_min(0)
    if distance == "cosine":
        return 1.0 - scores
    return scores


def _load_rows(x: Any, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The whole (m, d) array as one tensor, converting memmaps block by block."""
    if is_torch(x):
        return x.detach().to(device=device, dtype=dtype)
    out = torch.empty((x.shape[0], x.shape[1]), dtype=dtype, device=device)
    step = rows_per_block(x.shape[1], 8)
    for s in range(0, x.shape[0], step):
        out[s : s + step] = as_tensor(x[s : s + step], dtype=dtype, device=device)
    return out

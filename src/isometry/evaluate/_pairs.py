"""Positive / negative pair scores of an embedding set, all pairs or a stratified sample.

Pairs are unordered pairs ``i < j`` of one set, or every (query, reference) pair
when a separate reference set is given. A pair is positive when both items share
a label. When the population of pairs exceeds ``max_pairs``, positives and
negatives are drawn as two strata (seeded, uniformly within each stratum, with
replacement): at most half the budget goes to positives (all of them when they
fit), the rest to negatives. No rejection loop: a class is drawn with probability
proportional to its number of pairs, then the two members uniformly, which makes
every pair of the stratum equally likely.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._backend import as_tensor, rows_per_block
from .._validate import Interval, Options, check_embeddings, check_labels, check_param, check_same_width, encode_labels
from ..distances.knn import KNN_DISTANCES
from ..errors import InputError

__all__ = ["PairScores", "pair_scores", "DEFAULT_MAX_PAIRS"]

#: Pairs scored at most (80 MB of float64 scores); above it pairs are sampled.
DEFAULT_MAX_PAIRS = 10_000_000

_SIMILARITIES = ("cosine_similarity", "dot")


@dataclass
class PairScores:
    """Scores of pairs (higher = more similar) with their labels.

    Attributes
    ----------
    scores : ndarray, shape (p,)
        float64; the similarity for ``cosine_similarity``/``dot``, minus the
        distance otherwise, so that higher always means "more likely same class".
    is_positive : ndarray of bool, shape (p,)
    first, second : ndarray of int64, shape (p,)
        Row of each pair's items (``second`` indexes the reference when one is given).
    first_class, second_class : ndarray of int64, shape (p,)
        Class codes of both items, indices into ``classes``.
    classes : ndarray
        The distinct labels.
    positives_sampled, negatives_sampled : bool
        Whether each stratum is a sample (else enumerated completely).
    n_positive_population, n_negative_population : int
        Pairs of each kind in the whole population.
    """

    scores: np.ndarray
    is_positive: np.ndarray
    first: np.ndarray
    second: np.ndarray
    first_class: np.ndarray
    second_class: np.ndarray
    classes: np.ndarray
    positives_sampled: bool
    negatives_sampled: bool
    n_positive_population: int
    n_negative_population: int

    @property
    def prevalence(self) -> float:
        """Share of positive pairs in the population."""
        return self.n_positive_population / (self.n_positive_population + self.n_negative_population)


def pair_scores(
    embeddings: Any,
    labels: Any,
    *,
    reference: Any = None,
    reference_labels: Any = None,
    distance: str = "euclidean",
    max_pairs: int = DEFAULT_MAX_PAIRS,
    seed: int = 0,
) -> PairScores:
    """Score positive and negative pairs of an embedding set.

    Parameters
    ----------
    embeddings : array-like or torch.Tensor, shape (n, d)
    labels : array-like, shape (n,)
    reference, reference_labels : optional, shapes (m, d) and (m,)
        Score (query, reference) pairs instead of pairs within ``embeddings``.
    distance : {"euclidean", "sqeuclidean", "cosine", "cosine_similarity", "dot"}
    max_pairs : int, default=10_000_000
        Score every pair when the population is no larger, else a stratified sample
        of this many pairs.
    seed : int, default=0

    Raises
    ------
    InputError
        Bad arrays, no positive pair (every class has one sample), no negative pair
        (one class), an unknown distance.
    """
    check_param(distance, "distance", "pair_scores", Options(KNN_DISTANCES))
    check_param(max_pairs, "max_pairs", "pair_scores", Interval(numbers.Integral, 2, None))
    check_param(seed, "seed", "pair_scores", Interval(numbers.Integral, 0, None))
    x = check_embeddings(embeddings, name="embeddings")
    y = check_labels(labels, x.shape[0])
    same = reference is None
    if same:
        r = x
        (qc,), classes = encode_labels(y)
        rc = qc
    else:
        r = check_embeddings(reference, name="reference")
        check_same_width(x, r)
        ry = check_labels(reference_labels, r.shape[0], name="reference_labels")
        (qc, rc), classes = encode_labels(y, ry)
    layout = _Layout(qc, rc, len(classes), same)
    if layout.n_pos == 0:
        raise InputError("There are no positive pairs (no two items share a label); verification needs some.")
    if layout.n_neg == 0:
        raise InputError("There are no negative pairs (every item has the same label); verification needs two classes.")
    rng = np.random.default_rng(seed)
    i, j, pos_s, neg_s = _choose_pairs(layout, max_pairs, rng)
    scores = _paired_scores(x, r, i, j, distance)
    return PairScores(scores, qc[i] == rc[j], i, j, qc[i], rc[j], classes, pos_s, neg_s, layout.n_pos, layout.n_neg)


class _Layout:
    """Items sorted by class for both sides, with per-class starts and sizes."""

    def __init__(self, qc: np.ndarray, rc: np.ndarray, n_classes: int, same: bool) -> None:
        self.same = same
        self.q_order = np.argsort(qc, kind="stable")
        self.r_order = self.q_order if same else np.argsort(rc, kind="stable")
        self.q_size = np.bincount(qc, minlength=n_classes)
        self.r_size = self.q_size if same else np.bincount(rc, minlength=n_classes)
        self.q_start = np.cumsum(self.q_size) - self.q_size
        self.r_start = np.cumsum(self.r_size) - self.r_size
        self.qc, self.n, self.m = qc, len(qc), len(rc)
        if same:  # unordered pairs i < j
            self.pos_per_class = self.q_size * (self.q_size - 1) // 2
            self.total = self.n * (self.n - 1) // 2
        else:
            self.pos_per_class = self.q_size * self.r_size
            self.total = self.n * self.m
        self.n_pos = int(self.pos_per_class.sum())
        self.n_neg = int(self.total - self.n_pos)


def _choose_pairs(lay: _Layout, max_pairs: int, rng: np.random.Generator):
    if lay.total <= max_pairs:
        if lay.same:
            i, j = np.triu_indices(lay.n, 1)
        else:
            i, j = np.divmod(np.arange(lay.total, dtype=np.int64), lay.m)
        return i.astype(np.int64), j.astype(np.int64), False, False
    n_pos = min(lay.n_pos, max_pairs // 2)
    if n_pos == lay.n_pos:
        pi, pj = _all_positives(lay)
    else:
        pi, pj = _sample_pairs(lay, n_pos, rng, positive=True)
    ni, nj = _sample_pairs(lay, max_pairs - n_pos, rng, positive=False)
    return np.concatenate([pi, ni]), np.concatenate([pj, nj]), n_pos < lay.n_pos, True


def _all_positives(lay: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """Every positive pair, enumerated without a loop over classes."""
    if lay.same:
        pos = np.arange(lay.n)
        cls = lay.qc[lay.q_order]
        counts = lay.q_start[cls] + lay.q_size[cls] - pos - 1  # later members of the class
        first = np.repeat(pos, counts)
        second = first + 1 + _ranks_within(counts)
        return lay.q_order[first], lay.q_order[second]
    counts = lay.r_size[lay.qc]
    first = np.repeat(np.arange(lay.n), counts)
    second = np.repeat(lay.r_start[lay.qc], counts) + _ranks_within(counts)
    return first, lay.r_order[second]


def _ranks_within(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c-1 for each count c, concatenated."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)


def _sample_pairs(lay: _Layout, size: int, rng: np.random.Generator, *, positive: bool):
    """``size`` pairs drawn uniformly (with replacement) from one stratum."""
    if positive:
        weights = lay.pos_per_class
    else:
        weights = lay.q_size * (lay.m - lay.r_size)  # ordered (query item, other-class item)
    cls = rng.choice(len(weights), size=size, p=weights / weights.sum())
    qi = rng.integers(0, lay.q_size[cls])
    if positive and lay.same:
        rj = rng.integers(0, lay.q_size[cls] - 1)
        rj += rj >= qi
    elif positive:
        rj = rng.integers(0, lay.r_size[cls])
    else:
        skip = rng.integers(0, lay.m - lay.r_size[cls])  # position among other classes' items
        rj = skip + lay.r_size[cls] * (skip >= lay.r_start[cls]) - lay.r_start[cls]
    return lay.q_order[lay.q_start[cls] + qi], lay.r_order[lay.r_start[cls] + rj]


def _paired_scores(x: Any, r: Any, i: np.ndarray, j: np.ndarray, distance: str) -> np.ndarray:
    """Row-wise score of pairs (x[i], r[j]) in float64, in memory-bounded chunks."""
    out = np.empty(i.shape[0], dtype=np.float64)
    step = rows_per_block(x.shape[1], 2 * 8 * 2, minimum=1024)
    for s in range(0, i.shape[0], step):
        a = as_tensor(_rows(x, i[s : s + step]), dtype=torch.float64)
        b = as_tensor(_rows(r, j[s : s + step]), dtype=torch.float64)
        out[s : s + step] = _rowwise(a, b, distance).cpu().numpy()
    return out


def _rows(x: Any, idx: np.ndarray) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach()[torch.from_numpy(idx).to(x.device)]
    return np.asarray(x[idx])


def _rowwise(a: torch.Tensor, b: torch.Tensor, distance: str) -> torch.Tensor:
    if distance in ("euclidean", "sqeuclidean"):
        sq = ((a - b) ** 2).sum(dim=1)
        return -(sq.sqrt() if distance == "euclidean" else sq)
    dot = (a * b).sum(dim=1)
    if distance == "dot":
        return dot
    cos = dot / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)
    return cos if distance == "cosine_similarity" else cos - 1.0  # -(1 - cos)

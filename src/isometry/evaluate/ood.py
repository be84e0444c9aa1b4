"""Out-of-distribution detection: AUROC, FPR at 95% TPR, AUPR-in/out, AUTC.

Scores are **OOD scores: higher means more likely out-of-distribution** (for
example the distance to the k-th nearest in-distribution reference,
:func:`knn_ood_scores`, as in "Out-of-Distribution Detection with Deep Nearest
Neighbors", Sun et al., 2022). All metrics come from one sort of the pooled
scores (:func:`isometry.evaluate.verification.binary_curve`).

- ``auroc``: P(OOD score > ID score) + ties / 2 (OOD as the positive class; the
  value is the same with ID positive and negated scores).
- ``fpr_at_95_tpr``: share of OOD inputs accepted as in-distribution when the
  threshold accepts at least 95% of the ID inputs (ID positive, as in ODIN and
  OpenOOD): the FPR of the first ROC point with TPR >= 0.95.
- ``aupr_in``: average precision with ID positive, confidence = -score.
- ``aupr_out``: average precision with OOD positive, confidence = score.
- ``autc``: area under the threshold curve of "Beyond AUROC & co. for evaluating
  out-of-distribution detection performance" (Humblot-Renaux et al., CVPR-W
  2023): the mean over thresholds t in [0, 1] of (FPR(t) + FNR(t)) / 2, with
  FPR(t) = share of ID scores >= t and FNR(t) = share of OOD scores < t. For
  scores in [0, 1] this is exactly ``0.5 (mean ID score + 1 - mean OOD score)``,
  which is what is computed: exact with ties, unlike a trapezoid on the sorted
  scores. Lower is better. Scores outside [0, 1] raise InputError unless
  ``normalize="minmax"`` rescales the pooled scores to [0, 1] first (then all
  scores equal -> every score 0.5 -> AUTC 0.5); the result then depends on the
  extreme scores, so it is only comparable between runs normalized alike.

Constant scores give AUROC 0.5, FPR@95 1.0 and AUTC 0.5 (defined values).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._backend import to_numpy
from .._registry import Record, Registry
from .._validate import Interval, Options, check_embeddings, check_param, check_same_width
from ..distances.knn import KNN_DISTANCES, iter_knn
from ..errors import InputError
from .verification import _auroc, _average_precision, check_scores, counts_curve, flipped_curve

__all__ = [
    "OODResult",
    "ood_metrics",
    "ood_auroc",
    "fpr_at_tpr",
    "aupr_in",
    "aupr_out",
    "autc",
    "knn_ood_scores",
    "OOD_METRICS",
]


@dataclass
class OODResult:
    """OOD metrics of one ID / OOD score split; ``to_dict()`` for JSON."""

    auroc: float
    fpr_at_95_tpr: float
    aupr_in: float
    aupr_out: float
    autc: float
    n_id: int
    n_ood: int
    autc_normalization: str | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _pooled(id_scores: Any, ood_scores: Any) -> tuple[np.ndarray, np.ndarray, int]:
    a = check_scores(id_scores, "id_scores")
    b = check_scores(ood_scores, "ood_scores")
    return np.concatenate([a, b]), np.concatenate([np.zeros(a.shape[0], bool), np.ones(b.shape[0], bool)]), a.shape[0]


def _fpr_at_tpr(curve_id_positive, tpr: float) -> float:
    """FPR of the first ROC point whose TPR reaches ``tpr`` (curve with ID positive)."""
    tps, fps = curve_id_positive.tps, curve_id_positive.fps
    k = int(np.searchsorted(tps / tps[-1], tpr * (1 - 1e-12), side="left"))
    return float(fps[k] / fps[-1])


def _autc(id_scores: np.ndarray, ood_scores: np.ndarray, normalize: str | None) -> float:
    lo = min(id_scores.min(), ood_scores.min())
    hi = max(id_scores.max(), ood_scores.max())
    if normalize == "minmax":
        if hi == lo:
            return 0.5
        id_scores, ood_scores = (id_scores - lo) / (hi - lo), (ood_scores - lo) / (hi - lo)
    elif lo < 0 or hi > 1:
        raise InputError(
            f"AUTC needs OOD scores in [0, 1]; got scores in [{lo:.6g}, {hi:.6g}]. "
            "Rescale them, or pass normalize='minmax' (pooled min-max scaling)."
        )
    return float(0.5 * (id_scores.mean() + 1.0 - ood_scores.mean()))


def ood_metrics(id_scores: Any, ood_scores: Any, *, normalize: str | None = None) -> OODResult:
    """All OOD metrics from one sort.

    Parameters
    ----------
    id_scores : array-like or torch.Tensor, shape (n_id,)
        OOD scores of in-distribution inputs (higher = more likely OOD).
    ood_scores : array-like or torch.Tensor, shape (n_ood,)
        OOD scores of out-of-distribution inputs.
    normalize : {None, "minmax"}, default=None
        How AUTC treats scores outside [0, 1]: None raises InputError,
        "minmax" rescales the pooled scores to [0, 1]. Other metrics ignore it.

    Returns
    -------
    OODResult

    Examples
    --------
    >>> r = ood_metrics([0.1, 0.2, 0.3], [0.25, 0.8, 0.9])
    >>> round(r.auroc, 4), round(r.autc, 4)
    (0.8889, 0.275)
    """
    check_param(normalize, "normalize", "ood_metrics", Options((None, "minmax")))
    s, is_ood, n_id = _pooled(id_scores, ood_scores)
    out = counts_curve(s, is_ood)
    inn = flipped_curve(out)  # ID positive with confidence -score, from the same sort
    return OODResult(
        auroc=_auroc(out), fpr_at_95_tpr=_fpr_at_tpr(inn, 0.95), aupr_in=_average_precision(inn),
        aupr_out=_average_precision(out), autc=_autc(s[:n_id], s[n_id:], normalize),
        n_id=n_id, n_ood=s.shape[0] - n_id, autc_normalization=normalize,
    )


def ood_auroc(id_scores: Any, ood_scores: Any) -> float:
    """AUROC of separating OOD (positive) from ID inputs by their OOD scores."""
    s, is_ood, _ = _pooled(id_scores, ood_scores)
    return _auroc(counts_curve(s, is_ood))


def fpr_at_tpr(id_scores: Any, ood_scores: Any, tpr: float = 0.95) -> float:
    """Share of OOD inputs accepted when at least ``tpr`` of the ID inputs are accepted."""
    check_param(tpr, "tpr", "fpr_at_tpr", Interval(numbers.Real, 0, 1, "right"))
    s, is_ood, _ = _pooled(id_scores, ood_scores)
    return _fpr_at_tpr(counts_curve(-s, ~is_ood), tpr)


def aupr_in(id_scores: Any, ood_scores: Any) -> float:
    """Average precision of detecting ID inputs (positive) by low OOD scores."""
    s, is_ood, _ = _pooled(id_scores, ood_scores)
    return _average_precision(counts_curve(-s, ~is_ood))


def aupr_out(id_scores: Any, ood_scores: Any) -> float:
    """Average precision of detecting OOD inputs (positive) by high OOD scores."""
    s, is_ood, _ = _pooled(id_scores, ood_scores)
    return _average_precision(counts_curve(s, is_ood))


def autc(id_scores: Any, ood_scores: Any, *, normalize: str | None = None) -> float:
    """Area under the threshold curve (Humblot-Renaux et al., 2023), tie-exact.

    Examples
    --------
    >>> autc([0.49] * 4, [0.51] * 4)  # the reference trapezoid gives 0.373 here
    0.49
    """
    check_param(normalize, "normalize", "autc", Options((None, "minmax")))
    a, b = check_scores(id_scores, "id_scores"), check_scores(ood_scores, "ood_scores")
    return _autc(a, b, normalize)


def knn_ood_scores(
    queries: Any,
    reference: Any = None,
    *,
    k: int = 1,
    distance: str = "cosine",
) -> np.ndarray:
    """OOD score of each query: its distance to the k-th nearest reference.

    "Out-of-Distribution Detection with Deep Nearest Neighbors" (Sun et al., 2022)
    uses k-th nearest neighbour distance on normalized features (``cosine`` here).
    Without ``reference``, queries are scored against the other queries (each
    query's own row excluded): the in-distribution scores of a reference set.

    Parameters
    ----------
    queries : array-like or torch.Tensor, shape (n, d)
    reference : array-like or torch.Tensor, shape (m, d), optional
    k : int, default=1
    distance : {"euclidean", "sqeuclidean", "cosine", "cosine_similarity", "dot"}, default="cosine"
        For a similarity the score is minus the k-th largest similarity, so that
        it still grows with novelty.

    Returns
    -------
    ndarray, shape (n,)
        float64 scores.
    """
    check_param(distance, "distance", "knn_ood_scores", Options(KNN_DISTANCES))
    check_param(k, "k", "knn_ood_scores", Interval(numbers.Integral, 1, None))
    q = check_embeddings(queries, name="queries")
    if reference is not None:
        reference = check_embeddings(reference, name="reference")
        check_same_width(q, reference, ("queries", "reference"))
    out = np.empty(q.shape[0], dtype=np.float64)
    for start, stop, dist, _ in iter_knn(q, reference, k, distance=distance):
        out[start:stop] = to_numpy(dist[:, k - 1])
    return -out if distance in ("cosine_similarity", "dot") else out


OOD_METRICS = Registry("OOD metric")
for _name, _fn, _hib, _desc in [
    ("auroc", ood_auroc, True, "AUROC of OOD scores (OOD positive)"),
    ("fpr_at_95_tpr", fpr_at_tpr, False, "share of OOD accepted at 95% of ID accepted"),
    ("aupr_in", aupr_in, True, "average precision, ID positive"),
    ("aupr_out", aupr_out, True, "average precision, OOD positive"),
    ("autc", autc, False, "area under the threshold curve (Humblot-Renaux et al. 2023)"),
]:
    OOD_METRICS.register(Record(_name, _fn, _hib, frozenset({"knn"}), _desc))

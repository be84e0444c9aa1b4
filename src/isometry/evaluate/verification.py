"""Verification metrics: ROC curve, AUROC, average precision, EER and TAR at FAR.

A verification system answers "same class?" for a pair by thresholding a score.
Everything here works on 1-D scores where **higher means more likely positive**
and sorts them once (a value-only ``np.sort`` of all scores, plus one of the
smaller class, both much faster than an ``argsort``), then reads every metric from
the counts of positives and negatives at each distinct score, so 10,000,000 scores
take about a second and no Python loop runs over scores.

Conventions (scikit-learn's, so the numbers match ``roc_curve``,
``roc_auc_score`` and ``average_precision_score`` to 1e-12):

- equal scores form one threshold (ties are grouped, never broken by order);
- AUROC is the trapezoid under the ROC curve = P(pos > neg) + P(pos = neg) / 2;
- average precision is the step sum ``sum_k (R_k - R_{k-1}) P_k`` over
  decreasing thresholds, without interpolation;
- EER is where FAR = FRR, linearly interpolated between the two ROC points
  whose difference FAR - FRR changes sign;
- TAR at FAR f is the TPR of the last ROC point with FPR <= f (no interpolation,
  so it never claims more than was measured); it is NaN when f < 1 / n_negatives,
  because such a FAR cannot be measured from that many negatives.

Scores are used as float64 on the CPU whatever their input kind (numpy or torch).
Pair scores from embeddings are in :mod:`isometry.evaluate._pairs`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .._backend import to_numpy
from .._registry import Record, Registry
from .._validate import Interval, check_param
from ..errors import InputError

__all__ = [
    "BinaryCurve",
    "VerificationResult",
    "DEFAULT_FARS",
    "VERIFICATION_METRICS",
    "binary_curve",
    "roc_curve",
    "roc_auc",
    "average_precision",
    "equal_error_rate",
    "tar_at_far",
    "verification_metrics",
    "far_key",
]

#: FAR levels at which TAR is reported by default.
DEFAULT_FARS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


def far_key(far: float) -> str:
    """JSON key of a FAR level: ``1e-3 -> "1e-03"``."""
    return f"{far:.0e}"


# --------------------------------------------------------------------------------------
# Validation shared by verification, selective and ood.
# --------------------------------------------------------------------------------------


def check_scores(scores: Any, name: str = "scores") -> np.ndarray:
    """1-D finite float64 copy-free view of ``scores`` (numpy or torch)."""
    if scores is None:
        raise InputError(f"{name} is missing: expected a 1-D array of numbers.")
    try:
        arr = to_numpy(scores)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} could not be read as a 1-D numeric array: {exc}") from None
    if arr.dtype.kind not in "fiub":
        raise InputError(f"{name} must hold real numbers; got dtype {arr.dtype}.")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D; got shape {tuple(arr.shape)}.")
    if arr.shape[0] == 0:
        raise InputError(f"{name} is empty.")
    arr = np.asarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.flatnonzero(bad)
        shown = ", ".join(str(int(i)) for i in where[:5]) + (f", ... ({where.size} in all)" if where.size > 5 else "")
        raise InputError(f"{name} has NaN or inf at positions {shown}; remove those entries first.")
    return arr


def check_binary(values: Any, n: int, name: str) -> np.ndarray:
    """1-D boolean array of length ``n`` from booleans or 0/1 numbers."""
    if values is None:
        raise InputError(f"{name} is missing: expected a 1-D array of booleans or 0/1.")
    arr = to_numpy(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D; got shape {tuple(arr.shape)}.")
    if arr.shape[0] != n:
        raise InputError(f"{name} has {arr.shape[0]} entries but there are {n} scores; give one per score.")
    if arr.dtype == np.bool_:
        return arr
    if arr.dtype.kind not in "fiu":
        raise InputError(f"{name} must be booleans or 0/1; got dtype {arr.dtype}.")
    out = arr == 1
    if not np.all(out | (arr == 0)):
        seen = np.unique(arr[~(out | (arr == 0))])[:5].tolist()
        raise InputError(f"{name} must be booleans or 0/1; found other values such as {seen}.")
    return out


# --------------------------------------------------------------------------------------
# The one sort.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BinaryCurve:
    """Counts at each distinct score, in decreasing score order.

    Attributes
    ----------
    thresholds : ndarray, shape (m,)
        Distinct scores, decreasing.
    tps, fps : ndarray, shape (m,)
        float64 numbers of positives / negatives with score >= threshold.
    """

    thresholds: np.ndarray
    tps: np.ndarray
    fps: np.ndarray

    @property
    def n_positive(self) -> int:
        return int(self.tps[-1])

    @property
    def n_negative(self) -> int:
        return int(self.fps[-1])


def binary_curve(scores: Any, is_positive: Any, *, require_both: bool = True) -> BinaryCurve:
    """Sort once and count positives / negatives above each distinct score.

    Parameters
    ----------
    scores : array-like or torch.Tensor, shape (n,)
        Higher means more likely positive. Finite numbers.
    is_positive : array-like, shape (n,)
        Booleans or 0/1.
    require_both : bool, default=True
        Raise unless both positives and negatives are present.

    Raises
    ------
    InputError
        NaN/inf scores, length mismatch, non-binary labels, a missing class.
    """
    s = check_scores(scores)
    y = check_binary(is_positive, s.shape[0], "is_positive")
    n_pos = int(np.count_nonzero(y))
    if require_both and (n_pos == 0 or n_pos == y.shape[0]):
        what = "negative" if n_pos else "positive"
        raise InputError(f"is_positive has no {what} entries; ROC, AUROC and AP need both positives and negatives.")
    return counts_curve(s, y)


def counts_curve(s: np.ndarray, y: np.ndarray) -> BinaryCurve:
    """:class:`BinaryCurve` of validated float64 scores and booleans (may lack a class).

    One value-only sort of all scores (much faster than an argsort) gives the
    distinct thresholds and how many scores reach each; the smaller class is
    sorted on its own and counted per threshold with ``searchsorted``.
    """
    m = np.sort(s)
    n = m.shape[0]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(m[1:], m[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    values = m[starts]
    above = (n - starts).astype(np.float64)  # scores >= each distinct value
    n_pos = int(np.count_nonzero(y))
    if n_pos <= n - n_pos:
        tps = n_pos - np.searchsorted(np.sort(s[y]), values, side="left").astype(np.float64)
        fps = above - tps
    else:
        fps = (n - n_pos) - np.searchsorted(np.sort(s[~y]), values, side="left").astype(np.float64)
        tps = above - fps
    return BinaryCurve(values[::-1], tps[::-1], fps[::-1])


def flipped_curve(c: BinaryCurve) -> BinaryCurve:
    """The curve of the negated scores with the classes swapped, without sorting again.

    Accepting ``-s >= -t`` means ``s <= t``; the counts at or below t are the totals
    minus the counts strictly above t (those of the next higher threshold).
    """
    n_pos, n_neg = c.tps[-1], c.fps[-1]
    tps_above = np.concatenate([[0.0], c.tps[:-1]])
    fps_above = np.concatenate([[0.0], c.fps[:-1]])
    return BinaryCurve(-c.thresholds[::-1], (n_neg - fps_above)[::-1], (n_pos - tps_above)[::-1])


# --------------------------------------------------------------------------------------
# Metrics on a curve (internal: callers have validated).
# --------------------------------------------------------------------------------------


def _auroc(c: BinaryCurve) -> float:
    tps = np.concatenate([[0.0], c.tps])
    fps = np.concatenate([[0.0], c.fps])
    area = np.dot(np.diff(fps), tps[1:] + tps[:-1]) / 2.0
    return float(area / (tps[-1] * fps[-1]))


def _average_precision(c: BinaryCurve, prevalence: float | None = None) -> float:
    tps, fps = c.tps, c.fps
    if prevalence is not None:  # reweight negatives so positives make up `prevalence`
        fps = fps * (tps[-1] * (1.0 - prevalence) / (prevalence * fps[-1]))
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(max(0.0, np.dot(np.diff(np.concatenate([[0.0], recall])), precision)))


def _roc_points(c: BinaryCurve) -> tuple[np.ndarray, np.ndarray]:
    fpr = np.concatenate([[0.0], c.fps / c.fps[-1]])
    tpr = np.concatenate([[0.0], c.tps / c.tps[-1]])
    return fpr, tpr


def _eer(c: BinaryCurve) -> tuple[float, float]:
    """(EER, threshold): FAR = FRR by linear interpolation on the ROC curve."""
    fpr, tpr = _roc_points(c)
    thresholds = np.concatenate([[np.inf], c.thresholds])
    gap = fpr - (1.0 - tpr)  # increases from -1 to +1 along the curve
    k = int(np.searchsorted(gap, 0.0, side="left"))
    if gap[k] == 0.0:
        return float(fpr[k]), float(thresholds[k])
    w = -gap[k - 1] / (gap[k] - gap[k - 1])
    eer = fpr[k - 1] + w * (fpr[k] - fpr[k - 1])
    t_hi = thresholds[k - 1] if np.isfinite(thresholds[k - 1]) else thresholds[k]
    return float(eer), float(t_hi + w * (thresholds[k] - t_hi))


def _tar_at_far(c: BinaryCurve, far: float) -> tuple[float, float, float]:
    """(TAR, achieved FAR, threshold) at the last point with FPR <= far; NaN if unmeasurable."""
    n_neg = c.fps[-1]
    allowed = far * n_neg * (1.0 + 1e-12)  # 1e-3 * 1000 must allow one false accept
    if allowed < 1.0:
        return math.nan, math.nan, math.nan
    k = int(np.searchsorted(c.fps, allowed, side="right")) - 1
    if k < 0:  # even the highest score admits too many negatives
        return 0.0, 0.0, math.inf
    return float(c.tps[k] / c.tps[-1]), float(c.fps[k] / n_neg), float(c.thresholds[k])


# --------------------------------------------------------------------------------------
# Public functions.
# --------------------------------------------------------------------------------------


def roc_curve(scores: Any, is_positive: Any, *, drop_intermediate: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve: false and true positive rates at each distinct threshold.

    Same output as ``sklearn.metrics.roc_curve`` (first threshold ``inf`` so the
    curve starts at (0, 0); ``drop_intermediate`` drops collinear points).

    Parameters
    ----------
    scores : array-like, shape (n,)
        Higher means more likely positive.
    is_positive : array-like, shape (n,)
        Booleans or 0/1.
    drop_intermediate : bool, default=True

    Returns
    -------
    fpr, tpr, thresholds : ndarray, shape (m + 1,)

    Examples
    --------
    >>> fpr, tpr, thr = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    c = binary_curve(scores, is_positive)
    fps, tps, thr = c.fps, c.tps, c.thresholds
    if drop_intermediate and fps.shape[0] > 2:
        keep = np.concatenate([[True], (np.diff(fps, 2) != 0) | (np.diff(tps, 2) != 0), [True]])
        fps, tps, thr = fps[keep], tps[keep], thr[keep]
    fpr = np.concatenate([[0.0], fps]) / fps[-1]
    tpr = np.concatenate([[0.0], tps]) / tps[-1]
    return fpr, tpr, np.concatenate([[np.inf], thr])


def roc_auc(scores: Any, is_positive: Any) -> float:
    """Area under the ROC curve, ties counting one half (= ``roc_auc_score``).

    Raises
    ------
    InputError
        Only one class present (AUROC is undefined), NaN scores, length mismatch.

    Examples
    --------
    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    return _auroc(binary_curve(scores, is_positive))


def average_precision(scores: Any, is_positive: Any, *, prevalence: float | None = None) -> float:
    """Average precision, the uninterpolated step sum ``sum_k (R_k - R_{k-1}) P_k``.

    Parameters
    ----------
    prevalence : float in (0, 1), optional
        Share of positives in the population the scores were drawn from. When
        positives and negatives were sampled at different rates (stratified pair
        sampling), negatives are reweighted so the result estimates the
        population's AP; equal to ``average_precision_score`` with those sample
        weights. Default: the share in the given scores.

    Examples
    --------
    >>> round(average_precision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 4)
    0.8333
    """
    if prevalence is not None:
        check_param(prevalence, "prevalence", "average_precision", Interval(numbers.Real, 0, 1, "neither"))
    return _average_precision(binary_curve(scores, is_positive), prevalence)


def equal_error_rate(scores: Any, is_positive: Any) -> float:
    """Equal error rate: the FAR (= FRR) where the two error rates cross.

    Linear interpolation between the two ROC points around the crossing.
    Constant scores give 0.5.
    """
    return _eer(binary_curve(scores, is_positive))[0]


def tar_at_far(scores: Any, is_positive: Any, far: float = 1e-3) -> float:
    """True accept rate at a false accept rate of at most ``far``.

    TPR of the last ROC point with FPR <= ``far``. NaN (a defined value, not an
    error) when ``far < 1 / n_negatives``: that FAR cannot be measured.
    """
    check_param(far, "far", "tar_at_far", Interval(numbers.Real, 0, 1, "right"))
    return _tar_at_far(binary_curve(scores, is_positive), far)[0]


@dataclass
class VerificationResult:
    """All verification metrics from one sort; ``to_dict()`` gives the JSON section.

    ``*_stderr`` fields are binomial / Hanley-McNeil standard errors of the
    estimates with respect to the sampled pair population; ``None`` when every
    pair was used (no sampling error).
    """

    auroc: float
    average_precision: float
    eer: float
    eer_threshold: float
    tar_at_far: dict
    far_achieved: dict
    threshold_at_far: dict
    n_positive: int
    n_negative: int
    roc_fpr: np.ndarray = field(repr=False)
    roc_tpr: np.ndarray = field(repr=False)
    sampled: bool = False
    auroc_stderr: float | None = None
    tar_at_far_stderr: dict | None = None
    far_stderr: dict | None = None
    population: dict | None = None

    def to_dict(self, *, curve_points: int = 200) -> dict:
        fpr, tpr = _thin_curve(self.roc_fpr, self.roc_tpr, curve_points)
        out = {
            "auroc": self.auroc,
            "average_precision": self.average_precision,
            "eer": self.eer,
            "eer_threshold": self.eer_threshold,
            "tar_at_far": dict(self.tar_at_far),
            "far_achieved": dict(self.far_achieved),
            "threshold_at_far": dict(self.threshold_at_far),
            "n_positive_pairs": self.n_positive,
            "n_negative_pairs": self.n_negative,
            "sampled": self.sampled,
            "auroc_stderr": self.auroc_stderr,
            "tar_at_far_stderr": self.tar_at_far_stderr,
            "far_stderr": self.far_stderr,
            "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
        }
        if self.population is not None:
            out["population"] = dict(self.population)
        return out


def verification_metrics(
    scores: Any,
    is_positive: Any,
    *,
    fars: Sequence[float] = DEFAULT_FARS,
    prevalence: float | None = None,
    sampled: tuple[bool, bool] = (False, False),
) -> VerificationResult:
    """AUROC, AP, EER and TAR at each FAR from one sort of the scores.

    Parameters
    ----------
    scores, is_positive : array-like, shape (n,)
        As in :func:`roc_auc`.
    fars : sequence of float, default=(1e-1, ..., 1e-6)
    prevalence : float, optional
        Population share of positives (see :func:`average_precision`).
    sampled : (bool, bool), default=(False, False)
        Whether positives / negatives were sampled from a larger population;
        standard errors are reported for sampled strata (0 for an enumerated one).
    """
    for f in fars:
        check_param(f, "fars", "verification_metrics", Interval(numbers.Real, 0, 1, "right"))
    c = binary_curve(scores, is_positive)
    eer, eer_t = _eer(c)
    tars = {far_key(f): _tar_at_far(c, f) for f in fars}
    fpr, tpr = _roc_points(c)
    result = VerificationResult(
        auroc=_auroc(c), average_precision=_average_precision(c, prevalence), eer=eer, eer_threshold=eer_t,
        tar_at_far={k: v[0] for k, v in tars.items()}, far_achieved={k: v[1] for k, v in tars.items()},
        threshold_at_far={k: v[2] for k, v in tars.items()}, n_positive=c.n_positive, n_negative=c.n_negative,
        roc_fpr=fpr, roc_tpr=tpr, sampled=any(sampled),
    )
    if any(sampled):
        _add_sampling_errors(result, *sampled)
    return result


def _add_sampling_errors(r: VerificationResult, pos_sampled: bool, neg_sampled: bool) -> None:
    n_p, n_n = r.n_positive, r.n_negative
    a = r.auroc
    # Hanley & McNeil (1982), "The meaning and use of the area under a ROC curve".
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n_p - 1) * (q1 - a * a) * pos_sampled + (n_n - 1) * (q2 - a * a) * neg_sampled) / (n_p * n_n)
    r.auroc_stderr = float(math.sqrt(max(var, 0.0)))
    r.tar_at_far_stderr = {k: (_binomial_se(t, n_p) if pos_sampled else 0.0) for k, t in r.tar_at_far.items()}
    r.far_stderr = {k: (_binomial_se(f, n_n) if neg_sampled else 0.0) for k, f in r.far_achieved.items()}


def _binomial_se(p: float, n: int) -> float:
    return math.nan if not math.isfinite(p) else float(math.sqrt(p * (1 - p) / n))


def _thin_curve(x: np.ndarray, y: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ~``points`` points of a monotone curve for plots (always keeps both ends)."""
    if x.shape[0] <= points:
        return x, y
    keep = np.unique(np.linspace(0, x.shape[0] - 1, points).round().astype(np.int64))
    return x[keep], y[keep]


VERIFICATION_METRICS = Registry("verification metric")
for _name, _fn, _hib, _desc in [
    ("auroc", roc_auc, True, "area under the ROC curve of pair scores"),
    ("average_precision", average_precision, True, "average precision of pair scores"),
    ("eer", equal_error_rate, False, "equal error rate (FAR = FRR)"),
    ("tar_at_far", tar_at_far, True, "true accept rate at a false accept rate (one key per FAR)"),
]:
    VERIFICATION_METRICS.register(Record(_name, _fn, _hib, frozenset({"labels"}), _desc))

"""Threshold consistency: per-class operating characteristics and OPIS.

From "Threshold-Consistent Margin Loss for Open-World Deep Metric Learning"
(Zhang et al., ICLR 2024). One global threshold is used for every class in a
deployed verification system; OPIS (Operating-Point-Inconsistency Score) measures
how differently the classes behave at the same thresholds:

    OPIS = (1 / T) sum_i  integral w(d) (U_i(d) - U_bar(d))^2 dd / integral w(d) dd

over thresholds d in a calibration range, with U_i(d) the utility of class i,
U_bar(d) the mean utility over the T classes and w uniform. The utility is the
harmonic mean of TPR and TNR (the paper's F1-style utility of the two error rates):
U = 2 TPR TNR / (TPR + TNR), 0 where both are 0.

Per-class rates at a threshold t on pair scores (higher = more similar; a pair is
accepted when its score >= t):
- TPR_i: accepted share of the positive pairs of class i (both items in class i);
- TNR_i: rejected share of the negative pairs that involve class i (one item in it).

Calibration range: the thresholds whose overall FAR lies in ``far_range``
(default [1e-3, 1e-1]), split into ``n_thresholds`` equally spaced thresholds;
the integral is the trapezoid rule on that grid. Classes without a positive pair
(one sample) have no TPR and are left out. epsilon-OPIS here is the mean, over
the same thresholds, of the gap between the mean utility of the best and of the
worst ``ceil(epsilon * T)`` classes; this is our reading of the paper's
epsilon-OPIS (a best-vs-worst gap rather than a variance), stated as such.

Counting is vectorized: each score is binned against the sorted threshold grid
once (``searchsorted``), and per-class counts come from one ``bincount``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._registry import Record, Registry
from .._validate import Interval, check_param
from ..errors import InputError
from .verification import check_binary, check_scores

__all__ = [
    "ThresholdConsistency",
    "class_operating_characteristics",
    "threshold_consistency",
    "opis",
    "epsilon_opis",
    "THRESHOLD_METRICS",
]


@dataclass
class ThresholdConsistency:
    """Result of :func:`opis`.

    Attributes
    ----------
    opis, epsilon_opis : float
    thresholds : ndarray, shape (G,)
        Score thresholds of the calibration range, increasing.
    classes : ndarray, shape (T,)
        Class codes kept (those with positive pairs).
    tpr, tnr, utility : ndarray, shape (T, G)
    """

    opis: float
    epsilon_opis: float
    thresholds: np.ndarray = field(repr=False)
    classes: np.ndarray = field(repr=False)
    tpr: np.ndarray = field(repr=False)
    tnr: np.ndarray = field(repr=False)
    utility: np.ndarray = field(repr=False)
    far_range: tuple = (1e-3, 1e-1)
    epsilon: float = 0.05

    def to_dict(self) -> dict:
        spread = self.utility.std(axis=0)
        return {
            "opis": self.opis,
            "epsilon_opis": self.epsilon_opis,
            "epsilon": self.epsilon,
            "far_range": list(self.far_range),
            "threshold_range": [float(self.thresholds[0]), float(self.thresholds[-1])],
            "n_classes": int(self.classes.shape[0]),
            "mean_utility": float(self.utility.mean()),
            "max_utility_std": float(spread.max()),
        }


def class_operating_characteristics(
    scores: Any, is_positive: Any, first_class: Any, second_class: Any, thresholds: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class TPR and TNR of pair scores at each threshold.

    Parameters
    ----------
    scores : array-like, shape (p,)
        Pair scores, higher = more similar.
    is_positive : array-like of bool, shape (p,)
    first_class, second_class : array-like of int, shape (p,)
        Class codes 0..C-1 of the two items of each pair.
    thresholds : array-like, shape (G,)
        A pair is accepted at threshold t when its score >= t.

    Returns
    -------
    classes : ndarray, shape (T,)
        Codes of the classes that have positive pairs.
    tpr, tnr : ndarray, shape (T, G)
    """
    s = check_scores(scores)
    y = check_binary(is_positive, s.shape[0], "is_positive")
    a, b = _codes(first_class, s.shape[0], "first_class"), _codes(second_class, s.shape[0], "second_class")
    if np.any(a[y] != b[y]):
        raise InputError("A positive pair joins two different classes; first_class and second_class disagree.")
    t = np.sort(check_scores(thresholds, "thresholds"))
    n_classes = int(max(a.max(), b.max())) + 1
    pos_acc, pos_all = _accepted(s[y], a[y], t, n_classes)
    neg_s = s[~y]
    acc1, all1 = _accepted(neg_s, a[~y], t, n_classes)
    acc2, all2 = _accepted(neg_s, b[~y], t, n_classes)
    neg_acc, neg_all = acc1 + acc2, all1 + all2
    keep = np.flatnonzero((pos_all > 0) & (neg_all > 0))
    tpr = pos_acc[keep] / pos_all[keep, None]
    tnr = 1.0 - neg_acc[keep] / neg_all[keep, None]
    return keep, tpr, tnr


def _codes(values: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.shape != (n,) or arr.dtype.kind not in "iu" or (n and arr.min() < 0):
        raise InputError(f"{name} must be {n} non-negative integer class codes; got shape {arr.shape}, dtype {arr.dtype}.")
    return arr.astype(np.int64)


def _accepted(scores: np.ndarray, cls: np.ndarray, t: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(accepted counts (C, G), totals (C,)): accepted at t[g] iff score >= t[g]."""
    g = t.shape[0]
    bins = np.searchsorted(t, scores, side="right")  # thresholds <= score: accepted at t[0..bins-1]
    counts = np.bincount(cls * (g + 1) + bins, minlength=n_classes * (g + 1)).reshape(n_classes, g + 1)
    # accepted at t[k] = items with bins > k = reverse cumulative sum over bins k+1..g
    acc = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1][:, 1:]
    return acc.astype(np.float64), counts.sum(axis=1).astype(np.float64)


def threshold_consistency(
    scores: Any,
    is_positive: Any,
    first_class: Any,
    second_class: Any,
    *,
    far_range: tuple[float, float] = (1e-3, 1e-1),
    n_thresholds: int = 100,
    epsilon: float = 0.05,
) -> ThresholdConsistency:
    """OPIS, epsilon-OPIS and per-class operating characteristics of pair scores.

    Parameters
    ----------
    scores, is_positive, first_class, second_class : as in :func:`class_operating_characteristics`
    far_range : (float, float), default=(1e-3, 1e-1)
        Overall false accept rates bounding the calibration range of thresholds.
    n_thresholds : int, default=100
    epsilon : float in (0, 0.5], default=0.05
        Share of best / worst classes compared by epsilon-OPIS.

    Returns
    -------
    ThresholdConsistency
        OPIS is 0 when every class has the same utility at every threshold of the
        range, and grows with the variance of the classes' utilities.

    Raises
    ------
    InputError
        Fewer than two classes with both positive and negative pairs; bad arrays.
    """
    check_param(n_thresholds, "n_thresholds", "threshold_consistency", Interval(numbers.Integral, 2, None))
    check_param(epsilon, "epsilon", "threshold_consistency", Interval(numbers.Real, 0, 0.5, "right"))
    lo, hi = _far_range(far_range)
    s = check_scores(scores)
    y = check_binary(is_positive, s.shape[0], "is_positive")
    neg = s[~y]
    if neg.size == 0 or not y.any():
        raise InputError("OPIS needs both positive and negative pairs.")
    # Threshold with overall FAR f: the (1 - f) quantile of the negative scores.
    t_lo, t_hi = np.quantile(neg, [1.0 - hi, 1.0 - lo])
    grid = np.linspace(t_lo, t_hi, n_thresholds)
    classes, tpr, tnr = class_operating_characteristics(s, y, first_class, second_class, grid)
    if classes.shape[0] < 2:
        raise InputError(f"OPIS compares classes; only {classes.shape[0]} class(es) have positive and negative pairs.")
    with np.errstate(invalid="ignore", divide="ignore"):
        utility = np.where(tpr + tnr > 0, 2 * tpr * tnr / (tpr + tnr), 0.0)
    deviation = ((utility - utility.mean(axis=0)) ** 2).mean(axis=0)
    k = max(1, math.ceil(epsilon * classes.shape[0]))
    ranked = np.sort(utility, axis=0)
    gap = ranked[-k:].mean(axis=0) - ranked[:k].mean(axis=0)
    return ThresholdConsistency(_grid_mean(deviation), _grid_mean(gap), grid, classes, tpr, tnr, utility,
                                (lo, hi), float(epsilon))


def _far_range(far_range: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in far_range)
    except (TypeError, ValueError):
        raise InputError(f"far_range must be two numbers (low, high); got {far_range!r}.") from None
    if not (0 < lo < hi <= 1):
        raise InputError(f"far_range must satisfy 0 < low < high <= 1; got {far_range!r}.")
    return lo, hi


def _grid_mean(values: np.ndarray) -> float:
    """Trapezoid mean over an equally spaced grid (uniform weight w)."""
    return float((values[1:] + values[:-1]).sum() / (2 * (values.shape[0] - 1)))


def opis(scores: Any, is_positive: Any, first_class: Any, second_class: Any, *,
         far_range: tuple[float, float] = (1e-3, 1e-1), n_thresholds: int = 100) -> float:
    """OPIS alone (parameters as in :func:`threshold_consistency`); lower is more consistent."""
    return threshold_consistency(scores, is_positive, first_class, second_class, far_range=far_range,
                                 n_thresholds=n_thresholds).opis


def epsilon_opis(scores: Any, is_positive: Any, first_class: Any, second_class: Any, *,
                 far_range: tuple[float, float] = (1e-3, 1e-1), n_thresholds: int = 100,
                 epsilon: float = 0.05) -> float:
    """epsilon-OPIS alone (parameters as in :func:`threshold_consistency`)."""
    return threshold_consistency(scores, is_positive, first_class, second_class, far_range=far_range,
                                 n_thresholds=n_thresholds, epsilon=epsilon).epsilon_opis


THRESHOLD_METRICS = Registry("threshold-consistency metric")
THRESHOLD_METRICS.register(Record("opis", opis, False, frozenset({"labels"}),
                                  "variance of per-class utility over a threshold range (Zhang et al. 2024)"))
THRESHOLD_METRICS.register(Record("epsilon_opis", epsilon_opis, False, frozenset({"labels"}),
                                  "utility gap between best and worst epsilon share of classes"))

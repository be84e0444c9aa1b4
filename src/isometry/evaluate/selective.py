"""Selective classification: risk-coverage curve, AURC, E-AURC and AUGRC.

A selective classifier answers only when its confidence is high enough. Sorting
predictions by decreasing confidence and accepting the first ones gives, at each
coverage c (accepted share), the selective risk (failures / accepted) and the
generalized risk (failures accepted / all predictions).

Conventions (equal confidences are one group, accepted or rejected together):

- **risk-coverage curve**: one point per distinct confidence, coverage = accepted
  share, risk = failures among the accepted / accepted.
- **AURC** ("Selective classification for deep neural networks", Geifman &
  El-Yaniv, 2017; "Bias-reduced uncertainty estimation", Geifman et al., 2019):
  the mean over all n predictions of the selective risk at the coverage where that
  prediction is accepted, i.e. ``sum_g (n_g / n) risk_g`` over tie groups g (a
  right-endpoint step integral over coverage in (0, 1]). Without ties this is the
  usual per-sample AURC ``(1/n) sum_i risk(i/n)``; with ties every member of a
  group gets the group's risk, so the order inside a group never matters.
- **E-AURC**: AURC minus the AURC of a perfect ranking (all successes first) with
  the same failure count, computed exactly in the same convention:
  ``(1/n) sum_{i > n_s} (1 - n_s / i)`` (not the continuous approximation
  ``r + (1 - r) ln(1 - r)``), so E-AURC >= 0 and is 0 for a perfect ranking.
- **AUGRC** ("Overcoming Common Flaws in the Evaluation of Selective
  Classification Systems", Traub et al., NeurIPS 2024): the trapezoid integral of
  the generalized risk over coverage from (0, 0) to (1, failure rate). It equals
  ``0.5 pi^2 + pi (1 - pi)(1 - AUROC_f)`` with pi the failure rate and AUROC_f the
  AUROC of confidence separating successes from failures (ties half). Reported in
  [0, 0.5], not multiplied by 1000 as in the paper's tables.

Defined values instead of errors: all correct -> AURC = E-AURC = AUGRC = 0; all
wrong -> AURC = 1, E-AURC = 0, AUGRC = 0.5; constant confidence -> one group,
AURC = failure rate, AUGRC = failure rate / 2. NaN confidences, length mismatch
and empty input raise InputError.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import digamma

from .._registry import Record, Registry
from .._validate import Interval, check_embeddings, check_labels, check_param, check_same_width, encode_labels
from ..distances.knn import iter_knn
from .verification import _thin_curve, check_binary, check_scores, counts_curve

__all__ = [
    "SelectiveResult",
    "KNNConfidence",
    "risk_coverage_curve",
    "aurc",
    "e_aurc",
    "augrc",
    "selective_metrics",
    "knn_confidence",
    "SELECTIVE_METRICS",
]


@dataclass
class SelectiveResult:
    """AURC, E-AURC, AUGRC and the risk-coverage curve from one sort."""

    aurc: float
    e_aurc: float
    augrc: float
    accuracy: float
    n: int
    coverage: np.ndarray = field(repr=False)
    risk: np.ndarray = field(repr=False)
    thresholds: np.ndarray = field(repr=False)

    def to_dict(self, *, curve_points: int = 200) -> dict:
        cov, risk = _thin_curve(self.coverage, self.risk, curve_points)
        return {
            "aurc": self.aurc,
            "e_aurc": self.e_aurc,
            "augrc": self.augrc,
            "accuracy": self.accuracy,
            "n": self.n,
            "risk_coverage": {"coverage": cov.tolist(), "risk": risk.tolist()},
        }


def _groups(confidence: Any, correct: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(thresholds, accepted counts, accepted failures) per tie group, decreasing confidence."""
    c = check_scores(confidence, "confidence")
    ok = check_binary(correct, c.shape[0], "correct")
    curve = counts_curve(c, ~ok)  # "positives" = failures
    return curve.thresholds, curve.tps + curve.fps, curve.tps, c.shape[0]


def _aurc(accepted: np.ndarray, failures: np.ndarray, n: int) -> float:
    sizes = np.diff(np.concatenate([[0.0], accepted]))
    return float(np.dot(sizes, failures / accepted) / n)


def _optimal_aurc(n_fail: int, n: int) -> float:
    n_ok = n - n_fail
    if n_fail == 0:
        return 0.0
    harmonic_gap = digamma(n + 1) - digamma(n_ok + 1)  # H_n - H_{n_ok}
    return float((n_fail - n_ok * harmonic_gap) / n)


def _augrc(accepted: np.ndarray, failures: np.ndarray, n: int) -> float:
    cov = np.concatenate([[0.0], accepted]) / n
    gen = np.concatenate([[0.0], failures]) / n
    return float(np.dot(np.diff(cov), gen[1:] + gen[:-1]) / 2.0)


def risk_coverage_curve(confidence: Any, correct: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coverage, selective risk and confidence threshold at each distinct confidence.

    Parameters
    ----------
    confidence : array-like or torch.Tensor, shape (n,)
        Higher = more confident. Finite.
    correct : array-like of bool or 0/1, shape (n,)

    Returns
    -------
    coverage, risk, thresholds : ndarray, shape (m,)
        Increasing coverage; ``thresholds`` decreasing.

    Examples
    --------
    >>> cov, risk, _ = risk_coverage_curve([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1])
    >>> cov.tolist(), risk.tolist()
    ([0.25, 0.5, 0.75, 1.0], [0.0, 0.5, 0.3333333333333333, 0.25])
    """
    t, acc, fail, n = _groups(confidence, correct)
    return acc / n, fail / acc, t


def aurc(confidence: Any, correct: Any) -> float:
    """Area under the risk-coverage curve (per-sample convention, ties grouped).

    Examples
    --------
    >>> aurc([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1])  # (0 + 1/2 + 1/3 + 1/4) / 4
    0.2708333333333333
    """
    _, acc, fail, n = _groups(confidence, correct)
    return _aurc(acc, fail, n)


def e_aurc(confidence: Any, correct: Any) -> float:
    """Excess AURC over a perfect ranking with the same accuracy (>= 0)."""
    _, acc, fail, n = _groups(confidence, correct)
    return max(0.0, _aurc(acc, fail, n) - _optimal_aurc(int(fail[-1]), n))


def augrc(confidence: Any, correct: Any) -> float:
    """Area under the generalized risk-coverage curve (Traub et al., 2024), in [0, 0.5].

    Examples
    --------
    >>> augrc([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1])  # 0.5 * 0.25**2 + 0.25 * 0.75 * (1 - 1/3)
    0.15625
    """
    _, acc, fail, n = _groups(confidence, correct)
    return _augrc(acc, fail, n)


def selective_metrics(confidence: Any, correct: Any) -> SelectiveResult:
    """AURC, E-AURC, AUGRC, accuracy and the risk-coverage curve from one sort."""
    t, acc, fail, n = _groups(confidence, correct)
    a = _aurc(acc, fail, n)
    return SelectiveResult(
        aurc=a, e_aurc=max(0.0, a - _optimal_aurc(int(fail[-1]), n)), augrc=_augrc(acc, fail, n),
        accuracy=float(1.0 - fail[-1] / n), n=n, coverage=acc / n, risk=fail / acc, thresholds=t,
    )


@dataclass
class KNNConfidence:
    """k-NN classification of each query: predicted label, confidence, correctness."""

    predicted: np.ndarray
    confidence: np.ndarray
    correct: np.ndarray


def knn_confidence(
    embeddings: Any,
    labels: Any,
    *,
    reference: Any = None,
    reference_labels: Any = None,
    k: int = 10,
    distance: str = "euclidean",
) -> KNNConfidence:
    """k-NN majority vote with its vote share as confidence.

    Each query is classified by the labels of its ``k`` nearest references
    (:func:`isometry.distances.knn`; the query itself excluded when no reference
    is given). Confidence = votes for the predicted label / k. A tie between labels
    goes to the label of the nearest neighbour among the tied ones.

    Parameters
    ----------
    embeddings : array-like or torch.Tensor, shape (n, d)
    labels : array-like, shape (n,)
    reference, reference_labels : optional, shapes (m, d), (m,)
    k : int, default=10
    distance : str, default="euclidean"

    Returns
    -------
    KNNConfidence
        ``predicted`` (labels, same kind as given), ``confidence`` float64 in
        (0, 1], ``correct`` bool; all shape (n,).
    """
    check_param(k, "k", "knn_confidence", Interval(numbers.Integral, 1, None))
    x = check_embeddings(embeddings, name="embeddings")
    y = check_labels(labels, x.shape[0])
    if reference is None:
        ref, ry = None, y
    else:
        ref = check_embeddings(reference, name="reference")
        check_same_width(x, ref)
        ry = check_labels(reference_labels, ref.shape[0], name="reference_labels")
    (qc, rc), classes = encode_labels(y, ry)
    pred = np.empty(x.shape[0], dtype=np.int64)
    votes_won = np.empty(x.shape[0], dtype=np.int64)
    for start, stop, _, idx in iter_knn(x, ref, k, distance=distance, validated=False):
        pred[start:stop], votes_won[start:stop] = _vote(rc[idx.cpu().numpy()])
    return KNNConfidence(classes[pred], votes_won / k, pred == qc)


def _vote(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Majority label of each row of neighbour class codes (nearest first) and its vote count."""
    counts = (votes[:, :, None] == votes[:, None, :]).sum(axis=2)  # votes for each neighbour's label
    winner = np.argmax(counts, axis=1)  # first maximum = nearest among tied labels
    rows = np.arange(votes.shape[0])
    return votes[rows, winner], counts[rows, winner]


SELECTIVE_METRICS = Registry("selective classification metric")
for _name, _fn, _desc in [
    ("aurc", aurc, "area under the selective risk-coverage curve"),
    ("e_aurc", e_aurc, "AURC minus the AURC of a perfect ranking"),
    ("augrc", augrc, "area under the generalized risk-coverage curve (Traub et al. 2024)"),
]:
    SELECTIVE_METRICS.register(Record(_name, _fn, False, frozenset({"labels", "knn"}), _desc))

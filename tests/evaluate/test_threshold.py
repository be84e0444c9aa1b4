"""OPIS and per-class operating characteristics on constructed pair sets."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import clustered
from isometry.errors import InputError
from isometry.evaluate._pairs import pair_scores
from isometry.evaluate.threshold import (
    THRESHOLD_METRICS,
    class_operating_characteristics,
    epsilon_opis,
    opis,
    threshold_consistency,
)


def _pairs(n_classes=6, n_pos=200, n_neg=2000, shift=None, seed=0):
    """Pair scores where every class draws from the same distributions (or class 0 is shifted)."""
    r = np.random.default_rng(seed)
    pos_scores = np.tile(r.normal(1.0, 0.5, n_pos), n_classes)  # identical multiset per class
    pos_cls = np.repeat(np.arange(n_classes), n_pos)
    if shift is not None:
        pos_scores[pos_cls == 0] += shift
    # negatives: each unordered class pair gets the same multiset of scores
    base_neg = r.normal(-1.0, 0.5, n_neg)
    a, b = np.triu_indices(n_classes, 1)
    neg_scores = np.tile(base_neg, a.size)
    first = np.r_[pos_cls, np.repeat(a, n_neg)]
    second = np.r_[pos_cls, np.repeat(b, n_neg)]
    scores = np.r_[pos_scores, neg_scores]
    positive = np.r_[np.ones(pos_scores.size, bool), np.zeros(neg_scores.size, bool)]
    return scores, positive, first, second


def test_identical_classes_give_zero_opis():
    tc = threshold_consistency(*_pairs())
    assert tc.opis == pytest.approx(0.0, abs=1e-15)
    assert tc.epsilon_opis == pytest.approx(0.0, abs=1e-15)
    assert np.allclose(tc.tpr, tc.tpr[0]) and np.allclose(tc.tnr, tc.tnr[0])


def test_one_different_class_raises_opis_and_matches_formula():
    s, y, a, b = _pairs(shift=-1.0)
    tc = threshold_consistency(s, y, a, b, n_thresholds=50)
    assert tc.opis > 1e-3
    worst = np.argmin(tc.utility.mean(axis=1))
    assert tc.classes[worst] == 0
    # direct formula: per threshold, mean over classes of the squared deviation; trapezoid mean
    u = tc.utility
    dev = ((u - u.mean(0)) ** 2).mean(0)
    assert tc.opis == pytest.approx(np.trapezoid(dev, dx=1.0) / (dev.size - 1), rel=1e-12)
    assert opis(s, y, a, b, n_thresholds=50) == tc.opis
    assert epsilon_opis(s, y, a, b, n_thresholds=50) == tc.epsilon_opis > 0


def test_more_different_class_gives_larger_opis():
    small = threshold_consistency(*_pairs(shift=-0.3)).opis
    large = threshold_consistency(*_pairs(shift=-1.5)).opis
    assert 0 < small < large


def test_rates_match_brute_force():
    x, y = clustered(60, 4, 4, seed=1)
    ps = pair_scores(x, y)
    t = np.quantile(ps.scores, [0.2, 0.5, 0.9])
    classes, tpr, tnr = class_operating_characteristics(ps.scores, ps.is_positive, ps.first_class,
                                                        ps.second_class, t)
    for row, c in enumerate(classes):
        pos = ps.is_positive & (ps.first_class == c)
        neg = ~ps.is_positive & ((ps.first_class == c) | (ps.second_class == c))
        for g, thr in enumerate(t):
            assert tpr[row, g] == pytest.approx((ps.scores[pos] >= thr).mean())
            assert tnr[row, g] == pytest.approx((ps.scores[neg] < thr).mean())


def test_embeddings_with_one_spread_class():
    x, y = clustered(400, 8, 8, spread=0.3, seed=2, dtype=np.float64)
    ps = pair_scores(x, y)
    even = threshold_consistency(ps.scores, ps.is_positive, ps.first_class, ps.second_class).opis
    x2 = x.copy()
    x2[y == 0] += np.random.default_rng(0).normal(scale=1.5, size=((y == 0).sum(), 8))
    ps2 = pair_scores(x2, y)
    uneven = threshold_consistency(ps2.scores, ps2.is_positive, ps2.first_class, ps2.second_class).opis
    assert uneven > 5 * even


def test_singleton_classes_are_left_out_and_too_few_classes_raise():
    s, y, a, b = _pairs(n_classes=3)
    keep = ~(y & (a == 2))  # class 2 loses its positive pairs
    tc = threshold_consistency(s[keep], y[keep], a[keep], b[keep])
    assert tc.classes.tolist() == [0, 1]
    keep2 = keep & ~(y & (a == 1))
    with pytest.raises(InputError, match="only 1 class"):
        threshold_consistency(s[keep2], y[keep2], a[keep2], b[keep2])


def test_bad_input():
    s, y, a, b = _pairs(n_classes=3)
    with pytest.raises(InputError, match="far_range"):
        threshold_consistency(s, y, a, b, far_range=(0.1, 0.01))
    with pytest.raises(InputError, match="n_thresholds"):
        threshold_consistency(s, y, a, b, n_thresholds=1)
    with pytest.raises(InputError, match="epsilon"):
        threshold_consistency(s, y, a, b, epsilon=0.9)
    with pytest.raises(InputError, match="first_class"):
        threshold_consistency(s, y, a[:-1], b)
    with pytest.raises(InputError, match="disagree"):
        threshold_consistency(s, y, a, np.where(y, (a + 1) % 3, b))
    with pytest.raises(InputError, match="both positive and negative"):
        threshold_consistency(s[y], y[y], a[y], b[y])
    s2 = s.copy()
    s2[0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        threshold_consistency(s2, y, a, b)


def test_registry():
    assert THRESHOLD_METRICS.names() == ["opis", "epsilon_opis"]
    assert all(r.higher_is_better is False for r in THRESHOLD_METRICS)

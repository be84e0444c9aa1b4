"""Selective classification: hand-made cases, direct formulas, defined values, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import clustered
from isometry.errors import InputError
from isometry.evaluate.selective import (
    SELECTIVE_METRICS,
    augrc,
    aurc,
    e_aurc,
    knn_confidence,
    risk_coverage_curve,
    selective_metrics,
)


def _brute(conf, correct):
    """Per-sample AURC with ties grouped, AUGRC by the pair-counting closed form, optimal AURC."""
    conf, correct = np.asarray(conf, float), np.asarray(correct, bool)
    n = conf.size
    risks = [(~correct[conf >= c]).mean() for c in conf]  # each sample gets its tie group's risk
    fail = ~correct
    pi = fail.mean()
    ok_c, bad_c = conf[correct], conf[fail]
    auroc_f = ((ok_c[:, None] > bad_c[None]).sum() + 0.5 * (ok_c[:, None] == bad_c[None]).sum()) / max(
        1, ok_c.size * bad_c.size)
    n_ok = correct.sum()
    optimal = np.mean([max(0, i - n_ok) / i for i in range(1, n + 1)])
    return np.mean(risks), 0.5 * pi**2 + pi * (1 - pi) * (1 - auroc_f), optimal


def test_hand_made_case():
    conf, ok = [0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1]
    cov, risk, thr = risk_coverage_curve(conf, ok)
    assert cov.tolist() == [0.25, 0.5, 0.75, 1.0]
    assert risk.tolist() == pytest.approx([0, 1 / 2, 1 / 3, 1 / 4])
    assert aurc(conf, ok) == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    # optimal: successes first -> risks 0, 0, 0, 1/4
    assert e_aurc(conf, ok) == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 4 - 1 / 16)
    assert augrc(conf, ok) == pytest.approx(0.15625)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_against_direct_formulas_with_ties(seed):
    r = np.random.default_rng(seed)
    conf = r.integers(0, 6, 80) / 5
    ok = r.random(80) < 0.3 + 0.6 * conf
    a, g, opt = _brute(conf, ok)
    res = selective_metrics(conf, ok)
    assert res.aurc == pytest.approx(a, abs=1e-12)
    assert res.augrc == pytest.approx(g, abs=1e-12)
    assert res.e_aurc == pytest.approx(a - opt, abs=1e-12)
    assert res.accuracy == pytest.approx(ok.mean())


def test_ties_do_not_depend_on_order():
    conf = np.array([0.5, 0.5, 0.5, 0.9])
    assert aurc(conf, [1, 0, 1, 1]) == aurc(conf, [0, 1, 1, 1])
    assert augrc(conf, [1, 0, 1, 1]) == augrc(conf, [0, 1, 1, 1])


def test_perfect_ranking_has_zero_excess():
    conf = np.arange(10.0)
    ok = conf >= 4
    assert e_aurc(conf, ok) == pytest.approx(0.0, abs=1e-15)
    assert e_aurc(conf, ~ok) > 0


def test_defined_values_for_degenerate_input():
    conf = np.linspace(0, 1, 7)
    good = selective_metrics(conf, np.ones(7, bool))
    assert (good.aurc, good.e_aurc, good.augrc, good.accuracy) == (0.0, 0.0, 0.0, 1.0)
    bad = selective_metrics(conf, np.zeros(7, bool))
    assert bad.aurc == 1.0 and bad.e_aurc == pytest.approx(0.0, abs=1e-12) and bad.augrc == pytest.approx(0.5)
    const = selective_metrics(np.ones(8), [1, 1, 0, 1, 0, 1, 1, 1])
    assert const.aurc == pytest.approx(0.25) and const.augrc == pytest.approx(0.125)
    assert const.coverage.tolist() == [1.0]


def test_torch_input_and_permutation(rng):
    conf = rng.random(300)
    ok = rng.random(300) < 0.7
    p = rng.permutation(300)
    base = selective_metrics(conf, ok)
    assert selective_metrics(conf[p], ok[p]).aurc == pytest.approx(base.aurc, abs=1e-15)
    assert aurc(torch.from_numpy(conf), torch.from_numpy(ok)) == pytest.approx(base.aurc, abs=1e-15)


@pytest.mark.parametrize(
    "conf, ok, match",
    [
        ([0.1, np.nan], [1, 0], "NaN"),
        ([0.1, 0.2], [1, 0, 1], "3 entries"),
        ([], [], "empty"),
        ([0.1, 0.2], [1, 3], "0/1"),
        ([[0.1, 0.2]], [1], "1-D"),
    ],
)
def test_bad_input(conf, ok, match):
    for fn in (aurc, e_aurc, augrc, selective_metrics, risk_coverage_curve):
        with pytest.raises(InputError, match=match):
            fn(np.asarray(conf, dtype=float), ok)


def test_registry():
    assert SELECTIVE_METRICS.names() == ["aurc", "e_aurc", "augrc"]
    assert all(rec.higher_is_better is False for rec in SELECTIVE_METRICS)


def test_knn_confidence_matches_brute_force():
    x, y = clustered(80, 4, 4, spread=1.0, seed=3, dtype=np.float64)
    res = knn_confidence(x, y, k=5)
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1, kind="stable")[:, :5]
    for i in range(80):
        votes = y[nn[i]]
        counts = np.array([(votes == v).sum() for v in votes])
        winner = votes[np.argmax(counts)]
        assert res.predicted[i] == winner
        assert res.confidence[i] == counts.max() / 5
        assert res.correct[i] == (winner == y[i])


def test_knn_confidence_with_reference_and_string_labels():
    x, y = clustered(60, 4, 3, seed=1, spread=0.2)
    r, ry = clustered(90, 4, 3, seed=1, spread=0.2)
    names = np.array(["cat", "dog", "eel"])
    res = knn_confidence(x, names[y], reference=r, reference_labels=names[ry], k=3)
    codes = knn_confidence(x, y, reference=r, reference_labels=ry, k=3)
    assert res.predicted.dtype.kind == "U" and (res.predicted == names[codes.predicted]).all()
    assert (res.confidence == codes.confidence).all()
    assert res.correct.mean() > 0.8
    out = selective_metrics(res.confidence, res.correct)
    assert 0 <= out.augrc <= 0.5


def test_knn_confidence_bad_input():
    x, y = clustered(20, 3, 2)
    with pytest.raises(InputError, match="k"):
        knn_confidence(x, y, k=0)
    with pytest.raises(InputError, match="candidate"):
        knn_confidence(x, y, k=20)
    with pytest.raises(InputError, match="entries"):
        knn_confidence(x, y[:5])

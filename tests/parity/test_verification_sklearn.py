"""Parity with scikit-learn's roc_curve / roc_auc_score / average_precision_score (to 1e-12)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from isometry.evaluate.ood import ood_metrics
from isometry.evaluate.selective import augrc
from isometry.evaluate.verification import average_precision, roc_auc, roc_curve, verification_metrics


def _data(seed, n, ties):
    r = np.random.default_rng(seed)
    y = r.random(n) < r.uniform(0.05, 0.6)
    y[:2] = [True, False]
    s = r.normal(size=n) + y
    return (s.round(1) if ties else s), y


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("drop", [False, True])
def test_roc_curve_parity(seed, ties, drop):
    s, y = _data(seed, 3000, ties)
    fpr, tpr, thr = roc_curve(s, y, drop_intermediate=drop)
    f2, t2, th2 = skm.roc_curve(y, s, drop_intermediate=drop)
    assert fpr.shape == f2.shape
    np.testing.assert_allclose(fpr, f2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tpr, t2, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(thr, th2)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ties", [False, True])
def test_auroc_and_ap_parity(seed, ties):
    s, y = _data(seed, 20000, ties)
    assert abs(roc_auc(s, y) - skm.roc_auc_score(y, s)) < 1e-12
    assert abs(average_precision(s, y) - skm.average_precision_score(y, s)) < 1e-12
    r = verification_metrics(s, y)
    assert abs(r.auroc - skm.roc_auc_score(y, s)) < 1e-12
    assert abs(r.average_precision - skm.average_precision_score(y, s)) < 1e-12


def test_prevalence_equals_sample_weight():
    s, y = _data(9, 5000, True)
    w = np.where(y, 1.0, 7.0)
    prev = y.sum() / (y.sum() + 7.0 * (~y).sum())
    assert abs(average_precision(s, y, prevalence=prev) - skm.average_precision_score(y, s, sample_weight=w)) < 1e-12


def test_augrc_closed_form():
    r = np.random.default_rng(3)
    conf = r.random(4000).round(2)
    correct = r.random(4000) < 0.5 + 0.4 * conf
    pi = 1 - correct.mean()
    closed = 0.5 * pi**2 + pi * (1 - pi) * (1 - skm.roc_auc_score(correct, conf))
    assert abs(augrc(conf, correct) - closed) < 1e-12


def test_ood_parity_with_openood_convention():
    r = np.random.default_rng(5)
    ids, oods = r.normal(size=700).round(1), (r.normal(size=300) + 1).round(1)
    res = ood_metrics(ids, oods, normalize="minmax")
    y_ood = np.r_[np.zeros(700), np.ones(300)]
    s = np.r_[ids, oods]
    assert abs(res.auroc - skm.roc_auc_score(y_ood, s)) < 1e-12
    assert abs(res.aupr_out - skm.average_precision_score(y_ood, s)) < 1e-12
    assert abs(res.aupr_in - skm.average_precision_score(1 - y_ood, -s)) < 1e-12
    fpr, tpr, _ = skm.roc_curve(1 - y_ood, -s)
    assert res.fpr_at_95_tpr == fpr[np.argmax(tpr >= 0.95)]

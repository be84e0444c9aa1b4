"""Parity with metric-learn 0.7 where its algorithm is deterministic.

metric-learn 0.7 does not run on scikit-learn >= 1.8 as released; the fixture patches
it at runtime (the fix on its master): the ``force_all_finite`` keyword is renamed to
``ensure_all_finite`` and SDML's ``graphical_lasso`` is routed to scikit-learn's
private ``_graphical_lasso``. Nothing is pinned.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

import isometry.learn as iso
from isometry.learn.constraints import Constraints, wrap_pairs
from isometry.learn.lmnn import lmnn_loss_grad, target_neighbors
from isometry.learn.lsml import lsml_objective
from isometry.learn.mmc import mmc_objective
from isometry.learn.nca import nca_loss_grad

ml = pytest.importorskip("metric_learn")

from _metric_learn_patch import patch_metric_learn  # noqa: E402


@pytest.fixture(scope="module")
def metric_learn():
    mp = patch_metric_learn()
    yield ml
    mp.undo()


@pytest.fixture(scope="module")
def data():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    abcd = Constraints(y).positive_negative_pairs(40, same_length=True, random_state=0)
    return X, y, abcd


def _M(est):
    return est.get_mahalanobis_matrix()


def test_lsml_reaches_metric_learns_objective(metric_learn, data):
    # isometry minimizes the same objective with L-BFGS on a factor of M, metric-learn
    # with projected gradient steps, so the iterates differ: compare objective values
    X, _, abcd = data
    quads = X[np.column_stack(abcd)]
    vab, vcd = quads[:, 0] - quads[:, 1], quads[:, 2] - quads[:, 3]
    w, I = np.full(len(vab), 1.0 / len(vab)), np.eye(X.shape[1])
    ours = lsml_objective(_M(iso.LSML().fit(quads)), vab, vcd, w, I)
    theirs = lsml_objective(_M(metric_learn.LSML().fit(quads)), vab, vcd, w, I)
    assert ours <= theirs + 1e-9 and ours < lsml_objective(I, vab, vcd, w, I)
    assert ours >= theirs - 1e-3 * abs(theirs)  # both near the same minimum


def test_mmc_diagonal_same_metric(metric_learn, data):
    X, _, abcd = data
    pairs, y = wrap_pairs(X, abcd)
    a = iso.MMC(diagonal=True, max_iter=30).fit(pairs, y)
    b = metric_learn.MMC(diagonal=True, max_iter=30).fit(pairs, y)
    np.testing.assert_allclose(_M(a), _M(b), rtol=1e-6, atol=1e-9)


def test_mmc_full_reaches_a_higher_objective(metric_learn, data):
    # isometry solves the full-matrix problem exactly (L-BFGS after whitening) where
    # metric-learn stops its projected ascent early, so iterates cannot match; the
    # problem is homogeneous, so compare the scale-free objective sum sqrt(d_neg) /
    # sqrt(sum d_pos): isometry's must be at least metric-learn's
    X, _, abcd = data
    pairs, y = wrap_pairs(X, abcd)
    diff = pairs[:, 0] - pairs[:, 1]
    pos, neg = diff[y == 1], diff[y == -1]
    a = iso.MMC(max_iter=200, tol=1e-9).fit(pairs, y)
    b = metric_learn.MMC().fit(pairs, y)
    far_a, near_a = mmc_objective(pos, neg, _M(a))
    far_b, near_b = mmc_objective(pos, neg, _M(b))
    assert far_a / np.sqrt(near_a) >= far_b / np.sqrt(near_b) * (1 - 1e-9)
    # metric-learn's bound on the similar-pair term, <S, I> / 100, holds with equality
    assert np.isclose(near_a, (pos * pos).sum() / 100.0, rtol=1e-6)
    # and it is the optimum: a first-order check on random PSD directions
    rng = np.random.default_rng(0)
    for _ in range(5):
        R = rng.normal(size=_M(a).shape)
        A2 = _M(a) + 1e-4 * np.abs(_M(a)).max() * (R @ R.T)
        far2, near2 = mmc_objective(pos, neg, A2)
        assert far2 / np.sqrt(near2) <= far_a / np.sqrt(near_a) * (1 + 1e-6)


def test_itml_same_optimum(metric_learn, data):
    X, _, abcd = data
    pairs, y = wrap_pairs(X, abcd)
    a = iso.ITML(tol=1e-6).fit(pairs, y)
    b = metric_learn.ITML(max_iter=5000, tol=1e-6).fit(pairs, y)
    np.testing.assert_allclose(a.bounds_, b.bounds_)
    assert np.abs(_M(a) - _M(b)).max() <= 2e-3 * np.abs(_M(b)).max()


def test_sdml_same_graphical_lasso(metric_learn, data):
    X, _, abcd = data
    pairs, y = wrap_pairs(X, abcd)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = iso.SDML(balance_param=1e-3, prior="covariance").fit(pairs, y)
        b = metric_learn.SDML(balance_param=1e-3, prior="covariance").fit(pairs, y)
    assert np.abs(_M(a) - _M(b)).max() <= 5e-3 * np.abs(_M(b)).max()


def test_nca_objective_and_gradient(metric_learn, data):
    X, y, _ = data
    L = np.random.default_rng(0).normal(size=(5, X.shape[1]))
    value, grad = nca_loss_grad(L, X, y, budget=4096)
    est = metric_learn.NCA()
    est.n_iter_ = 0
    ml_value, ml_grad = est._loss_grad_lbfgs(L.ravel(), X, y[:, None] == y[None, :], -1.0)
    assert np.isclose(value, -ml_value, rtol=1e-12)
    np.testing.assert_allclose(grad.ravel(), -ml_grad, rtol=1e-9, atol=1e-10)


def test_lmnn_objective_gradient_and_targets(metric_learn, data):
    from metric_learn.lmnn import _sum_outer_products

    X, y, _ = data
    est = metric_learn.LMNN(n_neighbors=3)
    est.labels_ = np.unique(y)
    targets = est._select_targets(X, y)
    np.testing.assert_array_equal(np.sort(target_neighbors(X, y, 3), 1), np.sort(targets, 1))
    L = np.eye(X.shape[1]) + 0.1 * np.random.default_rng(0).normal(size=(X.shape[1],) * 2)
    pull = _sum_outer_products(X, targets.ravel(), np.repeat(np.arange(len(X)), 3))
    G, objective, active = est._loss_grad(X, L, pull, 3, 0.5, targets, y)
    value, grad, n_active = lmnn_loss_grad(L, X, y, targets, 0.5)
    assert np.isclose(value, objective, rtol=1e-10) and n_active == active
    np.testing.assert_allclose(grad, G, rtol=1e-8, atol=1e-8 * np.abs(G).max())


def test_supervised_pairs_use_their_own_draws_but_same_api(metric_learn, data):
    X, y, _ = data
    a = iso.ITML_Supervised(n_constraints=50, random_state=0).fit(X, y)
    b = metric_learn.ITML_Supervised(n_constraints=50, random_state=0).fit(X, y)
    assert a.transform(X).shape == b.transform(X).shape
    deprecated = {"num_constraints", "convergence_threshold"}  # deprecated aliases, not carried over
    assert set(iso.ITML_Supervised().get_params()) == set(b.get_params()) - deprecated


def test_components_from_metric_matches_metric_learns_factor(metric_learn):
    """Same M -> same components_ (metric-learn's Cholesky convention) when M is positive definite."""
    from metric_learn._util import components_from_metric as ml_components

    A = np.random.default_rng(4).normal(size=(6, 6))
    M = A @ A.T + 0.05 * np.eye(6)
    np.testing.assert_allclose(iso.components_from_metric(M), ml_components(M), rtol=1e-12, atol=1e-12)

"""Parity with metric-learn 0.7 for RCA, LFDA, MLKR (objective), Covariance and SCML pieces.

metric-learn 0.7 does not run on scikit-learn >= 1.8 as released; the fixture patches
its ``check_array`` / ``check_X_y`` at runtime (the keyword rename its master made).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, load_wine
from sklearn.preprocessing import StandardScaler

import isometry.learn as iso
from isometry.learn.mlkr import mlkr_loss_grad

ml = pytest.importorskip("metric_learn")

from _metric_learn_patch import patch_metric_learn  # noqa: E402


@pytest.fixture(scope="module")
def metric_learn():
    mp = patch_metric_learn()
    yield ml
    mp.undo()


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _chunks(y, per=5):
    """Deterministic chunklets: consecutive groups of `per` same-class samples, rest -1."""
    chunks = -np.ones(len(y), dtype=int)
    nxt = 0
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        for start in range(0, len(idx) - per + 1, per):
            chunks[idx[start:start + per]] = nxt
            nxt += 1
    return chunks


@pytest.mark.parametrize("n_components", [None, 4])
def test_rca_same_metric(metric_learn, wine, n_components):
    X, y = wine
    chunks = _chunks(y)
    mine = iso.RCA(n_components=n_components).fit(X, chunks).get_mahalanobis_matrix()
    theirs = metric_learn.RCA(n_components=n_components).fit(X, chunks).get_mahalanobis_matrix()
    np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-8)


def test_covariance_same_metric(metric_learn, wine):
    X, _ = wine
    np.testing.assert_allclose(iso.Covariance().fit(X).get_mahalanobis_matrix(),
                               metric_learn.Covariance().fit(X).get_mahalanobis_matrix(), rtol=1e-8, atol=1e-10)


def _ml_sigma(Xc, k):
    """metric-learn's local scale: ``np.partition(dist, k, axis=0)[:, k]`` takes column k of a
    column-wise partition, not each point's k-th neighbour distance (a bug in 0.7)."""
    from sklearn.metrics import pairwise_distances

    dist = pairwise_distances(Xc, metric="l2", squared=True)
    return np.sqrt(np.partition(dist, k, axis=0)[:, k])


def test_lfda_local_scale_bug_is_documented():
    X, y = load_iris(return_X_y=True)
    Xc = X[y == 1]
    true_kth = np.sort(np.sqrt(((Xc[:, None] - Xc[None]) ** 2).sum(-1)), axis=1)[:, 3]
    mine = np.asarray(iso.lfda.knn(Xc, k=3).distances)[:, -1]
    np.testing.assert_allclose(mine, true_kth, atol=1e-6)
    assert not np.allclose(_ml_sigma(Xc, 3), true_kth)


@pytest.fixture
def ml_local_scale(monkeypatch):
    """Give isometry's LFDA metric-learn's local scales, to compare everything downstream."""
    import isometry.learn.lfda as lfda_module

    class _Result:
        def __init__(self, d):
            self.distances = d

    monkeypatch.setattr(lfda_module, "knn", lambda Xc, k, **kw: _Result(_ml_sigma(Xc, k)[:, None]))


@pytest.mark.parametrize("embedding_type", ["plain", "orthonormalized"])
def test_lfda_same_metric(metric_learn, ml_local_scale, embedding_type):
    X, y = load_iris(return_X_y=True)
    mine = iso.LFDA(n_components=2, k=3, embedding_type=embedding_type).fit(X, y).get_mahalanobis_matrix()
    theirs = metric_learn.LFDA(n_components=2, k=3, embedding_type=embedding_type).fit(X, y)
    np.testing.assert_allclose(mine, theirs.get_mahalanobis_matrix(), rtol=1e-5, atol=1e-8)


def test_lfda_weighted_differs_by_documented_shift(metric_learn, ml_local_scale, wine):
    """metric-learn solves (S_b + 2 S_w) v = mu S_w v: same vectors, mu = lambda + 2."""
    X, y = wine
    mine = iso.LFDA(n_components=3, k=5, embedding_type="plain").fit(X, y)
    theirs = metric_learn.LFDA(n_components=3, k=5).fit(X, y).components_
    expected = np.sqrt(mine.eigenvalues_ + 2.0)[:, None] * mine.components_
    np.testing.assert_allclose(expected.T @ expected, theirs.T @ theirs, rtol=1e-5, atol=1e-8)


def test_mlkr_same_objective_and_gradient(metric_learn, wine):
    X, y = wine
    y = y.astype(float)
    A = np.random.default_rng(0).normal(size=(5, X.shape[1])) * 0.3
    peer = metric_learn.MLKR()
    peer.n_iter_ = 0
    loss, grad = peer._loss(A.ravel(), X, y)
    my_loss, my_grad = mlkr_loss_grad(A, X, y)
    assert my_loss == pytest.approx(loss, rel=1e-10)
    np.testing.assert_allclose(my_grad.ravel(), grad, rtol=1e-8, atol=1e-8)


def test_mlkr_fit_reaches_the_same_objective(metric_learn, wine):
    X, y = wine
    y = y.astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = metric_learn.MLKR(n_components=3, max_iter=60, init="pca").fit(X, y).components_
    mine = iso.MLKR(n_components=3, max_iter=60, init="pca").fit(X, y).components_
    start = mlkr_loss_grad(np.eye(3, X.shape[1]), X, y)[0]
    assert abs(mlkr_loss_grad(mine, X, y)[0] - mlkr_loss_grad(theirs, X, y)[0]) <= 1e-6 * start


def test_scml_same_triplet_differences(metric_learn, wine):
    """The hinge terms SCML optimizes, for a fixed basis, agree with metric-learn's."""
    from isometry.learn.scml import _basis_gaps

    X, y = wine
    idx = iso.Constraints(y).generate_knntriplets(X, 2, 3)
    basis = np.random.default_rng(0).normal(size=(20, X.shape[1]))
    peer = metric_learn.SCML(preprocessor=X)
    theirs = peer._compute_dist_diff(idx, X, basis)
    np.testing.assert_allclose(_basis_gaps(X[idx], basis), theirs, rtol=1e-10, atol=1e-10)

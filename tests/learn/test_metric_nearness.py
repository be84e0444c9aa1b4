"""MetricNearness: triangle inequalities, optimality against a generic QP, API, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from isometry.errors import InputError
from isometry.learn import MetricNearness
from isometry.learn.metric_nearness import metric_nearness

from _triangle_qp import triangle_qp


def _noisy(n, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    P = rng.normal(size=(n, 3))
    D = np.linalg.norm(P[:, None] - P[None], axis=-1)
    N = rng.random((n, n))
    D = D * (1 - noise / 2 + noise * (N + N.T) / 2)
    np.fill_diagonal(D, 0.0)
    return D


def _max_violation(X):
    return float((X[:, :, None] - X[:, None, :] - X.T[None, :, :]).max())


@pytest.mark.parametrize("seed", [0, 1])
def test_every_triangle_inequality_holds(seed):
    D = _noisy(40, seed)
    X = MetricNearness().fit_transform(D)
    assert _max_violation(D) > 0.1
    assert _max_violation(X) <= 1e-6
    assert np.allclose(X, X.T) and np.all(np.diag(X) == 0)


def test_uniform_random_dissimilarity():
    rng = np.random.default_rng(3)
    D = rng.random((30, 30))
    D = D + D.T
    np.fill_diagonal(D, 0)
    res = metric_nearness(D)
    assert res.converged and _max_violation(res.metric) <= 1e-6


def _qp(D, W):
    cp = pytest.importorskip("cvxpy")
    prob = triangle_qp(D, W)
    prob.solve(solver=cp.CLARABEL)
    return prob.value


@pytest.mark.parametrize("weighted", [False, True])
def test_objective_matches_generic_qp(weighted):
    D = _noisy(20, 5)
    rng = np.random.default_rng(1)
    W = rng.uniform(0.5, 2.0, D.shape) if weighted else np.ones_like(D)
    W = (W + W.T) / 2
    res = metric_nearness(D, W if weighted else None, tol=1e-9)
    assert res.objective == pytest.approx(_qp(D, W), rel=1e-5)


def test_metric_input_is_unchanged():
    P = np.random.default_rng(0).normal(size=(25, 4))
    D = np.linalg.norm(P[:, None] - P[None], axis=-1)
    res = metric_nearness(D)
    assert np.allclose(res.metric, D) and res.objective == pytest.approx(0.0, abs=1e-12)


def test_three_points_closed_form():
    D = np.array([[0, 1, 4], [1, 0, 1], [4, 1, 0]], dtype=float)
    X = metric_nearness(D).metric
    assert np.allclose(X, [[0, 5 / 3, 10 / 3], [5 / 3, 0, 5 / 3], [10 / 3, 5 / 3, 0]], atol=1e-6)


def test_estimator_api():
    D = _noisy(15)
    model = MetricNearness().fit(D)
    assert model.metric_.shape == (15, 15) and model.converged_ and model.n_iter_ >= 1
    assert np.allclose(model.transform(D), model.metric_)
    with pytest.raises(InputError, match="features"):
        model.transform(D[:5, :5])


def test_tiny_inputs():
    assert np.array_equal(metric_nearness(np.zeros((1, 1))).metric, np.zeros((1, 1)))
    X = metric_nearness(np.array([[0.0, 2.0], [2.0, 0.0]])).metric
    assert X[0, 1] == 2.0


@pytest.mark.parametrize("D, match", [
    (np.array([[0.0, 1.0], [2.0, 0.0]]), "symmetric"),
    (np.array([[0.0, -1.0], [-1.0, 0.0]]), "Negative"),
    (np.ones((2, 3)), "square"),
    (np.array([[0.0, np.nan], [np.nan, 0.0]]), "NaN"),
    (np.zeros((0, 0)), "0 sample"),
    (np.array([["a"]]), "dtype|string|real"),
])
def test_bad_matrix(D, match):
    with pytest.raises(InputError, match=match):
        metric_nearness(D)


def test_bad_weights_and_params():
    D = _noisy(5)
    with pytest.raises(InputError, match="shape|square"):
        metric_nearness(D, np.ones((4, 4)))
    with pytest.raises(InputError, match="> 0"):
        metric_nearness(D, np.zeros((5, 5)))
    with pytest.raises(InputError, match="tol"):
        MetricNearness(tol=0).fit(D)

"""MLKR: loss and gradient against a loop and finite differences, fit, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import check_grad
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline

from isometry.errors import InputError
from isometry.learn import MLKR
from isometry.learn.mlkr import mlkr_loss_grad


def _loss_loop(L, X, y):
    Z = X @ L.T
    total = 0.0
    for i in range(len(X)):
        d2 = ((Z - Z[i]) ** 2).sum(1)
        d2[i] = np.inf
        w = np.exp(-(d2 - d2.min()))
        total += (w @ y / w.sum() - y[i]) ** 2
    return total


def test_loss_matches_loop_and_blocks(rng):
    X, y, L = rng.normal(size=(50, 4)), rng.normal(size=50), rng.normal(size=(2, 4))
    loss, grad = mlkr_loss_grad(L, X, y)
    assert loss == pytest.approx(_loss_loop(L, X, y), rel=1e-10)
    loss_b, grad_b = mlkr_loss_grad(L, X, y, budget=2048)
    assert loss_b == pytest.approx(loss, rel=1e-12) and np.allclose(grad_b, grad, atol=1e-10)


def test_gradient_finite_differences(rng):
    X, y, L = rng.normal(size=(30, 3)), rng.normal(size=30), rng.normal(size=(3, 3)) * 0.5
    f = lambda a: mlkr_loss_grad(a.reshape(3, 3), X, y)[0]  # noqa: E731
    g = lambda a: mlkr_loss_grad(a.reshape(3, 3), X, y)[1].ravel()  # noqa: E731
    assert check_grad(f, g, L.ravel()) < 1e-5 * max(1.0, np.linalg.norm(g(L.ravel())))


def test_fit_finds_the_relevant_feature(rng):
    X = rng.normal(size=(120, 4))
    y = np.sin(2 * X[:, 0])
    model = MLKR(max_iter=100).fit(X, y)
    w = np.abs(model.components_).sum(0)
    assert w[0] > 2 * w[1:].max()
    assert mlkr_loss_grad(model.components_, X, y)[0] < mlkr_loss_grad(np.eye(4), X, y)[0]
    pipe = make_pipeline(MLKR(max_iter=50), KNeighborsRegressor(5)).fit(X, y)
    assert pipe.score(X, y) > 0.8


def test_n_components_and_init(rng):
    X, y = rng.normal(size=(60, 5)), rng.normal(size=60)
    assert MLKR(n_components=2, max_iter=5).fit(X, y).components_.shape == (2, 5)
    init = np.eye(5)[:3]
    assert MLKR(n_components=3, init=init, max_iter=1).fit(X, y).components_.shape == (3, 5)


def test_bad_input(rng):
    X = rng.normal(size=(20, 3))
    with pytest.raises(InputError, match="inconsistent|samples"):
        MLKR().fit(X, np.zeros(19))
    with pytest.raises(InputError, match="init"):
        MLKR(init="lda2").fit(X, np.zeros(20))
    with pytest.raises(InputError, match="max_iter"):
        MLKR(max_iter=0).fit(X, np.zeros(20))
    with pytest.raises(InputError, match="1 sample"):
        MLKR().fit(X[:1], np.zeros(1))
    with pytest.raises(ValueError):
        MLKR().fit(X, np.array(["a", "b"] * 10))
    y = np.zeros(20)
    y[4] = np.nan
    with pytest.raises(InputError, match="NaN"):
        MLKR().fit(X, y)

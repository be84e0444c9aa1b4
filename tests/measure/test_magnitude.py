import math
import warnings

import numpy as np
import pytest
import torch

from isometry.errors import InputError
from isometry.measure import (SolverOptions, boundary_scores, convergence_scale, magnitude, magnitude_dimension,
                              magnitude_function, outlier_scores, weighting_vector)


def line_magnitude(points, t):
    gaps = np.diff(np.sort(points))
    return 1 + np.tanh(t * gaps / 2).sum()


@pytest.mark.parametrize("method", ["cholesky", "cg"])
@pytest.mark.parametrize("t", [0.3, 1.0, 4.0])
def test_line_closed_form(method, t):
    pts = np.random.default_rng(1).uniform(0, 10, 120)
    assert magnitude(pts.reshape(-1, 1), t, method=method) == pytest.approx(line_magnitude(pts, t), rel=1e-9)


def test_matrix_free_matches_dense():
    x = np.random.default_rng(0).normal(size=(300, 5))
    dense = weighting_vector(x, 0.7, method="cholesky")
    free = weighting_vector(x, 0.7, method="cg", options=SolverOptions(budget=1, tol=1e-12))
    np.testing.assert_allclose(free, dense, rtol=1e-8, atol=1e-12)
    single = magnitude(x, 0.7, method="cg", options=SolverOptions(budget=1, dtype="float32"))
    assert single == pytest.approx(dense.sum(), rel=1e-5)


def test_weights_solve_the_system_and_input_order():
    x = np.random.default_rng(2).normal(size=(80, 3))
    w = weighting_vector(x, 1.3)
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    np.testing.assert_allclose(np.exp(-1.3 * d) @ w, 1.0, atol=1e-9)


def test_duplicates_share_weight_and_scale_zero():
    x = np.array([[0.0], [1.0], [1.0], [3.0]])
    w = weighting_vector(x, 1.0)
    assert w[1] == w[2]
    assert w.sum() == pytest.approx(line_magnitude(np.array([0.0, 1.0, 3.0]), 1.0))
    assert magnitude(x, 0.0) == 1.0
    np.testing.assert_allclose(weighting_vector(x, 0.0), [1 / 3, 1 / 6, 1 / 6, 1 / 3])


def test_torch_in_torch_out():
    x = np.random.default_rng(0).normal(size=(30, 2))
    w = weighting_vector(torch.from_numpy(x), 1.0)
    assert isinstance(w, torch.Tensor)
    np.testing.assert_allclose(w.numpy(), weighting_vector(x, 1.0))
    assert magnitude(x.astype(np.float32), 1.0) == pytest.approx(magnitude(x, 1.0), rel=1e-6)


def test_function_monotone_and_auto_range():
    x = np.random.default_rng(0).normal(size=(200, 4))
    fn = magnitude_function(x, n_scales=8)
    assert fn.scales[0] == 0 and fn.values[0] == 1.0
    assert np.all(np.diff(fn.values) > 0)
    assert fn.values[-1] == pytest.approx(0.95 * 200, rel=2e-3)
    assert convergence_scale(x) == pytest.approx(fn.scales[-1])
    explicit = magnitude_function(x, [2.0, 0.5])
    np.testing.assert_allclose(explicit.scales, [0.5, 2.0])
    assert explicit.values[0] == pytest.approx(magnitude(x, 0.5), rel=1e-9)


def test_magnitude_dimension_of_a_square_grid():
    g = np.stack(np.meshgrid(np.arange(25.0), np.arange(25.0)), -1).reshape(-1, 2)
    dim = magnitude_dimension(g, np.geomspace(0.5, 20, 12))
    assert 1.6 < dim < 2.4
    line = magnitude_dimension(np.arange(300.0).reshape(-1, 1), np.geomspace(0.01, 1, 10))
    assert 0.8 < line < 1.2


def test_boundary_and_outlier_scores():
    x = np.linspace(0, 1, 21).reshape(-1, 1)
    s = boundary_scores(x, 5.0)
    assert s[0] > s[10] and s[-1] > s[10]
    o = outlier_scores(np.array([[0.5], [0.52], [5.0]]), x, 5.0)
    assert abs(o[0]) < 1e-8 and o[2] > 0.9 and o[2] > abs(o[1])


def test_cg_warns_when_not_converged():
    x = np.random.default_rng(0).normal(size=(200, 3))
    with pytest.warns(Warning, match="conjugate gradients stopped"):
        weighting_vector(x, 0.05, method="cg", options=SolverOptions(max_iter=2))


@pytest.mark.parametrize("bad, match", [
    (np.array([[np.nan, 1.0], [0.0, 1.0]]), "NaN"),
    (np.zeros((0, 2)), "empty"),
    (np.array(["a", "b"]).reshape(-1, 1), "real numbers"),
    (np.arange(3.0), "2-D"),
])
def test_bad_input(bad, match):
    with pytest.raises(InputError, match=match):
        magnitude(bad, 1.0)


def test_bad_parameters():
    x = np.eye(3)
    with pytest.raises(InputError, match="'scale'"):
        magnitude(x, -1.0)
    with pytest.raises(InputError, match="'method'"):
        magnitude(x, 1.0, method="lu")
    with pytest.raises(InputError, match="scales"):
        magnitude_function(x, [-1.0])
    with pytest.raises(InputError, match="cholesky"):
        magnitude(np.random.default_rng(0).normal(size=(50, 2)), 1.0, method="cholesky",
                  options=SolverOptions(budget=10))

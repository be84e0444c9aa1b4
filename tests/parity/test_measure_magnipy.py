"""Parity with magnipy 1.0.0 (float64, explicit scales, Cholesky; distinct points, its sorted order)."""

import contextlib
import io

import numpy as np
import pytest

magnipy = pytest.importorskip("magnipy")

from isometry.measure import magnitude_dimension, magnitude_function, weighting_vector  # noqa: E402


def run_magnipy(x, ts):
    with contextlib.redirect_stdout(io.StringIO()):
        m = magnipy.Magnipy(x, ts=np.asarray(ts), method="cholesky")
        weights, _ = m.get_magnitude_weights()
        values, _ = m.get_magnitude()
        dim = m.get_magnitude_dimension()
    return weights, values, dim


@pytest.fixture
def points():
    x = np.random.default_rng(0).normal(size=(400, 6))
    return np.unique(x, axis=0)  # magnipy sorts and de-duplicates rows


@pytest.mark.parametrize("method", ["cholesky", "cg"])
def test_weights_and_function(points, method):
    ts = np.linspace(0, 3.0, 7)
    weights, values, dim = run_magnipy(points, ts)
    fn = magnitude_function(points, ts, method=method)
    np.testing.assert_allclose(fn.values, values, rtol=1e-8)
    for j in (2, 6):
        w = weighting_vector(points, ts[j], method=method)
        np.testing.assert_allclose(w, weights[:, j], rtol=1e-8, atol=1e-8 * np.abs(weights[:, j]).max())
    assert magnitude_dimension(points, ts, method=method) == pytest.approx(dim, rel=1e-8)


def test_duplicates_handled_like_distinct_points(points):
    ts = [0.5, 1.5]
    _, values, _ = run_magnipy(points, ts)
    doubled = np.vstack([points, points[:50]])
    np.testing.assert_allclose(magnitude_function(doubled, ts).values, values, rtol=1e-8)

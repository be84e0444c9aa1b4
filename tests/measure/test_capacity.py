import numpy as np
import pytest

from isometry.errors import InputError
from isometry.measure import manifold_capacity, mmcr_nuclear_norm, utilization
from isometry.measure.capacity import polar_cone_distance


def segments(radius, classes=12, dim=40, seed=0):
    """Two-point manifolds x = c +/- radius * |c| * u, with u orthogonal to c."""
    r = np.random.default_rng(seed)
    q = np.linalg.qr(r.normal(size=(dim, dim)))[0]
    xs, ys = [], []
    for i in range(classes):
        c, u = q[:, 2 * i] * 3, q[:, 2 * i + 1]
        xs += [c + radius * 3 * u, c - radius * 3 * u]
        ys += [i, i]
    x = np.array(xs)
    return x - x.mean(0) + 0.0, np.array(ys)


def test_polar_cone_distance_matches_qp():
    cvxpy = pytest.importorskip("cvxpy")
    r = np.random.default_rng(0)
    s = np.hstack([r.normal(size=(6, 3)), np.ones((6, 1))])
    for _ in range(5):
        t = r.normal(size=4)
        v = cvxpy.Variable(4)
        prob = cvxpy.Problem(cvxpy.Minimize(cvxpy.sum_squares(v - t)), [s @ v >= 0])
        prob.solve()
        assert polar_cone_distance(s, t) == pytest.approx(prob.value, abs=1e-6)


def test_point_manifolds_have_capacity_two():
    r = np.random.default_rng(0)
    c = r.normal(size=(10, 20)) * 4
    y = np.repeat(np.arange(10), 5)
    assert manifold_capacity(c[y], y, n_samples=3000) == pytest.approx(2.0, rel=0.06)


def test_segment_limits():
    # radius -> infinity: lines with a centre, alpha -> 1 / (D + 1/2) = 2/3
    x, y = segments(1e4)
    assert manifold_capacity(x, y, n_samples=3000) == pytest.approx(2 / 3, rel=0.06)
    small, mid = manifold_capacity(*segments(0.01)), manifold_capacity(*segments(1.0))
    assert small > mid > 2 / 3


def test_mmcr_nuclear_norm():
    e = np.eye(4)
    y = np.array([0, 1, 2, 3])
    assert mmcr_nuclear_norm(e, y) == pytest.approx(4.0)
    assert mmcr_nuclear_norm(np.ones((4, 4)), y) == pytest.approx(2.0)  # rank one: ||C||_* = sqrt(4) * 1
    assert mmcr_nuclear_norm(e, np.array(["a", "a", "b", "b"])) == pytest.approx(2 * np.sqrt(0.5))


def test_utilization():
    ref = np.eye(3)
    assert utilization(ref, ref) == 0.0
    q = np.array([[1.0, 1.0, 0.0]])
    assert utilization(q, ref) == pytest.approx(2 - np.sqrt(2))
    with pytest.raises(InputError, match="features"):
        utilization(q[:, :2], ref)


def test_bad_input():
    x = np.random.default_rng(0).normal(size=(6, 3))
    with pytest.raises(InputError, match="distinct class"):
        manifold_capacity(x, np.zeros(6))
    with pytest.raises(InputError, match="entries"):
        mmcr_nuclear_norm(x, [0, 1])
    with pytest.raises(InputError, match="n_samples"):
        manifold_capacity(x, np.arange(6) % 2, n_samples=0)

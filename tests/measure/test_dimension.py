import numpy as np
import pytest

from isometry.errors import InputError
from isometry.measure import intrinsic_dimension, mle_dimension, twonn_dimension


def swiss_roll(n, seed=0):
    r = np.random.default_rng(seed)
    t = r.uniform(1.5 * np.pi, 4.5 * np.pi, n)
    return np.c_[t * np.cos(t), r.uniform(0, 20, n), t * np.sin(t)]


@pytest.mark.parametrize("method", ["twonn", "mle"])
def test_linear_manifolds(method):
    r = np.random.default_rng(0)
    for d in (2, 5):
        basis = np.linalg.qr(r.normal(size=(12, d)))[0]
        x = r.uniform(size=(3000, d)) @ basis.T
        assert intrinsic_dimension(x, method) == pytest.approx(d, rel=0.15)


@pytest.mark.parametrize("method", ["twonn", "mle"])
def test_curved_manifolds(method):
    assert intrinsic_dimension(swiss_roll(3000), method) == pytest.approx(2, rel=0.1)
    r = np.random.default_rng(1)
    s = r.normal(size=(3000, 4))
    s /= np.linalg.norm(s, axis=1, keepdims=True)  # the 3-sphere in R^4
    assert intrinsic_dimension(s, method) == pytest.approx(3, rel=0.12)


def test_twonn_formula():
    x = np.random.default_rng(2).normal(size=(200, 3))
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    srt = np.sort(d, axis=1)
    mu = np.sort(srt[:, 1] / srt[:, 0])[:180]
    xx, yy = np.log(mu), -np.log(1 - np.arange(180) / 200)
    assert twonn_dimension(x) == pytest.approx((xx @ yy) / (xx @ xx), rel=1e-6)
    k = 10
    local = np.log(srt[:, k - 1 : k] / srt[:, : k - 1]).sum(1) / (k - 1)
    assert mle_dimension(x, k=k) == pytest.approx(1 / local.mean(), rel=1e-6)


def test_duplicates_dropped_and_errors():
    x = np.random.default_rng(0).normal(size=(300, 2))
    assert np.isfinite(twonn_dimension(np.vstack([x, x[:10]])))
    with pytest.raises(InputError, match="'method'"):
        intrinsic_dimension(x, "pca")
    with pytest.raises(InputError, match="row"):
        mle_dimension(x[:5], k=20)
    with pytest.raises(InputError, match="duplicate"):
        mle_dimension(np.vstack([x[:30], x[:30]]), k=3)

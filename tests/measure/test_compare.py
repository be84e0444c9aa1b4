import math

import numpy as np
import pytest
import torch

from isometry.errors import InputError
from isometry.measure import classifier_discrepancy, frechet_distance, mmd, prdc


def brute_prdc(real, fake, k):
    drr = np.linalg.norm(real[:, None] - real[None], axis=-1)
    dff = np.linalg.norm(fake[:, None] - fake[None], axis=-1)
    drf = np.linalg.norm(real[:, None] - fake[None], axis=-1)
    rr = np.sort(drr, axis=1)[:, k]
    rf = np.sort(dff, axis=1)[:, k]
    inside = drf < rr[:, None]
    return dict(precision=inside.any(0).mean(), recall=(drf < rf[None]).any(1).mean(),
                density=inside.sum(0).mean() / k, coverage=(drf.min(1) < rr).mean())


def test_prdc_brute_force():
    r = np.random.default_rng(0)
    real, fake = r.normal(size=(150, 4)), r.normal(size=(120, 4)) * 1.2 + 0.3
    got = prdc(real, fake, k=3)
    for key, value in brute_prdc(real, fake, 3).items():
        assert got[key] == pytest.approx(value, abs=1e-12)
    assert prdc(torch.from_numpy(real), torch.from_numpy(fake), k=3) == got


def test_prdc_identical_distributions():
    r = np.random.default_rng(1)
    out = prdc(r.normal(size=(2000, 3)), r.normal(size=(2000, 3)), k=5)
    assert out["density"] == pytest.approx(1.0, abs=0.08)
    assert out["coverage"] == pytest.approx(1 - 2**-5, abs=0.03)


def test_frechet_closed_form():
    r = np.random.default_rng(0)
    a = r.normal(size=(500, 3))
    b = a * 2 + 1  # covariance 4 S, mean shifted
    sa = np.cov(a, rowvar=False)
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(sa) + 4 * np.trace(sa) - 2 * 2 * np.trace(sa)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    scipy_linalg = pytest.importorskip("scipy.linalg")
    c = r.normal(size=(400, 3)) @ r.normal(size=(3, 3))
    sc = np.cov(c, rowvar=False)
    ref = np.sum((a.mean(0) - c.mean(0)) ** 2) + np.trace(sa + sc) - 2 * np.trace(scipy_linalg.sqrtm(sa @ sc)).real
    assert frechet_distance(a, c) == pytest.approx(ref, rel=1e-8)


def test_mmd_brute_force_and_zero():
    r = np.random.default_rng(0)
    a, b = r.normal(size=(40, 2)), r.normal(size=(30, 2)) + 0.5
    g = 1 / (2 * 1.3**2)
    k = lambda x, y: np.exp(-g * ((x[:, None] - y[None]) ** 2).sum(-1))  # noqa: E731
    kaa, kbb = k(a, a), k(b, b)
    ref = ((kaa.sum() - 40) / (40 * 39) + (kbb.sum() - 30) / (30 * 29) - 2 * k(a, b).mean())
    assert mmd(a, b, bandwidth=1.3) == pytest.approx(ref, rel=1e-10)
    same = mmd(r.normal(size=(300, 2)), r.normal(size=(300, 2)))
    assert abs(same) < 0.01 and mmd(a, b + 3) > 0.3


def test_classifier_discrepancy():
    r = np.random.default_rng(0)
    a = r.normal(size=(300, 4))
    assert classifier_discrepancy(a, r.normal(size=(300, 4))) < 0.2
    far = classifier_discrepancy(a, r.normal(size=(300, 4)) + 10)
    assert 0.95 < far <= 1.0
    assert classifier_discrepancy(a, a + 10, seed=1) == pytest.approx(far, abs=0.02)


def test_bad_input():
    a = np.ones((10, 3))
    with pytest.raises(InputError, match="features"):
        frechet_distance(a, np.ones((10, 2)))
    with pytest.raises(InputError, match="row"):
        prdc(a[:3], a, k=5)
    with pytest.raises(InputError, match="NaN"):
        mmd(a, np.full((5, 3), np.nan))
    with pytest.raises(InputError, match="'k'"):
        prdc(a, a, k=0)

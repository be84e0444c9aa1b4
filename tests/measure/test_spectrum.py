import math

import numpy as np
import pytest
import torch

from isometry.errors import InputError
from isometry.measure import effective_rank, matrix_entropy, nuclear_norm, singular_values


def test_effective_rank_isotropic_and_low_rank():
    r = np.random.default_rng(0)
    assert effective_rank(r.normal(size=(20000, 10))) == pytest.approx(10, rel=0.01)
    k = 3
    low = r.normal(size=(5000, k)) @ np.linalg.qr(r.normal(size=(40, k)))[0].T
    assert effective_rank(low) == pytest.approx(k, rel=0.02)
    assert effective_rank(torch.from_numpy(low)) == pytest.approx(effective_rank(low))


def test_effective_rank_definition():
    x = np.random.default_rng(1).normal(size=(50, 6))
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    p = s / s.sum()
    assert effective_rank(x) == pytest.approx(math.exp(-(p * np.log(p)).sum()), rel=1e-9)
    np.testing.assert_allclose(singular_values(x), s, rtol=1e-8)


def test_matrix_entropy_bounds():
    r = np.random.default_rng(0)
    assert matrix_entropy(r.normal(size=(20000, 8))) == pytest.approx(1.0, abs=0.01)
    assert matrix_entropy(np.tile([[1.0, 2.0, 0.0]], (5, 1))) == pytest.approx(0.0, abs=1e-9)


def test_nuclear_norm_and_l12():
    r = np.random.default_rng(0)
    a = r.normal(size=(40, 6))
    u = a / np.linalg.norm(a, axis=1, keepdims=True)
    assert nuclear_norm(a) == pytest.approx(np.linalg.svd(u, compute_uv=False).sum() / 40)
    cols = np.sort(np.linalg.norm(u, axis=0))[::-1][:6]
    assert nuclear_norm(a, approximate=True) == pytest.approx(cols.sum() / 40)
    # orthogonal rows: nuclear norm = L1,2 exactly
    e = np.eye(5)
    assert nuclear_norm(e) == pytest.approx(nuclear_norm(e, approximate=True))
    assert nuclear_norm(np.ones((10, 4))) < nuclear_norm(e)


def test_bad_input():
    with pytest.raises(InputError, match="NaN"):
        effective_rank(np.array([[np.nan, 1.0]]))
    with pytest.raises(InputError, match="2-D"):
        nuclear_norm(np.ones(3))

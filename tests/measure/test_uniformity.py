import math

import numpy as np
import pytest
import torch

from isometry.errors import InputError
from isometry.measure import alignment, class_alignment, uniformity, wasserstein_uniformity


def sphere(n, d, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_uniformity_matches_brute_force():
    x = sphere(60, 5)
    sq = ((x[:, None] - x[None]) ** 2).sum(-1)
    iu = np.triu_indices(60, 1)
    assert uniformity(x, t=2) == pytest.approx(math.log(np.exp(-2 * sq[iu]).mean()), rel=1e-12)
    assert uniformity(torch.from_numpy(x)) == pytest.approx(uniformity(x))


def test_uniformity_orders_spread_and_collapse():
    spread = uniformity(sphere(400, 3))
    collapsed = uniformity(np.ones((50, 3)) + 1e-3 * sphere(50, 3))
    assert collapsed == pytest.approx(0.0, abs=1e-4)
    # uniform on S^2: E exp(-2|x-y|^2) = (1 - e^-8) / 8
    assert spread == pytest.approx(math.log((1 - math.exp(-8)) / 8), abs=0.05)
    assert uniformity(np.array([[1.0, 0.0], [-1.0, 0.0]])) == -8.0


def test_alignment():
    a = sphere(20, 4)
    assert alignment(a, a) == 0.0
    assert alignment(a, -a) == pytest.approx(4.0)
    assert alignment(a, -a, alpha=1) == pytest.approx(2.0)
    with pytest.raises(InputError, match="rows must pair"):
        alignment(a, a[:5])


def test_class_alignment_brute_force():
    x, y = sphere(30, 3), np.arange(30) % 3
    ref = np.mean([np.sum((x[i] - x[j]) ** 2) for i in range(30) for j in range(i + 1, 30) if y[i] == y[j]])
    assert class_alignment(x, y) == pytest.approx(ref)
    with pytest.raises(InputError, match="at least two samples"):
        class_alignment(x[:3], [0, 1, 2])
    with pytest.raises(InputError, match="entries"):
        class_alignment(x, y[:4])


def test_wasserstein_uniformity_detects_dimensional_collapse():
    d = 32
    full = wasserstein_uniformity(sphere(20000, d))
    low = sphere(20000, 4) @ np.eye(4, d)  # on the sphere but in 4 of 32 dimensions
    assert full < 0.05
    assert wasserstein_uniformity(low) > 0.5
    assert wasserstein_uniformity(np.tile([[1.0] + [0.0] * (d - 1)], (10, 1))) == pytest.approx(math.sqrt(2))


def test_bad_input():
    with pytest.raises(InputError, match="at least 2"):
        uniformity(np.ones((1, 3)))
    with pytest.raises(InputError, match="NaN"):
        wasserstein_uniformity(np.array([[np.inf, 1.0], [1.0, 1.0]]))
    with pytest.raises(InputError, match="'t'"):
        uniformity(sphere(5, 2), t=0)

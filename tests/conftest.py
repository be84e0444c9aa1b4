"""Shared fixtures: seeded data and peers made to run on this scikit-learn."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

# Tests run 2 workers on 2 cores: one thread each keeps them from fighting.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _seeded_global_rngs():
    """Every test starts from the same global torch / numpy state, whatever ran before it
    on its worker (modules that draw their initial parameters, e.g. proxies, stay
    deterministic under pytest-xdist)."""
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def clustered(n: int = 300, d: int = 16, classes: int = 10, *, spread: float = 0.6, seed: int = 0,
              dtype=np.float32, sizes=None):
    """Gaussian blobs: ``n`` points, ``classes`` centres on a unit-variance grid; returns (X, y)."""
    r = np.random.default_rng(seed)
    centres = r.normal(size=(classes, d))
    if sizes is None:
        y = r.integers(0, classes, n)
    else:
        y = np.repeat(np.arange(len(sizes)), sizes)
        r.shuffle(y)
    X = centres[y] + spread * r.normal(size=(len(y), d))
    return X.astype(dtype), y


@pytest.fixture
def blobs():
    return clustered()

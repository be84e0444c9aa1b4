"""LFDA: scatter matrices against the paper's pairwise sums, embeddings, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import clustered
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from isometry.errors import InputError
from isometry.learn import LFDA
from isometry.learn.lfda import local_fisher_scatter


def _scatter_by_pairs(X, y, k):
    """The paper's definition, one pair at a time."""
    n, d = X.shape
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    sigma = np.zeros(n)
    for i in range(n):
        same = np.flatnonzero((y == y[i]) & (np.arange(n) != i))
        kk = min(k, len(same))
        sigma[i] = np.sort(D[i, same])[kk - 1] if kk else 0.0
    Sw, Sb = np.zeros((d, d)), np.zeros((d, d))
    for i in range(n):
        for j in range(n):
            diff = np.outer(X[i] - X[j], X[i] - X[j])
            if y[i] == y[j]:
                nc = np.sum(y == y[i])
                A = np.exp(-D[i, j] ** 2 / (sigma[i] * sigma[j])) if sigma[i] * sigma[j] > 0 else 0.0
                Sw += 0.5 * A / nc * diff
                Sb += 0.5 * A * (1 / n - 1 / nc) * diff
            else:
                Sb += 0.5 / n * diff
    return Sb, Sw


def test_scatter_matches_pairwise_definition():
    X, y = clustered(40, 3, 3, dtype=np.float64, seed=1)
    Sb, Sw = local_fisher_scatter(X, y, 3)
    Sb_ref, Sw_ref = _scatter_by_pairs(X, y, 3)
    assert np.allclose(Sw, Sw_ref, atol=1e-10)
    assert np.allclose(Sb, Sb_ref, atol=1e-10)


def test_embedding_types():
    X, y = clustered(120, 5, 3, dtype=np.float64)
    Sb, Sw = local_fisher_scatter(X, y, 3)
    plain = LFDA(k=3, embedding_type="plain").fit(X, y).components_
    assert np.allclose(plain @ Sw @ plain.T, np.eye(5), atol=1e-6)
    ortho = LFDA(k=3, embedding_type="orthonormalized", n_components=3).fit(X, y).components_
    assert np.allclose(ortho @ ortho.T, np.eye(3), atol=1e-10)
    model = LFDA(k=3).fit(X, y)
    lam = np.clip(model.eigenvalues_, 0, None)
    assert np.allclose(model.components_, np.sqrt(lam)[:, None] * plain, atol=1e-6)
    assert np.all(np.diff(model.eigenvalues_) <= 1e-12)


def test_multimodal_class_is_kept_apart():
    """LFDA keeps a class's two modes (plain LDA would merge them)."""
    rng = np.random.default_rng(0)
    a = np.r_[rng.normal([-4, 0], 0.3, (50, 2)), rng.normal([4, 0], 0.3, (50, 2))]
    b = rng.normal([0, 1.5], 0.3, (100, 2))
    X, y = np.r_[a, b], np.r_[np.zeros(100), np.ones(100)]
    Z = LFDA(n_components=1, k=1).fit(X, y).transform(X)
    acc = KNeighborsClassifier(3).fit(Z, y).score(Z, y)
    assert acc > 0.95


def test_pipeline_and_default_k():
    X, y = clustered(200, 8, 4, dtype=np.float64)
    pipe = make_pipeline(LFDA(n_components=3), KNeighborsClassifier(3)).fit(X, y)
    assert pipe.score(X, y) > 0.9


def test_large_k_warns():
    """metric-learn's rule, kept: k is capped at n_features - 1."""
    X, y = clustered(60, 3, 2, dtype=np.float64)
    with pytest.warns(UserWarning, match="too large"):
        LFDA(k=10).fit(X, y)


def test_singleton_class_is_handled():
    X, y = clustered(30, 3, 2, dtype=np.float64)
    y = y.copy()
    y[0] = 5
    assert np.isfinite(LFDA(k=2).fit(X, y).components_).all()


def test_bad_input(rng):
    X = rng.normal(size=(20, 3))
    with pytest.raises(InputError, match="embedding_type"):
        LFDA(embedding_type="fancy").fit(X, np.arange(20) % 2)
    with pytest.raises(InputError, match="1 class"):
        LFDA().fit(X, np.zeros(20))
    with pytest.raises(InputError, match="n_components"):
        LFDA(n_components=5).fit(X, np.arange(20) % 2)
    with pytest.raises(InputError, match="'k'"):
        LFDA(k=0).fit(X, np.arange(20) % 2)
    X[2, 0] = np.inf
    with pytest.raises(InputError, match="infinity|inf"):
        LFDA().fit(X, np.arange(20) % 2)

"""SCML / SCML_Supervised: bases, sparse weights, triplet API, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import clustered
from sklearn.neighbors import KNeighborsClassifier

from isometry.errors import InputError
from isometry.learn import SCML, SCML_Supervised
from isometry.learn.scml import lda_basis, scml_weights, triplet_diff_basis


def _triplets(n=200, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 2))
    b = a + [0.0, 3.0] * rng.normal(size=(n, 2))  # positives differ along feature 1
    c = a + [3.0, 0.0] * rng.normal(size=(n, 2))  # negatives differ along feature 0
    return np.stack([a, b, c], axis=1)


def test_scml_learns_the_discriminative_feature():
    T = _triplets()
    model = SCML(n_basis=20, max_iter=2000, random_state=0).fit(T)
    M = model.get_mahalanobis_matrix()
    assert M[0, 0] > 3 * M[1, 1]
    assert model.score(T) > 0.8
    assert set(np.unique(model.predict(T))) <= {-1, 1}


def test_index_triplets_through_preprocessor():
    T = _triplets(100)
    points = T.reshape(-1, 2)
    idx = np.arange(len(points)).reshape(-1, 3)
    a = SCML(n_basis=10, max_iter=500, random_state=0, preprocessor=points).fit(idx).components_
    b = SCML(n_basis=10, max_iter=500, random_state=0).fit(T).components_
    assert np.allclose(a, b)


def test_triplet_diff_basis_unit_rows():
    T = _triplets(50)
    B = triplet_diff_basis(T, 15, 0)
    assert B.shape == (15, 2) and np.allclose(np.linalg.norm(B, axis=1), 1.0)
    with pytest.raises(InputError, match="n_features"):
        triplet_diff_basis(T[:1], 5, 0)


def test_weights_are_sparse_and_nonnegative():
    T = _triplets(100)
    B = np.r_[np.eye(2), np.ones((1, 2)) / np.sqrt(2)]
    w, _ = scml_weights(T, B, beta=1e-3, max_iter=1000, random_state=0)
    assert w.min() >= 0 and w[0] > 0 and w[1] == 0.0


def test_supervised_improves_knn():
    X, y = clustered(300, 8, 4, spread=1.2, dtype=np.float64, seed=2)
    X = np.c_[X, 4.0 * np.random.default_rng(0).normal(size=(300, 4))]  # loud noise features
    Xtr, ytr, Xte, yte = X[:150], y[:150], X[150:], y[150:]
    model = SCML_Supervised(max_iter=3000, random_state=0).fit(Xtr, ytr)
    base = KNeighborsClassifier(3).fit(Xtr, ytr).score(Xte, yte)
    acc = KNeighborsClassifier(3).fit(model.transform(Xtr), ytr).score(model.transform(Xte), yte)
    assert acc >= base


def test_lda_basis_and_gamma_matter():
    X, y = clustered(120, 4, 3, dtype=np.float64)
    B = lda_basis(X, y, None, 0)
    assert B.shape[1] == 4 and np.allclose(np.linalg.norm(B, axis=1), 1.0)
    a = SCML_Supervised(max_iter=500, gamma=5e-3, random_state=0).fit(X, y).components_
    b = SCML_Supervised(max_iter=500, gamma=1.0, random_state=0).fit(X, y).components_
    assert not np.allclose(a.T @ a, b.T @ b)  # metric-learn ignores gamma here


def test_given_basis():
    X, y = clustered(100, 3, 2, dtype=np.float64)
    model = SCML_Supervised(basis=np.eye(3), max_iter=300, random_state=0).fit(X, y)
    assert model.components_.shape[1] == 3


def test_bad_input():
    X, y = clustered(40, 3, 2, dtype=np.float64)
    with pytest.raises(InputError, match="basis"):
        SCML_Supervised(basis=np.eye(2)).fit(X, y)
    with pytest.raises(InputError, match="1 class"):
        SCML_Supervised().fit(X, np.zeros(40))
    with pytest.raises(InputError, match="at least 2 samples"):
        SCML_Supervised().fit(X, np.r_[np.zeros(39), 1])
    with pytest.raises(InputError, match="basis"):
        SCML(basis="lda").fit(_triplets(20))
    with pytest.raises(InputError, match="triplets"):
        SCML().fit(X)
    with pytest.raises(InputError, match="batch_size"):
        SCML(batch_size=0).fit(_triplets(20))
    T = _triplets(20)
    T[3, 1, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        SCML().fit(T)

"""RCA / RCA_Supervised: whitening of chunklet scatter, reduction, singular cases, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import clustered
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from isometry.errors import InputError
from isometry.learn import RCA, RCA_Supervised
from isometry.learn.rca import within_chunk_covariance


def _chunked(rng, n_chunks=40, size=3, d=4):
    centres = rng.normal(size=(n_chunks, d)) * 5
    X = np.repeat(centres, size, axis=0) + rng.normal(size=(n_chunks * size, d)) * [1.0, 0.2, 3.0, 0.5]
    return X, np.repeat(np.arange(n_chunks), size)


def test_within_chunk_covariance_matches_loop(rng):
    X, chunks = _chunked(rng)
    chunks[:3] = -1
    C, mask, shrunk = within_chunk_covariance(X, chunks)
    assert not shrunk
    rows = []
    for c in np.unique(chunks[chunks >= 0]):
        part = X[chunks == c]
        rows.append(part - part.mean(0))
    centred = np.vstack(rows)
    assert np.allclose(C, centred.T @ centred / len(centred))
    assert mask.sum() == len(centred)


def test_rca_whitens_chunk_scatter(rng):
    X, chunks = _chunked(rng)
    L = RCA().fit(X, chunks).components_
    C, _, _ = within_chunk_covariance(X, chunks)
    assert np.allclose(L @ C @ L.T, np.eye(4), atol=1e-8)


def test_chunks_keyword_and_reduction(rng):
    X, chunks = _chunked(rng)
    a = RCA().fit(X, chunks=chunks).get_mahalanobis_matrix()
    b = RCA().fit(X, chunks).get_mahalanobis_matrix()
    assert np.allclose(a, b)
    low = RCA(n_components=2).fit(X, chunks)
    assert low.transform(X).shape == (len(X), 2)
    # The kept directions are the low-noise ones (features 1 and 3).
    weight = np.abs(low.components_).sum(0)
    assert weight[1] + weight[3] > weight[0] + weight[2]


def test_singular_scatter_stays_finite(rng):
    X, chunks = _chunked(rng)
    X = np.c_[X, np.zeros(len(X))]  # a feature without variance
    with pytest.warns(UserWarning, match="Ledoit-Wolf"):
        M = RCA().fit(X, chunks).get_mahalanobis_matrix()
    assert np.isfinite(M).all()
    C, _, shrunk = within_chunk_covariance(X, chunks, shrink_if_singular=True)
    assert shrunk and np.linalg.eigvalsh(C).min() > 0


def test_supervised_string_labels_and_gridsearch():
    X, y = clustered(300, 6, 3, spread=0.8, dtype=np.float64)
    labels = np.array(["a", "b", "c"])[y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pipe = Pipeline([("rca", RCA_Supervised(random_state=0)), ("knn", KNeighborsClassifier(3))])
        search = GridSearchCV(pipe, {"rca__n_chunks": [20, 60]}, cv=2).fit(X, labels)
    assert search.best_score_ > 0.8


def test_supervised_is_seeded():
    X, y = clustered(200, 5, 4, dtype=np.float64)
    a = RCA_Supervised(n_chunks=30, random_state=3).fit(X, y).components_
    b = RCA_Supervised(n_chunks=30, random_state=3).fit(X, y).components_
    assert np.array_equal(a, b)


def test_supervised_too_many_chunks_warns():
    X, y = clustered(30, 3, 3, dtype=np.float64)
    with pytest.warns(UserWarning, match="chunklets"):
        RCA_Supervised(n_chunks=100, random_state=0).fit(X, y)


@pytest.mark.parametrize("chunks, match", [
    (-np.ones(6, dtype=int), "chunklet of 2"),
    (np.arange(6), "chunklet of 2"),
    (np.array([0.5, 0, 1, 1, 2, 2]), "integers"),
    (np.array([0, 0, 1]), "inconsistent|samples"),
])
def test_rca_bad_chunks(chunks, match, rng):
    with pytest.raises(InputError, match=match):
        RCA().fit(rng.normal(size=(6, 2)), chunks)


def test_rca_needs_chunks(rng):
    with pytest.raises(InputError, match="requires y"):
        RCA().fit(rng.normal(size=(6, 2)))


def test_supervised_bad_input(rng):
    X = rng.normal(size=(10, 2))
    with pytest.raises(InputError, match="1 class"):
        RCA_Supervised().fit(X, np.zeros(10))
    X[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        RCA_Supervised().fit(X, np.arange(10) % 2)
    with pytest.raises(InputError, match="chunk_size"):
        RCA_Supervised(chunk_size=1).fit(rng.normal(size=(10, 2)), np.arange(10) % 2)

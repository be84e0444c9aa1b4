"""Covariance: inverse-covariance metric, validation, scikit-learn composition."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from isometry.errors import InputError
from isometry.learn import Covariance


def test_metric_is_inverse_covariance(rng):
    X = rng.normal(size=(200, 4)) @ rng.normal(size=(4, 4))
    M = Covariance().fit(X).get_mahalanobis_matrix()
    assert np.allclose(M, np.linalg.inv(np.cov(X, rowvar=False)), rtol=1e-8, atol=1e-10)


def test_transform_whitens(rng):
    X = rng.normal(size=(500, 3)) * [1.0, 10.0, 0.1]
    Z = Covariance().fit(X).transform(X)
    assert np.allclose(np.cov(Z, rowvar=False), np.eye(3), atol=1e-8)


def test_constant_feature_gives_zero_weight(rng):
    X = np.c_[rng.normal(size=(50, 2)), np.ones(50)]
    M = Covariance().fit(X).get_mahalanobis_matrix()
    assert np.isfinite(M).all() and np.allclose(M[2], 0.0, atol=1e-10)


def test_one_feature(rng):
    X = rng.normal(size=(40, 1)) * 3.0
    M = Covariance().fit(X).get_mahalanobis_matrix()
    assert M.shape == (1, 1) and M[0, 0] == pytest.approx(1.0 / np.var(X, ddof=1))


def test_pipeline(blobs):
    X, y = blobs
    acc = make_pipeline(Covariance(), KNeighborsClassifier(3)).fit(X, y).score(X, y)
    assert acc > 0.5


@pytest.mark.parametrize("bad, match", [
    (np.array([[1.0, 2.0]]), "1 sample"),
    (np.array([[1.0, np.nan], [2.0, 3.0], [0.0, 1.0]]), "NaN"),
    (np.zeros((0, 3)), "0 sample"),
    (np.zeros(5), "2D array"),
])
def test_bad_input(bad, match):
    with pytest.raises(InputError, match=match):
        Covariance().fit(bad)

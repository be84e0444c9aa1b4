"""Inner solvers of the learners against plain references."""

import numpy as np
from sklearn.covariance import graphical_lasso as sk_graphical_lasso

from isometry.learn.constraints import _first_occurrences
from isometry.learn.sdml import graphical_lasso, graphical_lasso_admm
from isometry.learn._weak import pair_differences, signed_scatter


def _spd(d, seed, spread=1.0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d))
    return np.eye(d) + spread * (A @ A.T) / d


def test_graphical_lasso_matches_scikit_learn_and_admm():
    S = _spd(12, 0)
    P, n_iter = graphical_lasso(S, 0.05, tol=1e-10)
    assert P is not None and 0 < n_iter < 500
    cov, ref = sk_graphical_lasso(S, 0.05, tol=1e-10, enet_tol=1e-10, max_iter=1000)
    np.testing.assert_allclose(P, ref, atol=1e-5)
    admm, _ = graphical_lasso_admm(S, 0.05, tol=1e-10, max_iter=20000)
    np.testing.assert_allclose(P, admm, atol=1e-6)
    assert (P[np.abs(ref) < 1e-12] == 0).all()  # exact zeros where the optimum is sparse


def test_graphical_lasso_reports_failure_instead_of_a_bad_answer():
    S = _spd(6, 1)
    S[0, 1] = S[1, 0] = 10.0  # indefinite
    assert graphical_lasso(S, 0.01)[0] is None
    ill = _spd(8, 2, spread=1e9)
    P, _ = graphical_lasso(ill, 0.01, max_iter=3)
    assert P is None


def test_signed_scatter_equals_sum_of_signed_outer_products():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    for n_pairs in (5, 300):  # difference GEMM and graph Laplacian paths
        abcd = tuple(rng.integers(0, 40, n_pairs) for _ in range(4))
        diff, y, _ = pair_differences(X, abcd)
        np.testing.assert_allclose(signed_scatter(X, abcd), diff.T @ (diff * y[:, None]), atol=1e-10)


def test_first_occurrences_equals_numpy_unique():
    rng = np.random.default_rng(0)
    for size, high in ((1, 3), (50, 10), (4000, 3000)):
        keys = rng.integers(0, high, size)
        np.testing.assert_array_equal(_first_occurrences(keys), np.sort(np.unique(keys, return_index=True)[1]))
    big = np.array([2**62, 5, 2**62])  # composite key would overflow: numpy's path
    np.testing.assert_array_equal(_first_occurrences(big), [0, 1])

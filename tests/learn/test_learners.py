"""Behaviour of the learners: quality on small data, bad input, pipelines, tuple input."""

import numpy as np
import pytest
from sklearn.datasets import load_iris, load_wine
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from isometry.errors import InputError
from isometry.learn import (ITML, ITML_Supervised, LMNN, LSML, LSML_Supervised, MMC, MMC_Supervised, NCA, SDML,
                            SDML_Supervised, Constraints, wrap_pairs)
from isometry.learn.lmnn import find_impostors
from isometry.learn.nca import nca_loss_grad

SUPERVISED = [
    LMNN(max_iter=50), NCA(max_iter=50), ITML_Supervised(random_state=0), LSML_Supervised(random_state=0),
    SDML_Supervised(random_state=0),
    MMC_Supervised(random_state=0),
]


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)


def _knn(Xtr, ytr, Xte, yte):
    return KNeighborsClassifier(3).fit(Xtr, ytr).score(Xte, yte)


@pytest.mark.parametrize("est", SUPERVISED, ids=lambda e: type(e).__name__)
def test_beats_or_matches_euclidean_on_wine(est, wine):
    Xtr, Xte, ytr, yte = wine
    est.fit(Xtr, ytr)
    base = _knn(Xtr, ytr, Xte, yte)
    learned = _knn(est.transform(Xtr), ytr, est.transform(Xte), yte)
    assert learned >= base - 0.02
    M = est.get_mahalanobis_matrix()
    assert np.allclose(M, M.T) and np.linalg.eigvalsh(M).min() > -1e-8
    d = est.pair_distance(np.stack([Xte[:5], Xte[5:10]], axis=1))
    assert np.allclose(d, np.linalg.norm(est.transform(Xte[:5]) - est.transform(Xte[5:10]), axis=1))
    assert np.allclose(est.pair_score(np.stack([Xte[:5], Xte[5:10]], axis=1)), -d)
    metric = est.get_metric()
    assert np.isclose(metric(Xte[0], Xte[5]), d[0])


@pytest.mark.parametrize("est", [p.values[0] if hasattr(p, "values") else p for p in SUPERVISED],
                         ids=lambda e: type(e).__name__)
def test_bad_input(est):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(InputError, match="class"):
        est.fit(X[:20], np.zeros(20))
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        est.fit(Xn, y)
    with pytest.raises(InputError):
        est.fit(X, y[:-1])


def test_lmnn_fewer_samples_than_neighbours():
    X, y = load_iris(return_X_y=True)
    keep = np.r_[0:3, 50:100, 100:150]
    with pytest.raises(InputError, match="at least 4 samples"):
        LMNN(n_neighbors=3).fit(X[keep], y[keep])


def test_string_labels_and_pipeline_gridsearch():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    pipe = make_pipeline(StandardScaler(), NCA(max_iter=10), KNeighborsClassifier(3))
    search = GridSearchCV(pipe, {"nca__n_components": [2, 4]}, cv=3).fit(X, names)
    assert search.best_score_ > 0.9


def test_impostors_exact_against_brute_force():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(80, 4))
    codes = rng.integers(0, 3, 80)
    radius = rng.uniform(0.5, 6.0, 80)
    i, l, _ = find_impostors(Z, codes, radius, start_k=2, method="knn")
    i2, l2, _ = find_impostors(Z, codes, radius, budget=2000)
    assert set(zip(i2.tolist(), l2.tolist())) == set(zip(i.tolist(), l.tolist()))
    d2 = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    bi, bl = np.nonzero((d2 < radius[:, None]) & (codes[:, None] != codes[None]))
    assert set(zip(i.tolist(), l.tolist())) == set(zip(bi.tolist(), bl.tolist()))


def test_nca_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    X, y, L = rng.normal(size=(30, 4)), rng.integers(0, 3, 30), rng.normal(size=(2, 4))
    v, g = nca_loss_grad(L, X, y, budget=2000)
    eps = 1e-6
    E = np.zeros_like(L)
    E[1, 2] = eps
    num = (nca_loss_grad(L + E, X, y)[0] - nca_loss_grad(L - E, X, y)[0]) / (2 * eps)
    assert np.isclose(num, g[1, 2], rtol=1e-5)


def test_nca_whole_matrix_and_blocked_paths_agree():
    # unsorted string-free labels with a class of one sample; blocks cut through classes
    rng = np.random.default_rng(2)
    X, y, L = rng.normal(size=(70, 5)), rng.integers(0, 4, 70), rng.normal(size=(3, 5))
    y[5] = 9
    v_full, g_full = nca_loss_grad(L, X, y)
    v_block, g_block = nca_loss_grad(L, X, y, budget=16 * 24 * 70)
    assert np.isclose(v_full, v_block, rtol=1e-12)
    np.testing.assert_allclose(g_full, g_block, rtol=1e-10, atol=1e-12)
    # brute force: sum_i sum_{j same, j != i} softmax_j(-d2_ij)
    Z = X @ L.T
    d2 = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    P = np.exp(-d2 - np.log(np.exp(-d2).sum(1, keepdims=True)))
    assert np.isclose(v_full, (P * (y[:, None] == y[None])).sum(), rtol=1e-12)


@pytest.fixture(scope="module")
def wine_pairs(wine):
    Xtr, _, ytr, _ = wine
    abcd = Constraints(ytr).positive_negative_pairs(40, same_length=True, random_state=0)
    return Xtr, abcd


@pytest.mark.parametrize("cls", [ITML, SDML, MMC])
def test_pair_learners(cls, wine_pairs):
    X, abcd = wine_pairs
    pairs, y = wrap_pairs(X, abcd)
    est = cls(balance_param=1e-3) if cls is SDML else cls()
    est.fit(pairs, y)
    assert est.score(pairs, y) > 0.8
    pred = est.predict(pairs)
    assert set(np.unique(pred)) <= {-1, 1} and (pred == y).mean() > 0.7
    index_pairs = np.column_stack(abcd[:2])
    est2 = (cls(balance_param=1e-3) if cls is SDML else cls()).set_params(preprocessor=X)
    est2.fit(np.r_[index_pairs, np.column_stack(abcd[2:])], y)
    assert np.allclose(est2.get_mahalanobis_matrix(), est.get_mahalanobis_matrix())
    with pytest.raises(InputError, match="shape"):
        cls().fit(pairs[:, :, 0], y)
    with pytest.raises(InputError, match=r"\+1"):
        cls().fit(pairs, np.zeros(len(y)))
    with pytest.raises(InputError, match="entries"):
        cls().fit(pairs, y[:-1])
    with pytest.raises(InputError, match="features"):
        est.pair_distance(pairs[:, :, :3])


def test_lsml_quadruplets(wine_pairs):
    X, abcd = wine_pairs
    quads = X[np.column_stack(abcd)]
    est = LSML().fit(quads)
    assert est.score(quads) >= 0.9
    with pytest.raises(InputError, match="shape"):
        LSML().fit(quads[:, :3])
    with pytest.raises(InputError, match="weights"):
        LSML().fit(quads, weights=np.ones(3))


def test_calibrated_threshold_and_parameter_errors(wine_pairs):
    X, abcd = wine_pairs
    pairs, y = wrap_pairs(X, abcd)
    est = ITML().fit(pairs, y)
    with pytest.raises(InputError, match="strategy"):
        est.calibrate_threshold(pairs, y, strategy="f_beta")
    with pytest.raises(InputError, match="gamma"):
        ITML(gamma=-1).fit(pairs, y)
    with pytest.raises(InputError, match="prior"):
        ITML(prior="nope").fit(pairs, y)
    with pytest.raises(InputError, match="n_components"):
        NCA(n_components=99).fit(X, np.arange(len(X)) % 2)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)


@pytest.mark.parametrize("est", [LSML_Supervised(random_state=0), SDML_Supervised(random_state=0),
                                 MMC_Supervised(random_state=0)], ids=lambda e: type(e).__name__)
def test_defaults_match_or_beat_euclidean_on_digits(est, digits):
    # isometry's defaults for SDML (balance_param="auto") and MMC_Supervised (diagonal,
    # >= 5000 pairs) were chosen for this; metric-learn's lose to Euclidean here
    Xtr, Xte, ytr, yte = digits
    est.fit(Xtr, ytr)
    assert _knn(est.transform(Xtr), ytr, est.transform(Xte), yte) >= _knn(Xtr, ytr, Xte, yte)


def test_sdml_auto_balance_keeps_the_matrix_positive_definite(wine):
    from isometry.learn.sdml import auto_balance

    Xtr, _, ytr, _ = wine
    a, b, c, d = Constraints(ytr).positive_negative_pairs(100, random_state=0)
    K = (Xtr[a] - Xtr[b]).T @ (Xtr[a] - Xtr[b]) - (Xtr[c] - Xtr[d]).T @ (Xtr[c] - Xtr[d])
    P0 = np.eye(Xtr.shape[1])
    beta = auto_balance(P0, K)
    assert np.linalg.eigvalsh(P0 + beta * K).min() > 0
    assert np.linalg.eigvalsh(P0 + 2.0 * beta * K).min() == pytest.approx(0.0, abs=1e-8)
    est = SDML_Supervised(random_state=0).fit(Xtr, ytr)
    assert 0 < est.balance_param_ < 0.5


def test_mmc_full_meets_the_similarity_bound(wine_pairs):
    from isometry.learn.mmc import mmc_full, mmc_objective

    X, (a, b, c, d) = wine_pairs
    pos, neg = X[a] - X[b], X[c] - X[d]
    A, n_iter, converged = mmc_full(pos, neg, np.eye(X.shape[1]), max_iter=200, tol=1e-10)
    far, near = mmc_objective(pos, neg, A)
    assert near == pytest.approx((pos * pos).sum() / 100.0, rel=1e-6) and n_iter >= 1
    far0, near0 = mmc_objective(pos, neg, np.eye(X.shape[1]))
    assert far / np.sqrt(near) > far0 / np.sqrt(near0)

"""The symmetric self k-NN search (isometry.distances._selfsearch) against brute force and faiss."""

import numpy as np
import pytest

from isometry.distances import _selfsearch, knn, pairwise
from isometry.evaluate import retrieval

built = pytest.mark.skipif(_selfsearch._library() is None, reason="C extension not built")


@pytest.fixture
def forced(monkeypatch):
    """Use the symmetric search at any size."""
    monkeypatch.setattr(_selfsearch, "MIN_ROWS", 0)
    return monkeypatch


def _used(monkeypatch):
    calls = []
    original = _selfsearch.SelfSearch.rows

    def rows(self, start, stop, k):
        calls.append((start, stop))
        return original(self, start, stop, k)

    monkeypatch.setattr(_selfsearch.SelfSearch, "rows", rows)
    return calls


def _check_exact(x, res, k, distance):
    """Distances equal float64 brute force (to float32 rounding); indices are each row's
    nearest others, sorted, ties by index except a tie group cut by the k-th place."""
    d = pairwise(x.astype(np.float64), x.astype(np.float64), distance)
    np.fill_diagonal(d, np.inf)
    want = np.sort(d, axis=1)[:, :k]
    got = np.take_along_axis(d, res.indices, axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(res.distances, want, rtol=1e-4, atol=1e-4)
    assert not (res.indices == np.arange(len(x))[:, None]).any()
    for row, dist in zip(res.indices, got):
        last = dist[-1]
        inner = dist < last  # before the tie group at the k-th place, ties run by index
        order = np.lexsort((row[inner], dist[inner]))
        assert (order == np.arange(inner.sum())).all()


@built
def test_integer_data_exact_with_ties(forced, rng):
    """Integer coordinates: float32 distances are exact, so every tie is a true tie."""
    calls = _used(forced)
    x = rng.integers(0, 6, size=(2500, 3)).astype(np.float32)
    res = knn(x, k=40, distance="sqeuclidean")
    assert calls, "the symmetric search was not used"
    _check_exact(x, res, 40, "sqeuclidean")


@built
@pytest.mark.parametrize("distance", ["euclidean", "sqeuclidean", "cosine", "cosine_similarity"])
def test_matches_brute_force_and_faiss(forced, rng, distance):
    calls = _used(forced)
    x = rng.normal(size=(3000, 12)).astype(np.float32)
    res = knn(x, k=30, distance=distance)
    assert calls
    d = pairwise(x.astype(np.float64), x.astype(np.float64), distance)
    if distance == "cosine_similarity":
        d = -d
    np.fill_diagonal(d, np.inf)
    np.testing.assert_allclose(np.take_along_axis(d, res.indices, 1), np.sort(d, axis=1)[:, :30], rtol=1e-5,
                               atol=1e-5)
    ref = knn(x, k=30, distance=distance, backend="faiss")
    same = (res.indices == ref.indices).all(axis=1)
    assert same.mean() > 0.99  # the rest: two distances equal to float32 rounding
    np.testing.assert_allclose(res.distances, ref.distances, rtol=1e-5, atol=1e-5)


@built
def test_rows_below_their_pilot_are_searched_again(forced, rng):
    """A pilot far too low leaves most rows short of k entries: the exact re-search fills them."""
    forced.setattr(_selfsearch, "SIGMAS", -50.0)
    x = rng.normal(size=(2000, 8)).astype(np.float32)
    res = knn(x, k=25, distance="sqeuclidean")
    _check_exact(x, res, 25, "sqeuclidean")


@built
def test_full_reservoirs_keep_the_k_smallest(forced, rng):
    """Few slots and a loose pilot: reservoirs fill and are cut to k many times."""
    forced.setattr(_selfsearch, "CAPACITY", 1.0)
    forced.setattr(_selfsearch, "SIGMAS", 40.0)
    x = rng.normal(size=(2000, 8)).astype(np.float32)
    res = knn(x, k=25, distance="euclidean")
    _check_exact(x, res, 25, "euclidean")


@built
def test_duplicates_find_each_other_not_themselves(forced, rng):
    x = rng.normal(size=(1500, 6)).astype(np.float32)
    x[750:] = x[:750]
    res = knn(x, k=3)
    i = np.arange(750)
    assert (res.indices[i, 0] == i + 750).all() and (res.indices[i + 750, 0] == i).all()
    # |x|^2 + |y|^2 - 2 x.y in float32 (faiss's formula too, above 20 queries): zero up to rounding
    assert res.distances[:, 0].max() < 1e-2 < res.distances[:, 1].min()


@built
def test_not_used_when_it_does_not_apply(forced, rng):
    calls = _used(forced)
    x = rng.normal(size=(1200, 8)).astype(np.float32)
    knn(x, k=5, distance="dot")  # not a metric
    knn(x[:100], x, k=5)  # queries are not the references
    knn(x, k=5, backend="faiss")  # faiss asked for
    knn(x.astype(np.float64), k=5)  # float64: torch path
    knn(x, k=5, budget=1000)  # lists beyond the budget
    knn(x, k=900)  # k too large for the pilot
    assert not calls
    forced.setattr(_selfsearch, "_library", lambda: None)  # extension missing
    res = knn(x, k=5)
    assert not calls
    _check_exact(x, res, 5, "euclidean")


@built
def test_retrieval_numbers_equal_faiss_path(forced, rng):
    centres = rng.normal(size=(20, 16))
    y = rng.integers(0, 20, 3000)
    x = (centres[y] + 0.8 * rng.normal(size=(3000, 16))).astype(np.float32)
    keys = ["precision_at_1", "r_precision", "mean_average_precision_at_r", "mean_average_precision",
            "mean_reciprocal_rank", "recall_at_4"]
    calls = _used(forced)
    ours = retrieval(x, y, metrics=keys)
    assert calls
    theirs = retrieval(x, y, metrics=keys, backend="faiss")
    for key in keys:
        assert ours[key] == pytest.approx(theirs[key], abs=1e-6), key

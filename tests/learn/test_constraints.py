import numpy as np
import pytest

from isometry.errors import InputError
from isometry.learn import Constraints, wrap_pairs


def test_pairs_respect_labels_and_are_distinct():
    y = np.repeat([0, 1, 2], [5, 4, 3])
    a, b, c, d = Constraints(y).positive_negative_pairs(20, random_state=0)
    assert len(a) == 20 and len(c) == 20
    assert (y[a] == y[b]).all() and (a != b).all() and (y[c] != y[d]).all()
    assert len(set(zip(a, b))) == 20 and len(set(zip(c, d))) == 20


def test_pairs_seeded_and_string_labels():
    y = np.array(["x", "y", "x", "y", "x", "y"])
    r1 = Constraints(y).positive_negative_pairs(3, random_state=1)
    r2 = Constraints(y).positive_negative_pairs(3, random_state=1)
    assert all((p == q).all() for p, q in zip(r1, r2))


def test_unknown_labels_are_never_drawn():
    y = np.array([0, 0, 1, 1, -1, -1])
    a, b, c, d = Constraints(y).positive_negative_pairs(4, random_state=0)
    assert not np.isin(np.r_[a, b, c, d], [4, 5]).any()


def test_too_few_pairs_warns_and_same_length():
    y = np.array([0, 0, 1, 1])
    with pytest.warns(UserWarning, match="Only generated"):
        a, b, c, d = Constraints(y).positive_negative_pairs(10, same_length=True, random_state=0)
    assert len(a) == len(c) == 4


def test_chunks_reach_the_last_class():
    y = np.repeat([0, 1, 2], 10)
    seen = set()
    for seed in range(10):
        ch = Constraints(y).chunks(n_chunks=3, chunk_size=2, random_state=seed)
        for k in range(3):
            members = np.flatnonzero(ch == k)
            assert len(members) == 2 and len(set(y[members])) == 1
            seen.add(int(y[members[0]]))
    assert 2 in seen  # metric-learn 0.7 never draws the last class


def test_chunks_too_many():
    with pytest.raises(InputError, match="chunks"):
        Constraints([0, 0, 1]).chunks(n_chunks=5, chunk_size=2)


def test_knn_triplets_and_wrap_pairs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    y = np.repeat([0, 1, 2], 4)
    t = Constraints(y).generate_knntriplets(X, 2, 2)
    assert t.shape == (12 * 4, 3)
    assert (y[t[:, 0]] == y[t[:, 1]]).all() and (y[t[:, 0]] != y[t[:, 2]]).all()
    pairs, py = wrap_pairs(X, ([0], [1], [0], [5]))
    assert pairs.shape == (2, 2, 3) and py.tolist() == [1, -1]


def test_bad_labels():
    with pytest.raises(InputError):
        Constraints(np.array([[0, 1], [1, 0]]))
    with pytest.raises(InputError):
        Constraints([0, 1]).positive_negative_pairs(0)

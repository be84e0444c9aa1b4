"""Seeded stratified splits and the unseen-class protocol."""

from __future__ import annotations

import numpy as np
import pytest

from isometry.data.splits import make_split, stratified_split, unseen_class_split
from isometry.errors import InputError


def test_stratified_split_keeps_each_class_share():
    y = np.repeat(np.arange(4), [10, 20, 7, 3])
    s = stratified_split(y, 0.5, seed=1)
    assert len(np.intersect1d(s.train, s.test)) == 0
    assert np.array_equal(np.sort(np.concatenate([s.train, s.test])), np.arange(len(y)))
    for c, n in zip(range(4), [10, 20, 7, 3]):
        n_test = int(np.sum(y[s.test] == c))
        assert 1 <= n_test <= n - 1 and abs(n_test - n / 2) <= 0.5 + 1e-9


def test_stratified_split_is_seeded():
    y = np.repeat(np.arange(3), 30)
    a, b, c = (stratified_split(y, 0.3, seed=s) for s in (5, 5, 6))
    assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)
    assert len(a.test) == 27


def test_stratified_split_string_labels():
    s = stratified_split(["x", "y"] * 5, 0.4, seed=0)
    assert len(s.test) == 4


@pytest.mark.parametrize("labels, size, match", [
    ([0, 0, 1], 0.5, "one sample"),
    ([0, 0, 1, 1], 1.0, "test_size"),
    ([0, 0, 1, 1], 0.0, "test_size"),
    ([], 0.5, "empty"),
    ([[0, 1], [1, 0]], 0.5, "1-D"),
])
def test_stratified_split_bad_input(labels, size, match):
    with pytest.raises(InputError, match=match):
        stratified_split(labels, size)


def test_unseen_split_disjoint_classes():
    y = np.repeat(np.arange(10), 5)
    s = unseen_class_split(y, [0, 1, 2, 3, 4])
    assert set(y[s.train]) == {0, 1, 2, 3, 4} and set(y[s.test]) == {5, 6, 7, 8, 9}
    d = unseen_class_split(y)  # default: first half of the sorted classes
    assert np.array_equal(d.train, s.train)
    r1, r2 = unseen_class_split(y, seed=3), unseen_class_split(y, seed=3)
    assert np.array_equal(r1.train, r2.train) and not set(y[r1.train]) & set(y[r1.test])


def test_unseen_split_errors():
    with pytest.raises(InputError, match="absent"):
        unseen_class_split([0, 0, 1, 1], [7])
    with pytest.raises(InputError, match="both sides"):
        unseen_class_split([0, 0, 1, 1], [0, 1])
    with pytest.raises(InputError, match="at least 2"):
        unseen_class_split([0, 0, 0])
    with pytest.raises(InputError, match="'split' parameter"):
        make_split([0, 1], "random")


def test_unseen_split_string_labels():
    s = make_split(["a", "b", "c", "d"] * 2, "unseen", train_classes=["a", "c"])
    assert s.train.tolist() == [0, 2, 4, 6]

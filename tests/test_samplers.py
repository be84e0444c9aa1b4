"""MPerClassSampler and ClassBalancedBatchSampler."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from isometry.errors import InputError
from isometry.samplers import ClassBalancedBatchSampler, MPerClassSampler


def _labels():
    return np.repeat(np.arange(10), [5, 5, 5, 5, 5, 5, 5, 5, 5, 2])


def test_m_per_class_batches_hold_m_of_each_class():
    y = _labels()
    sampler = MPerClassSampler(y, m=4, batch_size=20, length_before_new_iter=200, seed=0)
    idx = list(sampler)
    assert len(idx) == len(sampler) == 200
    for start in range(0, 200, 20):
        counts = Counter(y[idx[start:start + 20]].tolist())
        assert len(counts) == 5 and set(counts.values()) == {4}


def test_m_per_class_without_batch_size_matches_pml_length_rule():
    y = _labels()
    sampler = MPerClassSampler(y, m=3, length_before_new_iter=100, seed=1)
    assert len(sampler) == 90  # rounded down to a multiple of m x classes = 30
    idx = list(sampler)
    assert len(idx) == 90
    for start in range(0, 90, 3):
        assert len(set(y[idx[start:start + 3]].tolist())) == 1


def test_m_per_class_has_pml_length_semantics():
    from pytorch_metric_learning.samplers import MPerClassSampler as PML

    y = _labels()
    for kwargs in ({"m": 2}, {"m": 4, "batch_size": 20}, {"m": 2, "batch_size": 8, "length_before_new_iter": 50}):
        assert len(MPerClassSampler(y, **kwargs)) == len(PML(y, **kwargs))
        assert len(list(MPerClassSampler(y, **kwargs))) == len(list(PML(y, **kwargs)))


def test_m_per_class_is_seeded_and_takes_string_labels():
    y = np.array([f"c{v}" for v in _labels()])
    a = list(MPerClassSampler(y, m=2, batch_size=10, length_before_new_iter=40, seed=5))
    b = list(MPerClassSampler(y, m=2, batch_size=10, length_before_new_iter=40, seed=5))
    assert a == b


@pytest.mark.parametrize("kwargs", [
    {"m": 0}, {"m": 3, "batch_size": 10}, {"m": 4, "batch_size": 48}, {"m": 2, "batch_size": 10,
                                                                      "length_before_new_iter": 5},
    {"m": 2.5},
])
def test_m_per_class_rejects_bad_parameters(kwargs):
    with pytest.raises(InputError):
        MPerClassSampler(_labels(), **kwargs)


def test_class_balanced_batches():
    y = _labels()
    sampler = ClassBalancedBatchSampler(y, classes_per_batch=3, samples_per_class=4, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 47 // 12  # about one pass over 47 items
    for b in batches:
        counts = Counter(y[b].tolist())
        assert len(counts) == 3 and set(counts.values()) == {4}
        big = [c for c in counts if c != 9]
        assert all(len(set(i for i in b if y[i] == c)) == 4 for c in big)  # no repeats when the class is big


def test_class_balanced_rejects_too_many_classes():
    with pytest.raises(InputError):
        ClassBalancedBatchSampler(_labels(), classes_per_batch=11, samples_per_class=2)

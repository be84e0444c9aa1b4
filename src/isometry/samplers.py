"""Batch samplers for metric learning: M samples per class, and class-balanced P x K batches.

Pair and triplet losses need several samples of each class in a batch; these samplers
guarantee it. Both take a ``seed`` for reproducible order and never cast labels.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterator

import numpy as np
from torch.utils.data import Sampler

from ._validate import Interval, check_labels, check_param, encode_labels
from .errors import InputError

__all__ = ["MPerClassSampler", "ClassBalancedBatchSampler"]

_POS_INT = Interval(numbers.Integral, 1, None)


def _class_members(labels: Any) -> list[np.ndarray]:
    y = check_labels(labels)
    (codes,), _ = encode_labels(y)
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes))[:-1]
    return np.split(order, bounds)


def _draw(members: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` members without replacement, with replacement when the class is smaller."""
    return rng.choice(members, size=size, replace=len(members) < size)


class MPerClassSampler(Sampler):
    """Yield indices in runs of ``m`` samples of one class (pytorch-metric-learning semantics).

    Parameters
    ----------
    labels : array-like, shape (n,)
        One label per dataset item (any hashable values).
    m : int
        Samples per class in a run; classes smaller than ``m`` are drawn with replacement.
    batch_size : int, optional
        When given, each consecutive ``batch_size`` indices hold ``batch_size // m`` distinct
        classes; it must be a multiple of ``m`` and at most ``m`` x number of classes.
    length_before_new_iter : int, default=100000
        Indices per epoch (rounded down to a multiple of ``batch_size``, or of ``m`` x number
        of classes without a batch size).
    seed : int, optional
        Seed of the sampler's own generator (PML uses numpy's global one).

    Raises
    ------
    InputError
        ``m`` or ``batch_size`` not positive, ``batch_size`` not a multiple of ``m``, too few
        classes for a batch, or ``length_before_new_iter < batch_size``.
    """

    def __init__(self, labels: Any, m: int, batch_size: int | None = None, length_before_new_iter: int = 100000,
                 *, seed: int | None = None) -> None:
        owner = "MPerClassSampler"
        self.m_per_class = int(check_param(m, "m", owner, _POS_INT))
        check_param(batch_size, "batch_size", owner, None, _POS_INT)
        check_param(length_before_new_iter, "length_before_new_iter", owner, _POS_INT)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.members = _class_members(labels)
        self.length_of_single_pass = self.m_per_class * len(self.members)
        self.list_size = int(length_before_new_iter)
        if self.batch_size is None:
            if self.length_of_single_pass < self.list_size:
                self.list_size -= self.list_size % self.length_of_single_pass
        else:
            if self.list_size < self.batch_size:
                raise InputError(f"{owner}: length_before_new_iter ({self.list_size}) must be >= batch_size "
                                 f"({self.batch_size}).")
            if self.length_of_single_pass < self.batch_size:
                raise InputError(f"{owner}: m x number of classes ({self.length_of_single_pass}) must be >= "
                                 f"batch_size ({self.batch_size}).")
            if self.batch_size % self.m_per_class:
                raise InputError(f"{owner}: batch_size ({self.batch_size}) must be a multiple of m "
                                 f"({self.m_per_class}).")
            self.list_size -= self.list_size % self.batch_size
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.list_size

    def _num_iters(self) -> int:
        divisor = self.length_of_single_pass if self.batch_size is None else self.batch_size
        return self.list_size // divisor if divisor < self.list_size else 1

    def __iter__(self) -> Iterator[int]:
        out = np.zeros(self.list_size, dtype=np.int64)
        per_iter = len(self.members) if self.batch_size is None else self.batch_size // self.m_per_class
        i = 0
        for _ in range(self._num_iters()):
            for c in self.rng.permutation(len(self.members))[:per_iter]:
                run = _draw(self.members[c], self.m_per_class, self.rng)
                take = min(len(run), self.list_size - i)
                out[i : i + take] = run[:take]
                i += take
        return iter(out.tolist())


class ClassBalancedBatchSampler(Sampler):
    """Batch sampler of P classes x K samples (a ``batch_sampler`` for ``DataLoader``).

    Each batch draws ``classes_per_batch`` distinct classes and ``samples_per_class`` samples
    of each (without replacement where the class is large enough). An epoch has
    ``num_batches`` batches, by default about one pass over the data.

    Parameters
    ----------
    labels : array-like, shape (n,)
    classes_per_batch : int >= 1 (at most the number of classes)
    samples_per_class : int >= 1
    num_batches : int, optional
    seed : int, optional
    """

    def __init__(self, labels: Any, classes_per_batch: int, samples_per_class: int, num_batches: int | None = None,
                 *, seed: int | None = None) -> None:
        owner = "ClassBalancedBatchSampler"
        self.members = _class_members(labels)
        check_param(classes_per_batch, "classes_per_batch", owner, Interval(numbers.Integral, 1, len(self.members)))
        check_param(samples_per_class, "samples_per_class", owner, _POS_INT)
        check_param(num_batches, "num_batches", owner, None, _POS_INT)
        self.classes_per_batch, self.samples_per_class = int(classes_per_batch), int(samples_per_class)
        n = sum(len(mb) for mb in self.members)
        self.num_batches = num_batches or max(1, n // (self.classes_per_batch * self.samples_per_class))
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(self.num_batches):
            classes = self.rng.choice(len(self.members), size=self.classes_per_batch, replace=False)
            batch = np.concatenate([_draw(self.members[c], self.samples_per_class, self.rng) for c in classes])
            yield batch.tolist()

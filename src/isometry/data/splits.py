"""Seeded train / test splits: stratified over samples, or over classes (unseen classes).

Two protocols of metric learning:

- **seen classes**: every class appears in both parts; the test part holds a
  stratified share of each class's samples (:func:`stratified_split`).
- **unseen classes** (zero-shot retrieval, as in "Deep Metric Learning via Lifted
  Structured Feature Embedding", Oh Song et al., 2016): the model trains on some
  classes and is evaluated on the others, which it never saw
  (:func:`unseen_class_split`).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from .._validate import Interval, check_labels, check_param
from ..errors import InputError

__all__ = ["Split", "stratified_split", "unseen_class_split", "make_split"]


class Split(NamedTuple):
    """Row indices of the two parts (sorted, int64)."""

    train: np.ndarray
    test: np.ndarray


def stratified_split(labels: Any, test_size: float = 0.5, *, seed: int = 0) -> Split:
    """Split samples so that each class keeps its share in both parts.

    Parameters
    ----------
    labels : array-like, shape (n,)
        Class labels (any hashable scalars; never cast).
    test_size : float, default=0.5
        Share of each class's samples that goes to the test part, in (0, 1).
    seed : int, default=0
        Seed of the shuffle; the same seed gives the same split.

    Returns
    -------
    Split
        ``train`` and ``test`` row indices, sorted.

    Raises
    ------
    InputError
        A class with fewer than 2 samples (it cannot be in both parts), or
        ``test_size`` outside (0, 1).

    Examples
    --------
    >>> s = stratified_split([0, 0, 1, 1, 2, 2], 0.5, seed=0)
    >>> len(s.train), len(s.test)
    (3, 3)
    """
    check_param(test_size, "test_size", "stratified_split", Interval(float, 0, 1, "neither"))
    y = check_labels(labels)
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    lonely = classes[counts < 2]
    if lonely.size:
        raise InputError(
            f"labels has {lonely.size} class(es) with one sample ({', '.join(map(str, lonely[:5]))}); "
            "a stratified split needs at least 2 samples per class. Drop those classes first."
        )
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(len(classes)):
        rows = rng.permutation(np.flatnonzero(codes == c))
        n_test = min(max(1, int(round(test_size * len(rows)))), len(rows) - 1)
        test.append(rows[:n_test])
        train.append(rows[n_test:])
    return Split(np.sort(np.concatenate(train)).astype(np.int64), np.sort(np.concatenate(test)).astype(np.int64))


def unseen_class_split(
    labels: Any,
    train_classes: Sequence[Any] | None = None,
    *,
    train_fraction: float = 0.5,
    seed: int | None = None,
) -> Split:
    """Split by class: train on ``train_classes``, test on every other class.

    Parameters
    ----------
    labels : array-like, shape (n,)
        Class labels.
    train_classes : sequence, optional
        Classes of the training part. Default: the first ``train_fraction`` of the
        sorted distinct labels (the field's convention, e.g. CUB-200 trains on
        classes 1-100), or a random choice of that many when ``seed`` is given.
    train_fraction : float, default=0.5
        Share of classes used for training when ``train_classes`` is not given.
    seed : int, optional
        Draw the training classes at random with this seed instead of taking the
        first ones.

    Returns
    -------
    Split
        ``train`` and ``test`` row indices, sorted; no class is in both.

    Raises
    ------
    InputError
        Fewer than 2 classes, a training class absent from ``labels``, or a
        split that leaves either side without classes.

    Examples
    --------
    >>> s = unseen_class_split([0, 0, 1, 1, 2, 2, 3, 3], [0, 1])
    >>> s.train.tolist(), s.test.tolist()
    ([0, 1, 2, 3], [4, 5, 6, 7])
    """
    check_param(train_fraction, "train_fraction", "unseen_class_split", Interval(float, 0, 1, "neither"))
    y = check_labels(labels, min_classes=2)
    classes = np.unique(y)
    if train_classes is None:
        n_train = min(max(1, int(round(train_fraction * len(classes)))), len(classes) - 1)
        chosen = classes[:n_train] if seed is None else np.random.default_rng(seed).choice(classes, n_train, replace=False)
    else:
        chosen = np.asarray(list(train_classes), dtype=y.dtype if y.dtype.kind != "O" else object)
        missing = [c for c in chosen.tolist() if c not in set(classes.tolist())]
        if missing:
            raise InputError(f"train_classes holds {len(missing)} class(es) absent from labels: {missing[:5]}.")
    in_train = np.isin(y, chosen)
    n_test_classes = len(classes) - len(np.unique(chosen))
    if not in_train.any() or n_test_classes < 1:
        raise InputError(
            f"the unseen-class split needs classes on both sides; got {len(np.unique(chosen))} training "
            f"class(es) out of {len(classes)}."
        )
    return Split(np.flatnonzero(in_train).astype(np.int64), np.flatnonzero(~in_train).astype(np.int64))


def make_split(labels: Any, protocol: str = "stratified", *, test_size: float = 0.5,
               train_classes: Sequence[Any] | None = None, seed: int = 0) -> Split:
    """Dispatch to :func:`stratified_split` (``"stratified"``) or :func:`unseen_class_split` (``"unseen"``)."""
    if protocol == "stratified":
        return stratified_split(labels, test_size, seed=seed)
    if protocol == "unseen":
        return unseen_class_split(labels, train_classes)
    raise InputError(f"The 'split' parameter must be one of 'stratified', 'unseen'. Got {protocol!r} instead.")

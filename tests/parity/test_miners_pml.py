"""Parity of isometry.miners with pytorch-metric-learning 2.9.0: the same tuples, compared as sets."""

from __future__ import annotations

import pytest
import torch

pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")

import isometry.miners as M  # noqa: E402
from isometry.miners.distance_weighted import distance_weights  # noqa: E402


def _batch(n=24, d=6, classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randint(0, classes, (n,), generator=g)


def _as_set(tup):
    if len(tup) == 3:
        return {tuple(int(v) for v in t) for t in zip(*tup)}
    return ({(int(a), int(b)) for a, b in zip(tup[0], tup[1])}, {(int(a), int(b)) for a, b in zip(tup[2], tup[3])})


CASES = [
    ("BatchHardMiner", {}),
    ("BatchEasyHardMiner", {}),
    ("BatchEasyHardMiner", {"pos_strategy": "hard", "neg_strategy": "semihard"}),
    ("BatchEasyHardMiner", {"pos_strategy": "semihard", "neg_strategy": "hard"}),
    ("BatchEasyHardMiner", {"pos_strategy": "easy", "neg_strategy": "easy"}),
    ("BatchEasyHardMiner", {"pos_strategy": "all", "neg_strategy": "hard"}),
    ("BatchEasyHardMiner", {"pos_strategy": "hard", "neg_strategy": "all"}),
    ("BatchEasyHardMiner", {"pos_strategy": "all", "neg_strategy": "all"}),
    ("BatchEasyHardMiner", {"allowed_pos_range": (0.2, 1.2), "allowed_neg_range": (0.5, 1.6)}),
    ("TripletMarginMiner", {}),
    ("TripletMarginMiner", {"margin": 0.3, "type_of_triplets": "hard"}),
    ("TripletMarginMiner", {"margin": 0.3, "type_of_triplets": "semihard"}),
    ("TripletMarginMiner", {"margin": 0.3, "type_of_triplets": "easy"}),
    ("MultiSimilarityMiner", {}),
    ("MultiSimilarityMiner", {"epsilon": 0.4}),
    ("PairMarginMiner", {}),
    ("PairMarginMiner", {"pos_margin": 0.5, "neg_margin": 1.2}),
]


@pytest.mark.parametrize("name,kwargs", CASES)
@pytest.mark.parametrize("labels", ["random", "singleton", "one_class"])
def test_miners_match_pml(name, kwargs, labels):
    x, y = _batch()
    if labels == "singleton":
        y[0] = 99
    elif labels == "one_class":
        y[:] = 3
    ours = getattr(M, name)(**kwargs)(x, y)
    theirs = getattr(pml_miners, name)(**kwargs)(x, y)
    assert len(ours) == len(theirs)
    assert _as_set(ours) == _as_set(theirs)
    assert all(t.dtype == torch.int64 for t in ours)


@pytest.mark.parametrize("name,kwargs", CASES)
def test_miners_match_pml_with_reference(name, kwargs):
    x, y = _batch(n=10, seed=1)
    ref, ref_y = _batch(n=16, seed=2)
    ours = getattr(M, name)(**kwargs)(x, y, ref, ref_y)
    theirs = getattr(pml_miners, name)(**kwargs)(x, y, ref, ref_y)
    assert _as_set(ours) == _as_set(theirs)


def test_similarity_miners_match_pml_with_cosine_similarity():
    x, y = _batch(seed=5)
    ours = M.BatchHardMiner(distance="cosine_similarity")(x, y)
    theirs = pml_miners.BatchHardMiner(distance=pml_distances.CosineSimilarity())(x, y)
    assert _as_set(ours) == _as_set(theirs)
    ours = M.TripletMarginMiner(margin=0.1, distance=pml_distances.CosineSimilarity())(x, y)
    theirs = pml_miners.TripletMarginMiner(margin=0.1, distance=pml_distances.CosineSimilarity())(x, y)
    assert _as_set(ours) == _as_set(theirs)


def test_distance_weights_match_pml(monkeypatch):
    import pytorch_metric_learning.miners.distance_weighted_miner as dwm

    x, y = _batch(n=32, d=16, classes=4, seed=6)
    seen = {}

    def capture(labels, ref_labels=None, t_per_anchor=None, weights=None):
        seen["weights"] = weights
        return torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long)

    monkeypatch.setattr(dwm.lmu, "get_random_triplet_indices", capture)
    pml_miners.DistanceWeightedMiner(cutoff=0.5, nonzero_loss_cutoff=1.4)(x, y)
    xn = torch.nn.functional.normalize(x, dim=1)
    ours = distance_weights(torch.cdist(xn, xn), y[:, None] != y[None, :], 16, 0.5, 1.4)
    torch.testing.assert_close(ours, seen["weights"], equal_nan=True)

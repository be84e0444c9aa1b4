"""Miners: choose informative pairs or triplets of a batch for a loss.

Every miner is called as ``miner(embeddings, labels, ref_emb=None, ref_labels=None)`` under
``torch.no_grad`` and returns :class:`Pairs` (a1, p, a2, n) or :class:`Triplets` (a, p, n)
of int64 indices, which every loss accepts as ``indices_tuple`` (PML's losses too).
Names, hyperparameters and defaults follow pytorch-metric-learning.
"""

from ._common import Pairs, Triplets
from .batch_mining import BatchEasyHardMiner, BatchHardMiner
from .distance_weighted import DistanceWeightedMiner
from .margins import MultiSimilarityMiner, PairMarginMiner, TripletMarginMiner

__all__ = [
    "Pairs",
    "Triplets",
    "BatchEasyHardMiner",
    "BatchHardMiner",
    "TripletMarginMiner",
    "PairMarginMiner",
    "MultiSimilarityMiner",
    "DistanceWeightedMiner",
]

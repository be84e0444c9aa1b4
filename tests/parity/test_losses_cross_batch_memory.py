"""CrossBatchMemory against PML's over several batches: same values and gradients (float64)."""

from __future__ import annotations

import pytest
import torch

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")

import isometry.losses as L  # noqa: E402
import isometry.miners as M  # noqa: E402


@pytest.mark.parametrize("loss_name,miner_name", [("ContrastiveLoss", None), ("MultiSimilarityLoss", None),
                                                  ("TripletMarginLoss", None), ("NTXentLoss", None),
                                                  ("ContrastiveLoss", "MultiSimilarityMiner"),
                                                  ("TripletMarginLoss", "BatchHardMiner")])
def test_cross_batch_memory_matches_pml(loss_name, miner_name):
    ours_miner = getattr(M, miner_name)() if miner_name else None
    their_miner = getattr(pml_miners, miner_name)() if miner_name else None
    ours = L.CrossBatchMemory(getattr(L, loss_name)(), 6, memory_size=20, miner=ours_miner)
    theirs = pml_losses.CrossBatchMemory(getattr(pml_losses, loss_name)(), 6, memory_size=20, miner=their_miner)
    g = torch.Generator().manual_seed(0)
    for step in range(4):  # 4 x 8 rows: the 20-slot queue wraps around
        x = torch.randn(8, 6, generator=g, dtype=torch.float64)
        y = torch.randint(0, 3, (8,), generator=g)
        x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        v1, v2 = ours(x1, y), theirs(x2, y)
        v1.backward()
        v2.backward()
        torch.testing.assert_close(v1, v2, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(x1.grad, x2.grad, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ours.embedding_memory, theirs.embedding_memory.double())
    assert ours.queue_idx == theirs.queue_idx and ours.has_been_filled == theirs.has_been_filled


def test_cross_batch_memory_enqueue_mask_matches_pml():
    ours = L.CrossBatchMemory(L.NTXentLoss(), 4, memory_size=16)
    theirs = pml_losses.CrossBatchMemory(pml_losses.NTXentLoss(), 4, memory_size=16)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        x = torch.randn(10, 4, generator=g, dtype=torch.float64)
        y = torch.cat([torch.arange(5), torch.arange(5)])
        mask = torch.arange(10) >= 5
        torch.testing.assert_close(ours(x, y, enqueue_mask=mask), theirs(x, y, enqueue_mask=mask))

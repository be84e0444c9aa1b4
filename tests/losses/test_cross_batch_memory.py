"""CrossBatchMemory: queue behaviour and errors."""

from __future__ import annotations

import pytest
import torch

import isometry.losses as L
from isometry.errors import InputError


def test_memory_grows_then_wraps():
    cbm = L.CrossBatchMemory(L.ContrastiveLoss(), 3, memory_size=5)
    for k in range(3):
        cbm(torch.randn(2, 3), torch.tensor([0, 1]))
    assert cbm.has_been_filled and cbm.queue_idx == 1


def test_given_indices_are_mapped_to_memory_slots():
    cbm = L.CrossBatchMemory(L.ContrastiveLoss(), 3, memory_size=8)
    cbm(torch.randn(4, 3), torch.tensor([0, 1, 0, 1]))
    x = torch.randn(2, 3, requires_grad=True)
    value = cbm(x, torch.tensor([0, 0]), indices_tuple=(torch.tensor([0]), torch.tensor([1]), torch.tensor([0]),
                                                        torch.tensor([1])))
    assert torch.isfinite(value)


@pytest.mark.parametrize("call", [
    lambda c: c(torch.randn(2, 4), torch.tensor([0, 1])),
    lambda c: c(torch.randn(2, 3), ["a", "b"]),
    lambda c: c(torch.randn(9, 3), torch.zeros(9, dtype=torch.long)),
    lambda c: c(torch.randn(2, 3), torch.tensor([0, 1]), indices_tuple=(torch.tensor([0]),) * 3,
                enqueue_mask=torch.tensor([True, False])),
])
def test_cross_batch_memory_rejects_bad_input(call):
    with pytest.raises(InputError):
        call(L.CrossBatchMemory(L.ContrastiveLoss(), 3, memory_size=8))


def test_cross_batch_memory_rejects_bad_sizes():
    with pytest.raises(InputError):
        L.CrossBatchMemory(L.ContrastiveLoss(), 0)

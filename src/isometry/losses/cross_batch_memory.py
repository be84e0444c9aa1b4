"""Cross-batch memory: compare each batch with a queue of past embeddings.

From "Cross-Batch Memory for Embedding Learning" (Wang et al., 2020). PML-compatible API:
``CrossBatchMemory(loss, embedding_size, memory_size=1024, miner=None)`` and
``forward(embeddings, labels, indices_tuple=None, enqueue_mask=None)``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from .._validate import Interval, check_params
from ..errors import InputError
from ._base import as_indices, check_tensor, to_pairs, to_triplets

__all__ = ["CrossBatchMemory"]


def _int_labels(labels: Any, n: int, device) -> torch.Tensor:
    if not torch.is_tensor(labels):
        arr = np.asarray(labels)
        if arr.dtype.kind not in "iu":
            raise InputError(f"CrossBatchMemory needs integer labels (codes are stored across batches); got {arr.dtype}.")
        labels = torch.as_tensor(arr)
    y = labels
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool or y.ndim != 1 or y.shape[0] != n:
        raise InputError(
            "CrossBatchMemory needs integer labels of shape (n,) (codes are stored across batches); "
            f"got dtype {y.dtype} and shape {tuple(y.shape)} for {n} embeddings."
        )
    return y.to(device=device, dtype=torch.int64)


def _without_self(indices: tuple, slots: torch.Tensor) -> tuple:
    """Drop pairs / triplets whose positive is the anchor's own memory slot."""
    keep = indices[1] != slots[indices[0]]
    if len(indices) == 3:
        return tuple(t[keep] for t in indices)
    return indices[0][keep], indices[1][keep], indices[2], indices[3]


class CrossBatchMemory(torch.nn.Module):
    """Wrap a pair/triplet loss so each batch is compared with the last ``memory_size`` embeddings.

    Parameters
    ----------
    loss : module
        A loss taking ``(embeddings, labels, indices_tuple, ref_emb, ref_labels)``
        (any pair or triplet loss of isometry or PML).
    embedding_size : int
    memory_size : int, default=1024
    miner : module, optional
        Mines (embeddings vs memory); default: all pairs. A row never pairs with its own
        slot in memory.

    Notes
    -----
    Memory holds detached embeddings and int64 labels (``embedding_memory``,
    ``label_memory`` buffers); labels must be integers. ``enqueue_mask`` (bool, shape (n,))
    enqueues the masked rows and uses the others as queries (MoCo-style); it excludes
    ``indices_tuple``. Rows of a given ``indices_tuple`` refer to the batch; their positives
    and negatives are mapped to the memory slots the batch was written to.
    """

    def __init__(self, loss: torch.nn.Module, embedding_size: int, memory_size: int = 1024,
                 miner: torch.nn.Module | None = None) -> None:
        super().__init__()
        positive = Interval(numbers.Integral, 1, None)
        check_params("CrossBatchMemory", {"embedding_size": embedding_size, "memory_size": memory_size},
                     {"embedding_size": (positive,), "memory_size": (positive,)})
        self.loss, self.miner = loss, miner
        self.embedding_size, self.memory_size = embedding_size, memory_size
        self.reset_queue()

    def reset_queue(self) -> None:
        """Empty the memory."""
        self.register_buffer("embedding_memory", torch.zeros(self.memory_size, self.embedding_size))
        self.register_buffer("label_memory", torch.zeros(self.memory_size, dtype=torch.long))
        self.has_been_filled, self.queue_idx = False, 0

    def _enqueue(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        slots = torch.arange(self.queue_idx, self.queue_idx + len(emb), device=emb.device) % self.memory_size
        self.embedding_memory[slots] = emb.detach()
        self.label_memory[slots] = labels
        previous, self.queue_idx = self.queue_idx, (self.queue_idx + len(emb)) % self.memory_size
        if not self.has_been_filled and self.queue_idx <= previous:
            self.has_been_filled = True
        return slots

    def forward(self, embeddings: torch.Tensor, labels: Any, indices_tuple: Any = None,
                enqueue_mask: Any = None) -> torch.Tensor:
        emb = check_tensor(embeddings, "CrossBatchMemory", "embeddings")
        if emb.shape[1] != self.embedding_size:
            raise InputError(f"CrossBatchMemory has embedding_size {self.embedding_size}; got {emb.shape[1]} features.")
        y = _int_labels(labels, emb.shape[0], emb.device)
        if indices_tuple is not None and enqueue_mask is not None:
            raise InputError("CrossBatchMemory: indices_tuple and enqueue_mask are mutually exclusive.")
        self.embedding_memory = self.embedding_memory.to(device=emb.device, dtype=emb.dtype)
        self.label_memory = self.label_memory.to(emb.device)
        if enqueue_mask is not None:
            mask = torch.as_tensor(enqueue_mask, device=emb.device)
            if mask.dtype != torch.bool or mask.shape != (emb.shape[0],):
                raise InputError("enqueue_mask must be a boolean array of shape (n,).")
            self._enqueue(emb[mask], y[mask])
            emb, y, slots = emb[~mask], y[~mask], None
        else:
            if emb.shape[0] > self.memory_size:
                raise InputError(f"A batch of {emb.shape[0]} does not fit memory_size {self.memory_size}.")
            slots = self._enqueue(emb, y)
        end = self.memory_size if self.has_been_filled else self.queue_idx
        mem_emb, mem_y = self.embedding_memory[:end], self.label_memory[:end]
        indices = self._indices(emb, y, mem_emb, mem_y, slots)
        if indices_tuple is not None:
            extra = as_indices(indices_tuple, emb.shape[0], emb.shape[0], emb.device, "CrossBatchMemory")
            extra = to_pairs(extra) if len(indices) == 4 else to_triplets(extra)
            # Batch positions -> the memory slots they were just written to (PML leaves them as
            # batch positions, which then point at unrelated memory rows).
            anchors = (0, 2) if len(extra) == 4 else (0,)
            extra = tuple(t if k in anchors else slots[t] for k, t in enumerate(extra))
            indices = tuple(torch.cat([a, b]) for a, b in zip(indices, extra))
        return self.loss(emb, y, indices, mem_emb, mem_y)

    def _indices(self, emb, y, mem_emb, mem_y, slots) -> tuple:
        if self.miner is not None:
            indices = tuple(self.miner(emb, y, mem_emb, mem_y))
        else:
            same = y.unsqueeze(1) == mem_y.unsqueeze(0)
            a1, p = torch.nonzero(same, as_tuple=True)
            a2, n = torch.nonzero(~same, as_tuple=True)
            indices = (a1, p, a2, n)
        return indices if slots is None else _without_self(indices, slots)

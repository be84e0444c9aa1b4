"""Losses and miners over the global batch of a distributed (DDP) run.

Each rank all-gathers embeddings and labels in rank order and puts its own
gradient-carrying rows in its slot, so the loss it computes is exactly the loss of one
process on the concatenated batch, and gradients reach the local rows only. The
returned value is that global loss; its gradient is multiplied by the world size so that
DistributedDataParallel's *mean* over ranks yields the single-process gradient (PML
returns ``loss * world_size`` instead, which scales the reported value too).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ..errors import InputError
from ._base import check_tensor
from .cross_batch_memory import CrossBatchMemory

__all__ = ["DistributedLossWrapper", "DistributedMinerWrapper", "all_gather_with_local_grad"]


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _gather_rows(x: torch.Tensor) -> tuple[list[torch.Tensor], int]:
    """All ranks' rows (any row counts), in rank order, and this rank's row offset."""
    world, rank = dist.get_world_size(), dist.get_rank()
    sizes = [torch.zeros(1, dtype=torch.long, device=x.device) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([x.shape[0]], device=x.device))
    sizes = [int(s) for s in sizes]
    top = max(sizes)
    padded = torch.zeros((top,) + tuple(x.shape[1:]), dtype=x.dtype, device=x.device)
    padded[: x.shape[0]] = x.detach()
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded.contiguous())
    return [p[:s] for p, s in zip(parts, sizes)], sum(sizes[:rank])


def all_gather_with_local_grad(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Concatenate every rank's ``x`` in rank order; this rank's part keeps its graph.

    Returns the global tensor and this rank's row offset in it.
    """
    if not _distributed():
        return x, 0
    parts, offset = _gather_rows(x)
    parts[dist.get_rank()] = x
    return torch.cat(parts), offset


def _labels_tensor(labels: Any, n: int, device) -> torch.Tensor:
    if not torch.is_tensor(labels) and np.asarray(labels).dtype.kind not in "iu":
        raise InputError("Distributed losses need integer labels (they are all-gathered as tensors).")
    y = labels if torch.is_tensor(labels) else torch.as_tensor(np.asarray(labels))
    if y.is_floating_point() or y.ndim != 1 or y.shape[0] != n:
        raise InputError("Distributed losses need integer labels of shape (n,) (they are all-gathered).")
    return y.to(device)


def _scaled(loss: torch.Tensor) -> torch.Tensor:
    """Same value, gradient x world size (undoes DDP's mean over ranks)."""
    world = dist.get_world_size()
    return loss + (world - 1) * (loss - loss.detach())


def _local_vs_global_pairs(labels: torch.Tensor, all_labels: torch.Tensor, offset: int | None) -> tuple:
    """All pairs of local anchors with the global batch; a row's own copy (at ``offset + row``) dropped."""
    same = labels.unsqueeze(1) == all_labels.unsqueeze(0)
    a1, p = torch.nonzero(same, as_tuple=True)
    if offset is not None:
        keep = p != a1 + offset
        a1, p = a1[keep], p[keep]
    a2, n = torch.nonzero(~same, as_tuple=True)
    return a1, p, a2, n


class DistributedLossWrapper(torch.nn.Module):
    """Compute ``loss`` over the batch gathered from every rank (PML-compatible API).

    Parameters
    ----------
    loss : module
        Any isometry or PML loss taking ``(embeddings, labels, indices_tuple, ref_emb,
        ref_labels)``, or a :class:`CrossBatchMemory`.
    efficient : bool, default=False
        False: the loss of the whole global batch (every rank computes the same value).
        True: only local rows are anchors, compared with the global batch (less compute;
        the value is this rank's share, not the global loss).

    Notes
    -----
    ``indices_tuple`` refers to rows of the gathered batch in rank order (as
    :class:`DistributedMinerWrapper` returns). Outside a distributed run it is the plain loss.
    """

    def __init__(self, loss: torch.nn.Module, efficient: bool = False) -> None:
        super().__init__()
        if not isinstance(efficient, bool):
            raise InputError(f"The 'efficient' parameter of DistributedLossWrapper must be a bool. Got {efficient!r}.")
        if isinstance(loss, CrossBatchMemory) and efficient:
            raise InputError("DistributedLossWrapper: CrossBatchMemory does not support efficient=True.")
        self.loss, self.efficient = loss, efficient

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None,
                enqueue_mask=None) -> torch.Tensor:
        if not _distributed():
            if isinstance(self.loss, CrossBatchMemory):
                return self.loss(embeddings, labels, indices_tuple, enqueue_mask)
            return self.loss(embeddings, labels, indices_tuple, ref_emb, ref_labels)
        emb = check_tensor(embeddings, "DistributedLossWrapper", "embeddings")
        y = None if labels is None else _labels_tensor(labels, emb.shape[0], emb.device)
        all_emb, offset = all_gather_with_local_grad(emb)
        all_y = None if y is None else torch.cat(_gather_rows(y)[0])
        if isinstance(self.loss, CrossBatchMemory):
            if ref_emb is not None:
                raise InputError("CrossBatchMemory is not compatible with ref_emb and ref_labels.")
            mask = None if enqueue_mask is None else torch.cat(_gather_rows(torch.as_tensor(enqueue_mask))[0])
            return _scaled(self.loss(all_emb, all_y, indices_tuple, mask))
        all_ref = all_ref_y = None
        if ref_emb is not None:
            all_ref, _ = all_gather_with_local_grad(check_tensor(ref_emb, "DistributedLossWrapper", "ref_emb"))
            all_ref_y = torch.cat(_gather_rows(_labels_tensor(ref_labels, ref_emb.shape[0], emb.device))[0])
        if not self.efficient:
            return _scaled(self.loss(all_emb, all_y, indices_tuple, all_ref, all_ref_y))
        ref_e, ref_l = (all_emb, all_y) if all_ref is None else (all_ref, all_ref_y)
        if indices_tuple is None:
            indices_tuple = _local_vs_global_pairs(y, ref_l, offset if all_ref is None else None)
        return _scaled(self.loss(emb, y, indices_tuple, ref_e, ref_l))


class DistributedMinerWrapper(torch.nn.Module):
    """Run a miner over the batch gathered from every rank (PML-compatible API).

    ``efficient=False`` mines the global batch (indices into it, rank order);
    ``efficient=True`` mines local anchors against the global batch, without self pairs.
    """

    def __init__(self, miner: torch.nn.Module, efficient: bool = False) -> None:
        super().__init__()
        self.miner, self.efficient = miner, efficient

    def forward(self, embeddings, labels, ref_emb=None, ref_labels=None):
        if not _distributed():
            return self.miner(embeddings, labels, ref_emb, ref_labels)
        emb = check_tensor(embeddings, "DistributedMinerWrapper", "embeddings").detach()
        y = _labels_tensor(labels, emb.shape[0], emb.device)
        parts, offset = _gather_rows(emb)
        all_emb, all_y = torch.cat(parts), torch.cat(_gather_rows(y)[0])
        if not self.efficient:
            return self.miner(all_emb, all_y)
        out = tuple(self.miner(emb, y, all_emb, all_y))
        keep = out[1] != out[0] + offset  # a row paired with its own gathered copy
        if len(out) == 3:
            return tuple(t[keep] for t in out)
        return out[0][keep], out[1][keep], out[2], out[3]

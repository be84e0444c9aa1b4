"""Data-parallel training with ``torchrun``: process group, rank-aware batches, DDP wrapping.

Launch ``torchrun --nproc_per_node=N -m isometry train CONFIG``. Each rank reads the
same seeded global batch order and keeps its slice of every batch; the loss is wrapped in
:class:`isometry.losses.DistributedLossWrapper`, which all-gathers embeddings (gradients
flow to the local part), so a global batch behaves like one big batch. Rank 0 evaluates,
writes checkpoints and the report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "init_distributed", "shutdown_distributed", "local_slice", "wrap_model", "barrier",
           "broadcast_flag"]


@dataclass(frozen=True)
class DistInfo:
    """Rank, world size and local rank of this process (0, 1, 0 outside torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment (no-op otherwise).

    Uses NCCL on CUDA devices and gloo on CPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return info


def shutdown_distributed(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def local_slice(batch: list[int], info: DistInfo) -> list[int]:
    """This rank's share of a global batch (contiguous, in rank order)."""
    if not info.enabled:
        return batch
    per = len(batch) // info.world_size
    return batch[info.rank * per:(info.rank + 1) * per]


def wrap_model(model: torch.nn.Module, info: DistInfo, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around ``model`` when running under torchrun."""
    if not info.enabled:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_flag(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """Rank 0's decision (e.g. early stop) sent to every rank."""
    if not info.enabled:
        return flag
    t = torch.tensor([int(flag)], device=device)
    dist.broadcast(t, src=0)
    return bool(t.item())

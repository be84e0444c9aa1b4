"""Losses, miners and samplers chosen by name, with their parameters, from isometry's own modules.

Names are the class names of :mod:`isometry.losses`, :mod:`isometry.miners` and
:mod:`isometry.samplers` (pytorch-metric-learning's names). Proxy and classifier losses
get ``num_classes`` and ``embedding_size`` filled in from the data and the model.
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import InputError

__all__ = ["Objective", "build_objective", "lookup", "make_sampler_order"]


@dataclass
class Objective:
    """The training objective: main loss (+ optional miner) and an optional self-supervised loss."""

    loss: torch.nn.Module
    miner: torch.nn.Module | None
    self_supervised: torch.nn.Module | None
    self_supervised_weight: float

    def parameters(self) -> list[torch.nn.Parameter]:
        """Trainable parameters of the losses (proxies, class weights)."""
        mods = [m for m in (self.loss, self.self_supervised) if m is not None]
        return [p for m in mods for p in m.parameters() if p.requires_grad]

    def __call__(self, embeddings: torch.Tensor, labels: torch.Tensor,
                 instances: torch.Tensor | None = None) -> torch.Tensor:
        tuples = None
        if self.miner is not None:
            with torch.no_grad():
                tuples = self.miner(embeddings.detach(), labels)
        value = self.loss(embeddings, labels, tuples)
        if self.self_supervised is not None and instances is not None:
            value = value + self.self_supervised_weight * self.self_supervised(embeddings, instances)
        return value


def lookup(module: Any, name: str, kind: str) -> type:
    """The class ``name`` of ``module``; an unknown name raises with the closest known one."""
    names = [n for n in getattr(module, "__all__", dir(module)) if n[:1].isupper()]
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else f" Known: {', '.join(sorted(names))}."
        raise InputError(f"unknown {kind} {name!r}.{hint}")
    return getattr(module, name)


def _instantiate(cls: type, params: dict[str, Any], *, num_classes: int, embedding_size: int) -> Any:
    params = dict(params)
    accepted = inspect.signature(cls).parameters
    if "num_classes" in accepted and "num_classes" not in params:
        params["num_classes"] = num_classes
    if "embedding_size" in accepted and "embedding_size" not in params:
        params["embedding_size"] = embedding_size
    unknown = [k for k in params if k not in accepted]
    if unknown:
        raise InputError(f"{cls.__name__} has no parameter {unknown[0]!r}; it takes: {', '.join(accepted)}.")
    return cls(**params)


def build_objective(config: Any, *, num_classes: int, embedding_size: int, distributed: bool = False) -> Objective:
    """Build the loss, miner and self-supervised loss a :class:`TrainConfig` names."""
    import isometry.losses as losses
    import isometry.miners as miners

    kw = dict(num_classes=num_classes, embedding_size=embedding_size)
    loss = _instantiate(lookup(losses, config.loss, "loss"), config.loss_params, **kw)
    miner = None
    if config.miner:
        miner = _instantiate(lookup(miners, config.miner, "miner"), config.miner_params, **kw)
    ss = None
    if config.self_supervised_loss:
        ss = _instantiate(lookup(losses, config.self_supervised_loss, "loss"), config.self_supervised_params, **kw)
    if distributed:
        loss = losses.DistributedLossWrapper(loss)
        miner = losses.DistributedMinerWrapper(miner) if miner is not None else None
        ss = losses.DistributedLossWrapper(ss) if ss is not None else None
    return Objective(loss, miner, ss, float(config.self_supervised_weight))


def make_sampler_order(config: Any, targets: np.ndarray, epoch: int) -> list[list[int]]:
    """Positions (into ``targets``) of each batch of one epoch, seeded by (seed, epoch).

    ``MPerClassSampler`` gives batches of ``batch_size // m_per_class`` classes with
    ``m_per_class`` samples each; without a sampler the rows are shuffled. About one
    pass over the data per epoch; a last incomplete batch is dropped.
    """
    seed = int(config.seed) * 100_003 + int(epoch)
    n, bs = len(targets), int(config.batch_size)
    if config.sampler == "MPerClassSampler":
        from isometry.samplers import MPerClassSampler

        n_classes = len(np.unique(targets))
        m = int(config.m_per_class)
        if m * n_classes < bs or bs % m:
            raise InputError(f"MPerClassSampler: batch_size ({bs}) must be a multiple of m_per_class ({m}) and at "
                             f"most m_per_class x number of training classes ({m * n_classes}).")
        length = max(bs, n - n % bs)
        order = list(MPerClassSampler(targets, m, batch_size=bs, length_before_new_iter=length, seed=seed))
    else:
        order = np.random.default_rng(seed).permutation(n).tolist()
    if n < bs and config.sampler is None:
        return [order]
    return [order[i:i + bs] for i in range(0, len(order) - bs + 1, bs)]

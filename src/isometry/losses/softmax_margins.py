"""Softmax losses over class weights: normalized softmax, CosFace, ArcFace, sub-centre ArcFace.

Class weights are ``W`` of shape (embedding_size, num_classes) (PML's name and layout, so
state dicts carry over). Labels are class indices ``0 <= y < num_classes``; miner output
turns into per-sample weights as in PML. The loss is the mean weighted cross-entropy.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .._validate import Interval, check_params
from ._base import (POS_INT, POSITIVE, REAL, Distance, batch_and_indices, class_indices, fusable, miner_weights,
                    require_distance, resolve_distance)
from ._fused_softmax import Logits, class_softmax_loss
from .proxies import _init, _no_ref

__all__ = [
    "cosface_logits",
    "arcface_logits",
    "NormalizedSoftmaxLoss",
    "CosFaceLoss",
    "ArcFaceLoss",
    "SubCenterArcFaceLoss",
]


def cosface_logits(cos: torch.Tensor, labels: torch.Tensor, *, margin: float, scale: float) -> torch.Tensor:
    """``scale * (cos - margin * onehot)``: CosFace ("CosFace: Large Margin Cosine Loss", Wang et al., 2018)."""
    return scale * (cos - margin * F.one_hot(labels, cos.shape[1]).to(cos.dtype))


def arcface_logits(cos: torch.Tensor, labels: torch.Tensor, *, margin: float, scale: float) -> torch.Tensor:
    """Target logits ``cos(theta + margin)`` (radians), ``cos(theta) - margin sin(margin)`` past ``pi - margin``.

    From "ArcFace: Additive Angular Margin Loss for Deep Face Recognition" (Deng et al., 2019).
    ``cos(theta + m)`` is expanded as ``cos m cos - sin m sin theta`` with ``sin theta`` floored
    at 1e-6, so the gradient stays finite where cos = +-1 (acos has an infinite slope there).
    """
    target = cos.gather(1, labels.unsqueeze(1))
    clamped = target.clamp(-1.0, 1.0)
    sin = (1.0 - clamped.square()).clamp_min(1e-12).sqrt()
    shifted = clamped * math.cos(margin) - sin * math.sin(margin)
    fallback = clamped - margin * math.sin(margin)
    modified = torch.where(clamped >= math.cos(math.pi - margin), shifted, fallback)
    logits = cos.scatter(1, labels.unsqueeze(1), modified)
    return scale * logits


class _WeightSoftmax(torch.nn.Module):
    """Shared body: class weights ``W`` (d, C), logits, weighted cross-entropy."""

    _owner = ""

    def __init__(self, num_classes: int, embedding_size: int, weight_init_func: Callable | None, distance: Any,
                 default: Distance, columns: int) -> None:
        super().__init__()
        self.num_classes, self.embedding_size = num_classes, embedding_size
        self.W = torch.nn.Parameter(torch.empty(embedding_size, columns))
        _init(self.W, weight_init_func, torch.nn.init.normal_)
        self.distance = resolve_distance(distance, default, self._owner)

    def get_logits(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def _fused_spec(self) -> Logits | None:
        """The logit map for the fused loss (same values as ``get_logits``), or None."""
        return None

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None) -> torch.Tensor:
        _no_ref(self._owner, ref_emb, ref_labels)
        batch, idx = batch_and_indices(self._owner, embeddings, labels, indices_tuple, None, None,
                                       labels_required=True)
        emb = batch.embeddings
        y = class_indices(batch.labels, self.num_classes, self._owner)
        spec = self._fused_spec() if fusable(self.distance, ("cosine_similarity", "dot")) else None
        if spec is not None:
            weights = None if idx is None else miner_weights(idx, emb.shape[0], emb.dtype, emb.device)
            return class_softmax_loss(emb, self.W.to(emb.dtype).T, y, weights, spec)
        if idx is None:
            return F.cross_entropy(self.get_logits(emb, y), y)
        weights = miner_weights(idx, emb.shape[0], emb.dtype, emb.device)
        losses = F.cross_entropy(self.get_logits(emb, y), y, reduction="none")
        return (losses * weights).mean()


class NormalizedSoftmaxLoss(_WeightSoftmax):
    """Normalized softmax: cross-entropy of ``<x, w_c / |w_c|> / temperature``; PML-compatible.

    From "Classification is a Strong Baseline for Deep Metric Learning" (Zhai & Wu, 2019).
    Embeddings are L2-normalized by the default distance (PML's ``DotProductSimilarity()``),
    so the logits are cosines / temperature.
    """

    _owner = "NormalizedSoftmaxLoss"

    def __init__(self, num_classes: int, embedding_size: int, temperature: float = 0.05, *, distance: Any = None,
                 weight_init_func: Callable | None = None) -> None:
        check_params(self._owner, {"num_classes": num_classes, "embedding_size": embedding_size,
                                   "temperature": temperature}, _COMMON | {"temperature": (POSITIVE,)})
        super().__init__(num_classes, embedding_size, weight_init_func, distance,
                         Distance("dot"), num_classes)
        self.temperature = temperature

    def _fused_spec(self) -> Logits:
        return Logits("cosface", 1.0 / self.temperature)

    def get_logits(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        w = F.normalize(self.W.to(embeddings.dtype), dim=0)
        logits = self.distance(embeddings, w.T) / self.temperature
        return logits if self.distance.is_inverted else -logits


_COMMON = {"num_classes": (POS_INT,), "embedding_size": (POS_INT,), "margin": (REAL,), "scale": (POSITIVE,)}


class CosFaceLoss(_WeightSoftmax):
    """CosFace / large margin cosine loss (Wang et al., 2018); PML-compatible. ``margin`` in cosine units."""

    _owner = "CosFaceLoss"

    def __init__(self, num_classes: int, embedding_size: int, margin: float = 0.35, scale: float = 64, *,
                 distance: Any = None, weight_init_func: Callable | None = None) -> None:
        check_params(self._owner, {"num_classes": num_classes, "embedding_size": embedding_size, "margin": margin,
                                   "scale": scale}, _COMMON)
        super().__init__(num_classes, embedding_size, weight_init_func, distance, Distance("cosine_similarity"),
                         num_classes)
        require_distance(self.distance, ("cosine_similarity",), self._owner)
        self.margin, self.scale = margin, scale

    def _fused_spec(self) -> Logits:
        return Logits("cosface", self.scale, self.margin)

    def get_cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.distance(embeddings, self.W.to(embeddings.dtype).T)

    def get_logits(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        cos = self.get_cosine(embeddings)
        return self.scale * cos if labels is None else cosface_logits(cos, labels, margin=self.margin,
                                                                      scale=self.scale)


class ArcFaceLoss(CosFaceLoss):
    """ArcFace / additive angular margin loss (Deng et al., 2019); PML-compatible.

    ``margin`` is in **degrees** (PML's convention; 28.6 degrees = 0.5 rad); ``self.margin``
    holds it in radians as PML does.
    """

    _owner = "ArcFaceLoss"

    def __init__(self, num_classes: int, embedding_size: int, margin: float = 28.6, scale: float = 64, *,
                 distance: Any = None, weight_init_func: Callable | None = None) -> None:
        check_params(self._owner, {"margin": margin}, {"margin": (Interval(numbers.Real, 0, 180),)})
        super().__init__(num_classes, embedding_size, margin, scale, distance=distance,
                         weight_init_func=weight_init_func)
        self.margin = float(np.radians(margin))

    def _fused_spec(self) -> Logits:
        return Logits("arcface", self.scale, self.margin, centers=getattr(self, "sub_centers", 1))

    def get_logits(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        cos = self.get_cosine(embeddings)
        return self.scale * cos if labels is None else arcface_logits(cos, labels, margin=self.margin,
                                                                      scale=self.scale)


class SubCenterArcFaceLoss(ArcFaceLoss):
    """Sub-centre ArcFace: ``sub_centers`` weight columns per class, the closest one counts.

    From "Sub-center ArcFace: Boosting Face Recognition by Large-Scale Noisy Web Faces"
    (Deng et al., 2020). ``W`` is (d, C * sub_centers), class c owning columns
    ``c*K .. c*K + K - 1`` (PML's layout).
    """

    _owner = "SubCenterArcFaceLoss"

    def __init__(self, num_classes: int, embedding_size: int, margin: float = 28.6, scale: float = 64,
                 sub_centers: int = 3, *, distance: Any = None, weight_init_func: Callable | None = None) -> None:
        check_params(self._owner, {"sub_centers": sub_centers}, {"sub_centers": (POS_INT,)})
        super().__init__(num_classes, embedding_size, margin, scale, distance=distance,
                         weight_init_func=weight_init_func)
        self.sub_centers = sub_centers
        self.W = torch.nn.Parameter(torch.empty(embedding_size, num_classes * sub_centers))
        _init(self.W, weight_init_func, torch.nn.init.normal_)

    def get_cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        cos = self.distance(embeddings, self.W.to(embeddings.dtype).T)
        return cos.view(-1, self.num_classes, self.sub_centers).amax(dim=2)

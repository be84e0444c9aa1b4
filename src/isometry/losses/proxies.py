"""Proxy and neighbourhood losses: proxy-anchor, NCA, proxy-NCA, SoftTriple.

Proxy losses hold learnable class representatives (``proxies`` (C, d), or ``fc`` (d, C*K)
for SoftTriple, with PML's parameter names and shapes so state dicts carry over). Labels
must be class indices ``0 <= y < num_classes``. Miner output turns into per-sample
weights (appearances / most appearances), as in PML.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from ._fused import nca_fused
from ._fused_softmax import Logits, class_softmax_loss
from .._validate import check_params
from ._base import (_FLOOR, _FUSED, POS_INT, POSITIVE, REAL, Batch, Distance, batch_and_indices, cosine_bound, class_indices, fusable,
                    masked_logsumexp,
                    miner_weights, require_distance, resolve_distance, zero_loss)

__all__ = [
    "proxy_anchor_loss",
    "ProxyAnchorLoss",
    "nca_loss",
    "NCALoss",
    "ProxyNCALoss",
    "SoftTripleLoss",
]


def _no_ref(owner: str, ref_emb: Any, ref_labels: Any) -> None:
    from ..errors import InputError

    if ref_emb is not None or ref_labels is not None:
        raise InputError(f"{owner} does not take ref_emb / ref_labels (it compares with its proxies).")


def _init(param: torch.nn.Parameter, weight_init_func: Callable | None, default: Callable) -> None:
    (weight_init_func or default)(param.data)


# ------------------------------------------------------------------------------ proxy anchor

_PA = {"num_classes": (POS_INT,), "embedding_size": (POS_INT,), "margin": (REAL,), "alpha": (POSITIVE,)}


def proxy_anchor_loss(embeddings: torch.Tensor, labels: Any, proxies: torch.Tensor, *, margin: float = 0.1,
                      alpha: float = 32.0, indices_tuple: Any = None, distance: Any = None) -> torch.Tensor:
    """Proxy-anchor loss of embeddings against class proxies.

    From "Proxy Anchor Loss for Deep Metric Learning" (Kim et al., 2020):
    ``1/|P+| sum_{c in P+} log(1 + sum_{x in c} exp(-alpha (s(x, c) - margin)))
    + 1/C sum_c log(1 + sum_{x not in c} exp(alpha (s(x, c) + margin)))`` where P+ are the
    classes present in the batch.

    Parameters
    ----------
    embeddings : torch.Tensor, shape (n, d)
    labels : int tensor, shape (n,), values in [0, C)
    proxies : torch.Tensor, shape (C, d)
    margin, alpha : float, default=0.1, 32
    indices_tuple : optional miner output; turns into per-sample weights added in log space
    distance : default cosine similarity
    """
    owner = "proxy_anchor_loss"
    check_params(owner, {"margin": margin, "alpha": alpha}, _PA)
    dist = resolve_distance(distance, Distance("cosine_similarity"), owner)
    batch, idx = batch_and_indices(owner, embeddings, labels, indices_tuple, None, None, labels_required=True)
    class_indices(batch.labels, proxies.shape[0], owner)
    return _proxy_anchor(batch, idx, proxies, dist, margin, alpha)


def _proxy_anchor(batch: Batch, indices, proxies, distance, margin, alpha) -> torch.Tensor:
    emb = batch.embeddings
    weights = miner_weights(indices, emb.shape[0], emb.dtype, emb.device).unsqueeze(1) - 1
    sim = distance(emb, proxies.to(emb.dtype))
    num_classes = proxies.shape[0]
    pos = torch.nn.functional.one_hot(batch.labels, num_classes).bool()
    bound = cosine_bound(distance, alpha * (abs(margin) + 1))
    pos_term = masked_logsumexp(alpha * distance.margin(sim, margin) + weights, pos, 0, add_one=True, upper=bound)
    neg_term = masked_logsumexp(alpha * distance.margin(-margin, sim) + weights, ~pos, 0, add_one=True, upper=bound)
    with_pos = pos.any(0).sum()
    return pos_term.sum() / with_pos + neg_term.sum() / num_classes


class ProxyAnchorLoss(torch.nn.Module):
    """Proxy-anchor loss (Kim et al., 2020) with learnable ``proxies`` (C, d); PML-compatible.

    Proxies start from Kaiming-normal (fan out) as in PML, or from ``weight_init_func``.
    Optimize them (``loss.parameters()``) with a larger learning rate than the model, as the
    paper does.
    """

    def __init__(self, num_classes: int, embedding_size: int, margin: float = 0.1, alpha: float = 32, *,
                 distance: Any = None, weight_init_func: Callable | None = None) -> None:
        super().__init__()
        check_params("ProxyAnchorLoss", {"num_classes": num_classes, "embedding_size": embedding_size,
                                         "margin": margin, "alpha": alpha}, _PA)
        self.num_classes, self.margin, self.alpha = num_classes, margin, alpha
        self.proxies = torch.nn.Parameter(torch.empty(num_classes, embedding_size))
        _init(self.proxies, weight_init_func, lambda t: torch.nn.init.kaiming_normal_(t, mode="fan_out"))
        self.distance = resolve_distance(distance, Distance("cosine_similarity"), "ProxyAnchorLoss")

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None) -> torch.Tensor:
        _no_ref("ProxyAnchorLoss", ref_emb, ref_labels)
        batch, idx = batch_and_indices("ProxyAnchorLoss", embeddings, labels, indices_tuple, None, None,
                                       labels_required=True)
        class_indices(batch.labels, self.num_classes, "ProxyAnchorLoss")
        return _proxy_anchor(batch, idx, self.proxies, self.distance, self.margin, self.alpha)


# ------------------------------------------------------------------------------ NCA

_NCA = {"softmax_scale": (POSITIVE,)}


def _nca(query, reference, q_labels, r_labels, weights, distance, scale, self_ref: bool) -> torch.Tensor:
    mat = distance(query, None if self_ref else reference)
    if not distance.is_inverted:
        mat = -mat
    if self_ref:
        eye = torch.eye(mat.shape[0], dtype=torch.bool, device=mat.device)
        mat = mat.masked_fill(eye, torch.finfo(mat.dtype).min)
    prob = torch.softmax(scale * mat, dim=1)
    same = q_labels.unsqueeze(1) == r_labels.unsqueeze(0)
    p_same = torch.where(same, prob, 0.0).sum(dim=1)
    nonzero = p_same != 0
    losses = -torch.log(torch.where(nonzero, p_same, 1.0)) * weights
    return torch.where(nonzero, losses, 0.0).sum() / nonzero.sum().clamp_min(1)  # 0 when no row counts


def nca_loss(embeddings: torch.Tensor, labels: Any, indices_tuple: Any = None, ref_emb=None, ref_labels=None, *,
             softmax_scale: float = 1.0, distance: Any = None) -> torch.Tensor:
    """Neighbourhood components analysis loss: -log P(a neighbour drawn by softmax shares the label).

    From "Neighbourhood Components Analysis" (Goldberger et al., 2004). Neighbours are drawn
    with probability ``softmax(-softmax_scale * d)`` (a point never draws itself); samples
    with no same-label neighbour are left out of the mean. Default distance: squared
    Euclidean on normalized rows (PML's ``LpDistance(power=2)``).
    """
    owner = "nca_loss"
    check_params(owner, {"softmax_scale": softmax_scale}, _NCA)
    dist = resolve_distance(distance, Distance("sqeuclidean"), owner)
    batch, idx = batch_and_indices(owner, embeddings, labels, indices_tuple, ref_emb, ref_labels, labels_required=True)
    return _nca_batch(batch, idx, dist, softmax_scale)


def _nca_batch(batch: Batch, idx, distance, scale) -> torch.Tensor:
    emb = batch.embeddings
    if emb.shape[0] <= 1:
        return zero_loss(emb)
    if fusable(distance, tuple(_FUSED)):
        weights = None if idx is None else miner_weights(idx, emb.shape[0], emb.dtype, emb.device,
                                                         using_ref=not batch.self_ref)
        return nca_fused(emb, None if batch.self_ref else batch.ref_emb, batch.labels, batch.ref_labels, weights,
                         _FUSED[distance.name], _FLOOR[emb.dtype], scale)
    weights = miner_weights(idx, emb.shape[0], emb.dtype, emb.device, using_ref=not batch.self_ref)
    return _nca(emb, batch.ref_emb, batch.labels, batch.ref_labels, weights, distance, scale, batch.self_ref)


class NCALoss(torch.nn.Module):
    """NCA loss (Goldberger et al., 2004); see :func:`nca_loss`. PML-compatible."""

    def __init__(self, softmax_scale: float = 1, *, distance: Any = None) -> None:
        super().__init__()
        check_params("NCALoss", {"softmax_scale": softmax_scale}, _NCA)
        self.softmax_scale = softmax_scale
        self.distance = resolve_distance(distance, Distance("sqeuclidean"), "NCALoss")

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None) -> torch.Tensor:
        batch, idx = batch_and_indices("NCALoss", embeddings, labels, indices_tuple, ref_emb, ref_labels,
                                       labels_required=True)
        return _nca_batch(batch, idx, self.distance, self.softmax_scale)


class ProxyNCALoss(torch.nn.Module):
    """Proxy-NCA loss: NCA against one learnable proxy per class; PML-compatible.

    From "No Fuss Distance Metric Learning using Proxies" (Movshovitz-Attias et al., 2017).
    ``proxies`` (C, d) start standard normal, as in PML.
    """

    def __init__(self, num_classes: int, embedding_size: int, softmax_scale: float = 1, *, distance: Any = None,
                 weight_init_func: Callable | None = None) -> None:
        super().__init__()
        check_params("ProxyNCALoss", {"num_classes": num_classes, "embedding_size": embedding_size,
                                      "softmax_scale": softmax_scale}, {**_PA, **_NCA})
        self.num_classes, self.softmax_scale = num_classes, softmax_scale
        self.proxies = torch.nn.Parameter(torch.empty(num_classes, embedding_size))
        _init(self.proxies, weight_init_func, torch.nn.init.normal_)
        self.distance = resolve_distance(distance, Distance("sqeuclidean"), "ProxyNCALoss")

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None) -> torch.Tensor:
        _no_ref("ProxyNCALoss", ref_emb, ref_labels)
        batch, idx = batch_and_indices("ProxyNCALoss", embeddings, labels, indices_tuple, None, None,
                                       labels_required=True)
        emb = batch.embeddings
        class_indices(batch.labels, self.num_classes, "ProxyNCALoss")
        if fusable(self.distance, ("sqeuclidean",)):
            weights = None if idx is None else miner_weights(idx, emb.shape[0], emb.dtype, emb.device, using_ref=True)
            spec = Logits("proxynca", self.softmax_scale, floor=_FLOOR[emb.dtype], reduction="nca")
            return class_softmax_loss(emb, self.proxies.to(emb.dtype), batch.labels, weights, spec)
        weights = miner_weights(idx, emb.shape[0], emb.dtype, emb.device, using_ref=True)
        proxy_labels = torch.arange(self.num_classes, device=emb.device)
        return _nca(emb, self.proxies.to(emb.dtype), batch.labels, proxy_labels, weights, self.distance,
                    self.softmax_scale, False)


# ------------------------------------------------------------------------------ SoftTriple

_ST = {"num_classes": (POS_INT,), "embedding_size": (POS_INT,), "centers_per_class": (POS_INT,), "la": (POSITIVE,),
       "gamma": (POSITIVE,), "margin": (REAL,)}


class SoftTripleLoss(torch.nn.Module):
    """SoftTriple loss: softmax over classes, each a soft maximum over ``centers_per_class`` centres.

    From "SoftTriple Loss: Deep Metric Learning Without Triplet Sampling" (Qian et al., 2019).
    Class similarity ``S_c = sum_k softmax_k(s_ck / gamma) s_ck``; loss = cross-entropy of
    ``la * (S - margin * onehot)``. Centres ``fc`` (d, C*K), Kaiming-uniform as in PML. The
    paper's centre-merging regularizer is not included (PML leaves it out too).
    """

    def __init__(self, num_classes: int, embedding_size: int, centers_per_class: int = 10, la: float = 20,
                 gamma: float = 0.1, margin: float = 0.01, *, distance: Any = None,
                 weight_init_func: Callable | None = None) -> None:
        super().__init__()
        check_params("SoftTripleLoss", {"num_classes": num_classes, "embedding_size": embedding_size,
                                        "centers_per_class": centers_per_class, "la": la, "gamma": gamma,
                                        "margin": margin}, _ST)
        self.num_classes, self.centers_per_class = num_classes, centers_per_class
        self.la, self.gamma, self.margin = la, 1.0 / gamma, margin
        self.fc = torch.nn.Parameter(torch.empty(embedding_size, num_classes * centers_per_class))
        _init(self.fc, weight_init_func, lambda t: torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5)))
        self.distance = resolve_distance(distance, Distance("cosine_similarity"), "SoftTripleLoss")
        require_distance(self.distance, ("cosine_similarity", "dot"), "SoftTripleLoss")

    def get_logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Class similarities (n, C)."""
        sim = self.distance(embeddings, self.fc.to(embeddings.dtype).T)
        sim = sim.view(-1, self.num_classes, self.centers_per_class)
        return (torch.softmax(sim * self.gamma, dim=2) * sim).sum(dim=2)

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None) -> torch.Tensor:
        _no_ref("SoftTripleLoss", ref_emb, ref_labels)
        batch, idx = batch_and_indices("SoftTripleLoss", embeddings, labels, indices_tuple, None, None,
                                       labels_required=True)
        emb = batch.embeddings
        y = class_indices(batch.labels, self.num_classes, "SoftTripleLoss")
        if fusable(self.distance, ("cosine_similarity", "dot")):
            weights = None if idx is None else miner_weights(idx, emb.shape[0], emb.dtype, emb.device)
            spec = Logits("softtriple", self.la, self.margin, centers=self.centers_per_class, gamma=self.gamma)
            return class_softmax_loss(emb, self.fc.to(emb.dtype).T, y, weights, spec)
        weights = miner_weights(idx, emb.shape[0], emb.dtype, emb.device)
        logits = self.get_logits(emb)
        logits = logits - self.margin * torch.nn.functional.one_hot(y, self.num_classes).to(emb.dtype)
        losses = torch.nn.functional.cross_entropy(self.la * logits, y, reduction="none")
        return (losses * weights).mean()

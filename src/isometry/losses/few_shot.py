"""Proto-Triplet and ICNN losses for few-shot metric learning.

From "SuSana Distancia is all you need: Enforcing class separability in metric
learning via two novel distance-based loss functions for few-shot image
classification" (Mendez-Ruiz et al., 2023).

* Proto-Triplet: prototypes p_c are class means (of a support set, or of the
  batch itself). For each query q with class y:
  max(0, d(q, p_y) - min_{c != y} d(q, p_c) + margin), averaged; d is Euclidean.
* ICNN: minus the log of the ICNN score (inter/intra-class nearest neighbours) of
  the batch. For each row i, with N_k(i) its k nearest other rows and delta_i the
  distance to its nearest row of another class:
  - same-class term: distances to same-class neighbours divided by delta_i, each
    row's values divided by max(1, their maximum); lambda_same = 1 - mean over rows
    (with such neighbours) of their mean;
  - other-class term: distances to other-class neighbours divided by the largest
    such distance in the batch; lambda_other = mean over rows (with such
    neighbours) of their mean, or 1 when no row has one;
  - gamma = mean over rows of the share of same-class rows in N_k(i);
  score = ((lambda_same + lambda_other) / 2 + gamma) / 2 in (0, 1], loss = -log score.
  The neighbour sets are picked without gradient (gamma is piecewise constant);
  gradients flow through the distances. This follows the authors' released
  "modified score"; delta_i is taken over the whole batch rather than over the
  first neighbours only.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from .._validate import Interval, check_param, encode_labels, check_labels
from ..distances import euclidean
from ..errors import InputError
from ._literature_checks import check_batch, check_tensor

__all__ = ["class_prototypes", "proto_triplet_loss", "icnn_score", "ProtoTripletLoss", "ICNNLoss"]

_EPS = 1e-12


def class_prototypes(embeddings: torch.Tensor, codes: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Mean embedding of each class 0..num_classes-1, shape (num_classes, d)."""
    members = F.one_hot(codes, num_classes).to(embeddings.dtype)
    return (members.T @ embeddings) / members.sum(dim=0).clamp_min(1.0)[:, None]


def proto_triplet_loss(queries: torch.Tensor, codes: torch.Tensor, prototypes: torch.Tensor, *, margin: float = 0.5) -> torch.Tensor:
    """Proto-Triplet loss of queries (n, d) with codes (n,) against prototypes (C, d), C >= 2."""
    dist = euclidean(queries, prototypes, eps=_EPS)
    own = F.one_hot(codes, prototypes.shape[0]).bool()
    positive = dist[own]
    hardest_negative = dist.masked_fill(own, float("inf")).min(dim=1).values
    return F.relu(positive - hardest_negative + margin).mean()


def icnn_score(embeddings: torch.Tensor, codes: torch.Tensor, *, k: int = 4) -> torch.Tensor:
    """ICNN score in (0, 1] of a batch (n, d) with codes (n,); k < n nearest neighbours."""
    n = embeddings.shape[0]
    dist = euclidean(embeddings, embeddings, eps=_EPS)
    self_mask = torch.eye(n, dtype=torch.bool, device=dist.device)
    with torch.no_grad():
        neighbours = dist.masked_fill(self_mask, float("inf")).topk(k, dim=1, largest=False).indices
    near = dist.gather(1, neighbours)
    same = codes[neighbours] == codes[:, None]
    other_class = (codes[:, None] != codes[None, :])
    delta = dist.masked_fill(~other_class, float("inf")).min(dim=1, keepdim=True).values
    rel = torch.where(same, near / delta, torch.zeros_like(near))
    rel = rel / rel.max(dim=1, keepdim=True).values.clamp_min(1.0)
    n_same = same.sum(dim=1)
    has_same = n_same > 0
    lam_same = 1.0 - (rel.sum(dim=1)[has_same] / n_same[has_same]).mean() if has_same.any() else near.sum() * 0.0 + 1.0
    far = torch.where(same, torch.zeros_like(near), near)
    n_other = (~same).sum(dim=1)
    has_other = n_other > 0
    if has_other.any():
        far = far / far.max().clamp_min(_EPS)
        lam_other = (far.sum(dim=1)[has_other] / n_other[has_other]).mean()
    else:
        lam_other = near.sum() * 0.0 + 1.0
    gamma = same.to(near.dtype).mean()
    return ((lam_same + lam_other) / 2 + gamma) / 2


class ProtoTripletLoss(torch.nn.Module):
    """Proto-Triplet loss (Mendez-Ruiz et al., 2023).

    ``forward(embeddings, labels, support=None, support_labels=None)``: the queries
    are ``embeddings``; prototypes are the class means of ``support`` when given,
    else of the batch itself. Every query label must have a prototype, and at
    least two classes are needed.

    Parameters
    ----------
    margin : float, default=0.5
        Required gap (>= 0) between the own-prototype and nearest other-prototype distances.
    """

    def __init__(self, *, margin: float = 0.5) -> None:
        super().__init__()
        self.margin = check_param(margin, "margin", type(self).__name__, Interval(numbers.Real, 0, None))

    def forward(self, embeddings: torch.Tensor, labels, support: torch.Tensor | None = None, support_labels=None) -> torch.Tensor:
        owner = type(self).__name__
        x = check_tensor(embeddings, "embeddings", owner)
        y = check_labels(labels, x.shape[0])
        if support is None:
            if support_labels is not None:
                raise InputError(f"{owner}: support_labels given without support.")
            s, s_y = x, y
        else:
            s = check_tensor(support, "support", owner)
            s_y = check_labels(support_labels, s.shape[0], name="support_labels")
            if s.shape[1] != x.shape[1]:
                raise InputError(f"{owner}: support has {s.shape[1]} features but embeddings have {x.shape[1]}.")
        (q_codes, s_codes), classes = encode_labels(y, s_y)
        missing = sorted(set(q_codes.tolist()) - set(s_codes.tolist()))
        if missing:
            raise InputError(f"{owner}: {len(missing)} query label(s) have no support rows, e.g. {classes[missing[0]]!r}.")
        n_classes = len(classes)
        if len(set(s_codes.tolist())) < 2:
            raise InputError(f"{owner} needs prototypes of at least 2 classes; got 1.")
        q_codes = torch.as_tensor(q_codes, device=x.device)
        protos = class_prototypes(s.to(x.dtype), torch.as_tensor(s_codes, device=x.device), n_classes)
        present = torch.zeros(n_classes, dtype=torch.bool, device=x.device)
        present[torch.as_tensor(s_codes, device=x.device)] = True
        remap = torch.cumsum(present.long(), 0) - 1
        return proto_triplet_loss(x, remap[q_codes], protos[present], margin=float(self.margin))


class ICNNLoss(torch.nn.Module):
    """ICNN loss, ``-log(icnn_score)`` (Mendez-Ruiz et al., 2023); ``forward(embeddings, labels)``.

    Parameters
    ----------
    k : int, default=4
        Neighbours per row (the authors' default); reduced to n - 1 for smaller batches.
    """

    def __init__(self, *, k: int = 4) -> None:
        super().__init__()
        self.k = check_param(k, "k", type(self).__name__, Interval(numbers.Integral, 1, None))

    def forward(self, embeddings: torch.Tensor, labels) -> torch.Tensor:
        x, codes = check_batch(embeddings, labels, type(self).__name__, min_rows=2)
        if int(codes.max()) == 0:
            raise InputError(f"{type(self).__name__} needs at least 2 classes in the batch; all rows share one label.")
        k = min(int(self.k), x.shape[0] - 1)
        return -torch.log(icnn_score(x, codes, k=k))

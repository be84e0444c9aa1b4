"""Relational knowledge distillation (RKD): distance-wise and angle-wise losses.

From "Relational Knowledge Distillation" (Park, Kim, Lu & Cho, CVPR 2019). A
student copies the *relations* between a teacher's embeddings instead of the
embeddings themselves, so the two may have different widths.

* distance: psi_D(t_i, t_j) = ||t_i - t_j|| / mu, with mu the mean distance over
  pairs i != j of the batch; loss = mean over pairs of Huber(psi_D(s) - psi_D(t)).
* angle: psi_A(t_i, t_j, t_k) = <e_ij, e_kj>, e_ij = (t_i - t_j) / ||t_i - t_j||;
  loss = mean over triplets of distinct i, j, k of Huber(psi_A(s) - psi_A(t)).

Huber is the smooth L1 with delta = 1, as in the paper. The teacher is detached.
The angle loss builds an (n, n, n) tensor: meant for batches up to a few hundred.
Signature: ``forward(student, teacher)``; both (n, d_s) and (n, d_t) tensors.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from .._validate import Interval, check_param
from ..distances import euclidean
from ..errors import InputError
from ._literature_checks import check_tensor

__all__ = ["rkd_distance_loss", "rkd_angle_loss", "RKDDistanceLoss", "RKDAngleLoss", "RKDLoss"]


def _normalized_distances(x: torch.Tensor) -> torch.Tensor:
    d = euclidean(x, x)
    off = ~torch.eye(x.shape[0], dtype=torch.bool, device=x.device)
    return d[off] / d[off].mean().clamp_min(torch.finfo(d.dtype).tiny)


def _angles(x: torch.Tensor) -> torch.Tensor:
    """cos of the angle at j between i and k, over distinct (i, j, k): a flat vector."""
    n = x.shape[0]
    diff = x[None, :, :] - x[:, None, :]  # diff[j, i] = x_i - x_j
    unit = diff / diff.norm(dim=2, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)
    cos = unit @ unit.transpose(1, 2)  # cos[j, i, k]
    eye = torch.eye(n, dtype=torch.bool, device=x.device)
    distinct = ~(eye[:, :, None] | eye[:, None, :] | eye[None, :, :])
    return cos[distinct]


def rkd_distance_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Distance-wise RKD loss of student (n, d_s) against teacher (n, d_t), a scalar."""
    with torch.no_grad():
        target = _normalized_distances(teacher)
    return F.smooth_l1_loss(_normalized_distances(student), target, beta=1.0)


def rkd_angle_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Angle-wise RKD loss of student (n, d_s) against teacher (n, d_t); n >= 3."""
    with torch.no_grad():
        target = _angles(teacher)
    return F.smooth_l1_loss(_angles(student), target, beta=1.0)


def _check_pair(student, teacher, owner: str, min_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    s = check_tensor(student, "student", owner, min_rows=min_rows)
    t = check_tensor(teacher, "teacher", owner, min_rows=min_rows)
    if s.shape[0] != t.shape[0]:
        raise InputError(f"{owner}: student has {s.shape[0]} rows but teacher has {t.shape[0]}; give one teacher row per student row.")
    return s, t.to(dtype=s.dtype, device=s.device)


class RKDDistanceLoss(torch.nn.Module):
    """Distance-wise RKD loss (Park et al., 2019); ``forward(student, teacher)``.

    Invariant to a global scale of either side: zero when the student is the
    teacher up to scale, rotation and translation.

    Examples
    --------
    >>> import torch
    >>> t = torch.randn(6, 4, dtype=torch.float64)
    >>> float(RKDDistanceLoss()(3.0 * t, t)) < 1e-12
    True
    """

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        s, t = _check_pair(student, teacher, type(self).__name__, 2)
        return rkd_distance_loss(s, t)


class RKDAngleLoss(torch.nn.Module):
    """Angle-wise RKD loss (Park et al., 2019); ``forward(student, teacher)``, n >= 3."""

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        s, t = _check_pair(student, teacher, type(self).__name__, 3)
        return rkd_angle_loss(s, t)


class RKDLoss(torch.nn.Module):
    """Weighted sum of the RKD distance and angle losses; ``forward(student, teacher)``.

    Parameters
    ----------
    distance_weight : float, default=25.0
    angle_weight : float, default=50.0
        Both >= 0; the defaults are the paper's lambda_D and lambda_A for metric
        learning.
    """

    def __init__(self, *, distance_weight: float = 25.0, angle_weight: float = 50.0) -> None:
        super().__init__()
        owner = type(self).__name__
        self.distance_weight = check_param(distance_weight, "distance_weight", owner, Interval(numbers.Real, 0, None))
        self.angle_weight = check_param(angle_weight, "angle_weight", owner, Interval(numbers.Real, 0, None))

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        s, t = _check_pair(student, teacher, type(self).__name__, 3)
        return self.distance_weight * rkd_distance_loss(s, t) + self.angle_weight * rkd_angle_loss(s, t)

"""Deep metric learning losses (PyTorch), import-compatible with pytorch-metric-learning.

Each family lives in its own module with a plain function first and a thin
``torch.nn.Module`` beside it. Shared losses keep PML's class names, hyperparameter
names, defaults, default distances and default reductions.
"""

from __future__ import annotations

# --- literature losses (owned by the literature-losses helper) ---
from .alignment_uniformity import AlignmentLoss, AlignmentUniformityLoss, UniformityLoss, alignment_loss, uniformity_loss
from .hedged import HedgedInstanceLoss, hedged_instance_loss
from .mmcr import MMCRLoss, mmcr_loss
from .relational import RKDAngleLoss, RKDDistanceLoss, RKDLoss, rkd_angle_loss, rkd_distance_loss

_LITERATURE = [
    "AlignmentLoss", "AlignmentUniformityLoss", "UniformityLoss", "alignment_loss", "uniformity_loss",
    "HedgedInstanceLoss", "hedged_instance_loss", "MMCRLoss", "mmcr_loss",
    "RKDAngleLoss", "RKDDistanceLoss", "RKDLoss", "rkd_angle_loss", "rkd_distance_loss",
]
# --- end literature losses ---

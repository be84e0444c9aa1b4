"""Deep metric learning losses (PyTorch), import-compatible with pytorch-metric-learning.

Each family lives in its own module with a plain function first and a thin
``torch.nn.Module`` beside it. Shared losses keep PML's class names, hyperparameter
names, defaults, default distances and default reductions.
"""

from __future__ import annotations

from ._base import Distance
from .cross_batch_memory import CrossBatchMemory
from .distributed import DistributedLossWrapper, DistributedMinerWrapper
from .pairs import (ContrastiveLoss, MarginLoss, SignalToNoiseRatioContrastiveLoss, TripletMarginLoss,
                    contrastive_loss, margin_loss, triplet_margin_loss)
from .proxies import NCALoss, ProxyAnchorLoss, ProxyNCALoss, SoftTripleLoss, nca_loss, proxy_anchor_loss
from .self_supervised import NTXentLoss, SupConLoss, ntxent_loss, supcon_loss
from .similarity import (CircleLoss, LiftedStructureLoss, MultiSimilarityLoss, circle_loss,
                         lifted_structure_loss, multi_similarity_loss)
from .threshold import ThresholdConsistentMarginLoss, threshold_consistent_margin_loss
from .softmax_margins import (ArcFaceLoss, CosFaceLoss, NormalizedSoftmaxLoss, SubCenterArcFaceLoss,
                              arcface_logits, cosface_logits)

__all__ = [
    "Distance",
    "ContrastiveLoss", "contrastive_loss",
    "SignalToNoiseRatioContrastiveLoss",
    "TripletMarginLoss", "triplet_margin_loss",
    "MarginLoss", "margin_loss",
    "MultiSimilarityLoss", "multi_similarity_loss",
    "CircleLoss", "circle_loss",
    "LiftedStructureLoss", "lifted_structure_loss",
    "NTXentLoss", "ntxent_loss",
    "SupConLoss", "supcon_loss",
    "NCALoss", "nca_loss",
    "ProxyNCALoss",
    "ProxyAnchorLoss", "proxy_anchor_loss",
    "SoftTripleLoss",
    "NormalizedSoftmaxLoss",
    "CosFaceLoss", "cosface_logits",
    "ArcFaceLoss", "arcface_logits",
    "SubCenterArcFaceLoss",
    "ThresholdConsistentMarginLoss", "threshold_consistent_margin_loss",
    "CrossBatchMemory",
    "DistributedLossWrapper", "DistributedMinerWrapper",
]

# --- literature losses (owned by the literature-losses helper) ---
from .alignment_uniformity import AlignmentLoss, AlignmentUniformityLoss, UniformityLoss, alignment_loss, uniformity_loss
from .contextual import ContextualLoss, contextual_loss, contextual_similarity
from .equiangular import EBVLoss, ebv_loss, equiangular_basis_vectors
from .few_shot import ICNNLoss, ProtoTripletLoss, icnn_score, proto_triplet_loss
from .hedged import HedgedInstanceLoss, hedged_instance_loss
from .metrix import MetrixContrastiveLoss, MetrixMultiSimilarityLoss, MetrixProxyAnchorLoss, mix_embeddings
from .mmcr import MMCRLoss, mmcr_loss
from .nbc_softmax import NBCSoftmaxLoss, nbc_softmax_loss
from .procsim import ProcSimLoss, procsim_confidence, procsim_loss
from .relational import RKDAngleLoss, RKDDistanceLoss, RKDLoss, rkd_angle_loss, rkd_distance_loss

_LITERATURE = [
    "AlignmentLoss", "AlignmentUniformityLoss", "UniformityLoss", "alignment_loss", "uniformity_loss",
    "EBVLoss", "ebv_loss", "equiangular_basis_vectors", "ICNNLoss", "ProtoTripletLoss", "icnn_score", "proto_triplet_loss",
    "HedgedInstanceLoss", "hedged_instance_loss", "MMCRLoss", "mmcr_loss", "NBCSoftmaxLoss", "nbc_softmax_loss",
    "RKDAngleLoss", "RKDDistanceLoss", "RKDLoss", "rkd_angle_loss", "rkd_distance_loss",
    "ContextualLoss", "contextual_loss", "contextual_similarity",
    "MetrixContrastiveLoss", "MetrixMultiSimilarityLoss", "MetrixProxyAnchorLoss", "mix_embeddings",
    "ProcSimLoss", "procsim_confidence", "procsim_loss",
]
# --- end literature losses ---

__all__ += list(globals().get("_LITERATURE", []))

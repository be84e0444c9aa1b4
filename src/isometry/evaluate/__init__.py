"""Evaluate an embedding space: retrieval, clustering, verification, selective
classification and out-of-distribution metrics."""

from .clustering import ami, kmeans_labels, nmi
from .retrieval import RECALL_KS, RETRIEVAL_METRICS, retrieval, retrieval_per_query

__all__ = ["retrieval", "retrieval_per_query", "RETRIEVAL_METRICS", "RECALL_KS", "nmi", "ami", "kmeans_labels"]

# --- verification / selective / ood (owned by the verification helper) ---
from ._pairs import PairScores, pair_scores
from .ood import OOD_METRICS, autc, fpr_at_tpr, knn_ood_scores, ood_metrics
from .selective import SELECTIVE_METRICS, augrc, aurc, e_aurc, knn_confidence, risk_coverage_curve, selective_metrics
from .threshold import THRESHOLD_METRICS, epsilon_opis, opis, threshold_consistency
from .verification import (
    VERIFICATION_METRICS,
    average_precision,
    equal_error_rate,
    roc_auc,
    roc_curve,
    tar_at_far,
    verification_metrics,
)

__all__ += [
    "pair_scores", "PairScores", "verification_metrics", "roc_curve", "roc_auc", "average_precision",
    "equal_error_rate", "tar_at_far", "VERIFICATION_METRICS", "threshold_consistency", "opis", "epsilon_opis",
    "THRESHOLD_METRICS", "selective_metrics", "risk_coverage_curve", "aurc", "e_aurc", "augrc", "knn_confidence",
    "SELECTIVE_METRICS", "ood_metrics", "autc", "fpr_at_tpr", "knn_ood_scores", "OOD_METRICS",
]
# --- end verification / selective / ood ---

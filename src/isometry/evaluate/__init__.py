"""Evaluate an embedding space: retrieval, clustering, verification, selective
classification and out-of-distribution metrics."""

from .clustering import ami, kmeans_labels, nmi
from .retrieval import RECALL_KS, RETRIEVAL_METRICS, retrieval, retrieval_per_query

__all__ = ["retrieval", "retrieval_per_query", "RETRIEVAL_METRICS", "RECALL_KS", "nmi", "ami", "kmeans_labels"]

# --- verification / selective / ood (owned by the verification helper) ---
# --- end verification / selective / ood ---

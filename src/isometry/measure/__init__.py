"""Geometry and capacity of embedding sets, and distances between two sets.

Every measure is a plain function on arrays (numpy or torch); see
:mod:`isometry.measure.registry` for the names used as JSON keys.
"""

from __future__ import annotations

from .boundary import boundary_scores, outlier_scores
from .capacity import manifold_capacity, mmcr_nuclear_norm, utilization
from .compare import classifier_discrepancy, frechet_distance, mmd, prdc
from .dimension import intrinsic_dimension, mle_dimension, twonn_dimension
from .magnitude import (
    MagnitudeFunction,
    SolverOptions,
    convergence_scale,
    magnitude,
    magnitude_dimension,
    magnitude_function,
    weighting_vector,
)
from .registry import COMPARISONS, MEASURES, compute_comparisons, compute_measures
from .spectrum import effective_rank, matrix_entropy, nuclear_norm, singular_values
from .uniformity import alignment, class_alignment, uniformity, wasserstein_uniformity

__all__ = [
    "weighting_vector", "magnitude", "magnitude_function", "magnitude_dimension", "convergence_scale",
    "MagnitudeFunction", "SolverOptions", "boundary_scores", "outlier_scores",
    "uniformity", "alignment", "class_alignment", "wasserstein_uniformity",
    "effective_rank", "matrix_entropy", "nuclear_norm", "singular_values",
    "intrinsic_dimension", "twonn_dimension", "mle_dimension",
    "manifold_capacity", "mmcr_nuclear_norm", "utilization",
    "frechet_distance", "prdc", "mmd", "classifier_discrepancy",
    "MEASURES", "COMPARISONS", "compute_measures", "compute_comparisons",
]

"""The measures of one set and the comparisons of two sets, one record each.

A record's name is its JSON key in ``isometry measure`` / ``isometry compare``;
``higher_is_better`` is ``None`` for descriptive quantities (dimensions). ``needs``
holds ``"labels"`` for class-based measures. Records sharing ``extra["group"]`` come from
one computation (PRDC's four numbers) that :func:`compute_comparisons` runs once.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np
from tqdm.auto import tqdm

from .._registry import Record, Registry
from .capacity import manifold_capacity, mmcr_nuclear_norm, utilization
from .compare import classifier_discrepancy, frechet_distance, mmd, prdc
from .dimension import intrinsic_dimension
from .magnitude import magnitude_dimension
from .spectrum import effective_rank, matrix_entropy, nuclear_norm
from .uniformity import class_alignment, uniformity, wasserstein_uniformity

__all__ = ["MEASURES", "COMPARISONS", "compute_measures", "compute_comparisons"]

MEASURES = Registry("measure")
COMPARISONS = Registry("comparison")

_LABELS = frozenset({"labels"})


def _add(registry: Registry, name: str, fn: Callable, higher: bool | None, desc: str,
         needs: frozenset = frozenset(), **extra: Any) -> None:
    registry.register(Record(name, fn, higher, needs, desc, dict(extra)))


_add(MEASURES, "uniformity", lambda x: uniformity(x), False,
     "Wang & Isola uniformity, t=2, on the unit sphere")
_add(MEASURES, "wasserstein_uniformity", wasserstein_uniformity, False,
     "W2 to N(0, I/d) of the normalized rows (Fang et al. 2024)")
_add(MEASURES, "effective_rank", lambda x: effective_rank(x), True,
     "exp entropy of singular values of centred rows (Roy & Vetterli 2007)")
_add(MEASURES, "matrix_entropy", lambda x: matrix_entropy(x), True,
     "von Neumann entropy / log d of the normalized-row covariance")
_add(MEASURES, "nuclear_norm", lambda x: nuclear_norm(x), True,
     "||A||_* / n of the normalized rows (Li et al. 2024)")
_add(MEASURES, "nuclear_norm_l12", lambda x: nuclear_norm(x, approximate=True), True,
     "L1,2 approximation of nuclear_norm")
_add(MEASURES, "intrinsic_dimension_twonn", lambda x: intrinsic_dimension(x, "twonn"), None,
     "TwoNN intrinsic dimension (Facco et al. 2017)")
_add(MEASURES, "intrinsic_dimension_mle", lambda x: intrinsic_dimension(x, "mle"), None,
     "Levina-Bickel MLE intrinsic dimension, k=20")
_add(MEASURES, "magnitude_dimension", lambda x: magnitude_dimension(x), None,
     "largest slope of log magnitude vs log scale (Meckes 2015)")
_add(MEASURES, "class_alignment", lambda x, y: class_alignment(x, y), False,
     "mean squared distance of same-class pairs on the sphere", _LABELS)
_add(MEASURES, "manifold_capacity", lambda x, y: manifold_capacity(x, y), True,
     "mean-field capacity of class manifolds (Chung et al. 2018)", _LABELS)
_add(MEASURES, "mmcr_nuclear_norm", mmcr_nuclear_norm, True,
     "nuclear norm of class centroids (Yerxa et al. 2023)", _LABELS)

for _key in ("precision", "recall", "density", "coverage"):
    _add(COMPARISONS, _key, lambda a, b: prdc(a, b, k=5), True,
         f"PRDC {_key}, k=5 (Naeem et al. 2020); A real, B fake", group="prdc")
_add(COMPARISONS, "frechet_distance", frechet_distance, False, "FID formula between the sets")
_add(COMPARISONS, "mmd", lambda a, b: mmd(a, b), False, "unbiased MMD^2, RBF, median heuristic")
_add(COMPARISONS, "classifier_discrepancy", lambda a, b: classifier_discrepancy(a, b), False,
     "JS-distance lower bound from a cross-validated classifier")
_add(COMPARISONS, "utilization", lambda a, b: utilization(b, a), False,
     "mean squared distance from each B row to its nearest A row (normalized)")


def compute_measures(X: Any, labels: Any = None, *, names: Iterable[str] | None = None,
                     progress: bool = False) -> dict[str, float]:
    """Every measure of ``MEASURES`` (or ``names``) for one set; label measures need ``labels``."""
    records = [MEASURES[n] for n in names] if names is not None else list(MEASURES)
    out = {}
    for rec in tqdm(records, desc="measure", disable=None if progress else True, leave=False):
        if "labels" in rec.needs:
            if labels is None:
                continue
            out[rec.name] = float(rec.function(X, labels))
        else:
            out[rec.name] = float(rec.function(X))
    return out


def compute_comparisons(A: Any, B: Any, *, names: Iterable[str] | None = None,
                        progress: bool = False) -> dict[str, float]:
    """Every comparison of ``COMPARISONS`` (or ``names``) between sets ``A`` and ``B``."""
    records = [COMPARISONS[n] for n in names] if names is not None else list(COMPARISONS)
    out, groups = {}, {}
    for rec in tqdm(records, desc="compare", disable=None if progress else True, leave=False):
        group = rec.extra.get("group")
        if group is None:
            out[rec.name] = float(rec.function(A, B))
            continue
        if group not in groups:
            groups[group] = rec.function(A, B)
        out[rec.name] = float(np.float64(groups[group][rec.name]))
    return out

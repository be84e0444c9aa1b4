"""Classical Mahalanobis metric learners with the scikit-learn API.

Class names, hyperparameter names and defaults follow metric-learn 0.7, so its users
switch by changing the import (``from isometry.learn import LMNN``). Every learner
has ``fit``, ``transform``, ``components_``, ``get_mahalanobis_matrix()``,
``pair_distance`` / ``pair_score`` and ``get_metric()``.
"""

from __future__ import annotations

from ._base import MahalanobisMixin, components_from_metric
from .constraints import Constraints, wrap_pairs
from .covariance import Covariance
from .lfda import LFDA
from .metric_nearness import MetricNearness
from .mlkr import MLKR
from .rca import RCA, RCA_Supervised
from .scml import SCML, SCML_Supervised
from .itml import ITML, ITML_Supervised
from .lmnn import LMNN
from .lsml import LSML, LSML_Supervised
from .mmc import MMC, MMC_Supervised
from .nca import NCA
from .sdml import SDML, SDML_Supervised

__all__ = [
    "LMNN",
    "NCA",
    "ITML",
    "ITML_Supervised",
    "LSML",
    "LSML_Supervised",
    "SDML",
    "SDML_Supervised",
    "MMC",
    "MMC_Supervised",
    "RCA",
    "RCA_Supervised",
    "LFDA",
    "MLKR",
    "SCML",
    "SCML_Supervised",
    "Covariance",
    "MetricNearness",
    "MahalanobisMixin",
    "components_from_metric",
    "Constraints",
    "wrap_pairs",
]

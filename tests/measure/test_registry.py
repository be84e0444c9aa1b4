import json

import numpy as np
import pytest

from conftest import clustered
from isometry.errors import InputError
from isometry.measure import COMPARISONS, MEASURES, compute_comparisons, compute_measures
from isometry.measure.figures import magnitude_function_figure, spectrum_figure


def test_registry_names_and_directions():
    assert {"uniformity", "effective_rank", "intrinsic_dimension_twonn", "manifold_capacity"} <= set(MEASURES.names())
    assert {"precision", "recall", "density", "coverage", "frechet_distance", "mmd"} <= set(COMPARISONS.names())
    assert MEASURES["uniformity"].higher_is_better is False
    with pytest.raises(InputError, match="Did you mean 'uniformity'"):
        MEASURES["uniformty"]


def test_compute_all_json_serializable():
    x, y = clustered(120, 6, 4)
    m = compute_measures(x, y)
    assert set(m) == set(MEASURES.names())
    assert "manifold_capacity" not in compute_measures(x, names=["uniformity", "manifold_capacity"])
    c = compute_comparisons(x[:60], x[60:])
    assert set(c) == set(COMPARISONS.names())
    json.dumps({**m, **c})


def test_permutation_invariance():
    x, y = clustered(100, 5, 3, dtype=np.float64)
    p = np.random.default_rng(0).permutation(100)
    names = ["uniformity", "effective_rank", "nuclear_norm", "intrinsic_dimension_mle", "mmcr_nuclear_norm"]
    a, b = compute_measures(x, y, names=names), compute_measures(x[p], y[p], names=names)
    for k in names:
        assert a[k] == pytest.approx(b[k], rel=1e-9)


def test_figures():
    x, _ = clustered(80, 5, 3)
    for fig in (magnitude_function_figure(x, n_scales=5), spectrum_figure(x)):
        assert fig.axes and fig.axes[0].lines

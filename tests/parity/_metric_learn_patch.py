"""Make metric-learn 0.7 run on scikit-learn >= 1.8, at runtime (what its master does).

Its ``check_array`` / ``check_X_y`` calls pass ``force_all_finite``, renamed
``ensure_all_finite`` in scikit-learn; SDML calls the public ``graphical_lasso`` with
``cov_init``, which it no longer takes. Nothing is pinned.
"""

from __future__ import annotations

import sys

import pytest


def _renamed(fn):
    def wrapper(*args, **kwargs):
        if "force_all_finite" in kwargs:
            kwargs["ensure_all_finite"] = kwargs.pop("force_all_finite")
        return fn(*args, **kwargs)

    return wrapper


def _graphical_lasso(emp_cov, alpha, cov_init=None, **kwargs):
    from sklearn.covariance._graph_lasso import _graphical_lasso as private

    return private(emp_cov, alpha, **kwargs)[:2]


def patch_metric_learn() -> pytest.MonkeyPatch:
    """Apply the patches to every imported metric_learn module; call ``.undo()`` when done."""
    from sklearn.utils.validation import check_array, check_X_y

    mp = pytest.MonkeyPatch()
    for name, mod in list(sys.modules.items()):
        if name.startswith("metric_learn") and mod is not None:
            if hasattr(mod, "check_array"):
                mp.setattr(mod, "check_array", _renamed(check_array))
            if hasattr(mod, "check_X_y"):
                mp.setattr(mod, "check_X_y", _renamed(check_X_y))
    if "metric_learn.sdml" in sys.modules:
        mp.setattr(sys.modules["metric_learn.sdml"], "graphical_lasso", _graphical_lasso)
    return mp

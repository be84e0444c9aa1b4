"""scikit-learn's own estimator checks over every learner exported by isometry.learn.

Supervised learners (fit(X, y) on 2-D X) run the full ``parametrize_with_checks``
suite with tiny iteration counts. Weakly supervised learners take 3-D tuples of
points; scikit-learn's suite skips estimators whose tags say ``two_d_array=False``
(its data-driven checks build 2-D X), so they run the data-free API checks here and
tuple-specific contract tests in test_weak.py.
"""

from __future__ import annotations

import inspect

import pytest
from sklearn.base import clone
from sklearn.utils import estimator_checks as ec
from sklearn.utils.estimator_checks import parametrize_with_checks

import isometry.learn as learn

#: Small iteration counts keep the suite fast (keys only applied where the estimator has them).
_FAST = {"max_iter": 5, "max_proj": 50, "n_constraints": 30}


def _fast(cls):
    names = inspect.signature(cls).parameters
    est = cls(**{k: v for k, v in _FAST.items() if k in names})
    if "random_state" in names:
        est.set_params(random_state=0)
    if "balance_param" in names:
        est.set_params(balance_param=1e-3)
    return est


def _learners():
    out = []
    for name in learn.__all__:
        obj = getattr(learn, name)
        if inspect.isclass(obj) and hasattr(obj, "fit") and hasattr(obj, "get_params"):
            out.append(obj)
    return out


def _is_weak(cls) -> bool:
    tags = cls().__sklearn_tags__()
    return not tags.input_tags.two_d_array


SUPERVISED = [_fast(c) for c in _learners() if not _is_weak(c)]
WEAK = [_fast(c) for c in _learners() if _is_weak(c)]


def _expected_failed(estimator):
    return getattr(estimator, "_expected_failed_checks", lambda: {})()


@parametrize_with_checks(SUPERVISED, expected_failed_checks=_expected_failed)
def test_sklearn_compatible(estimator, check):
    check(estimator)


_API_CHECKS = [
    ec.check_estimator_cloneable,
    ec.check_estimator_repr,
    ec.check_no_attributes_set_in_init,
    ec.check_get_params_invariance,
    ec.check_set_params,
    ec.check_parameters_default_constructible,
    ec.check_valid_tag_types,
    ec.check_estimator_tags_renamed,
    ec.check_mixin_order,
]


@pytest.mark.parametrize("estimator", WEAK, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("check", _API_CHECKS, ids=lambda c: c.__name__)
def test_weak_api_checks(estimator, check):
    check(type(estimator).__name__, clone(estimator))


def test_every_exported_learner_is_covered():
    assert len(SUPERVISED) >= 6
    assert {type(e).__name__ for e in WEAK} >= {"ITML", "LSML", "SDML", "MMC"}

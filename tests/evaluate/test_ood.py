"""OOD metrics: AUTC's closed form and tie case, FPR@95, AUPR, k-NN scores, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import clustered
from isometry.errors import InputError
from isometry.evaluate.ood import (
    OOD_METRICS,
    aupr_in,
    aupr_out,
    autc,
    fpr_at_tpr,
    knn_ood_scores,
    ood_auroc,
    ood_metrics,
)


def _autc_by_integration(ids, oods, grid=200001):
    t = np.linspace(0, 1, grid)
    fpr = (ids[None, :] >= t[:, None]).mean(1)
    fnr = (oods[None, :] < t[:, None]).mean(1)
    return np.trapezoid((fpr + fnr) / 2, t)


def test_autc_tie_case_from_peers_notes():
    assert autc([0.49] * 4, [0.51] * 4) == pytest.approx(0.49)


def test_autc_equals_threshold_integral(rng):
    ids = rng.beta(2, 5, 60)
    oods = rng.beta(5, 2, 40)
    assert autc(ids, oods) == pytest.approx(_autc_by_integration(ids, oods), abs=1e-4)


def test_autc_outside_unit_interval():
    with pytest.raises(InputError, match="normalize='minmax'"):
        autc([-1.0, 0.5], [0.2, 2.0])
    # minmax: pooled [-1, 2] -> ids (0, .5), oods (.4, 1)
    assert autc([-1.0, 0.5], [0.2, 2.0], normalize="minmax") == pytest.approx(0.5 * (0.25 + 1 - 0.7))
    assert autc([3.0, 3.0], [3.0], normalize="minmax") == 0.5
    with pytest.raises(InputError, match="normalize"):
        autc([0.1], [0.2], normalize="zscore")


def test_hand_made_metrics():
    r = ood_metrics([0.1, 0.2, 0.3], [0.25, 0.8, 0.9])
    assert r.auroc == pytest.approx(8 / 9)
    assert r.autc == pytest.approx(0.275)
    # ID positive, confidence -score: accepting all 3 ID needs threshold 0.3 -> OOD 0.25 accepted
    assert r.fpr_at_95_tpr == pytest.approx(1 / 3)
    # OOD positive ranking: .9 .8 (.3 .25 .2 .1 -> 0.25 at rank 4): AP = (1 + 1 + 3/4) / 3
    assert r.aupr_out == pytest.approx((1 + 1 + 0.75) / 3)
    assert r.n_id == 3 and r.n_ood == 3
    assert ood_auroc([0.1, 0.2, 0.3], [0.25, 0.8, 0.9]) == r.auroc
    assert aupr_out([0.1, 0.2, 0.3], [0.25, 0.8, 0.9]) == r.aupr_out
    assert aupr_in([0.1, 0.2, 0.3], [0.25, 0.8, 0.9]) == r.aupr_in
    assert fpr_at_tpr([0.1, 0.2, 0.3], [0.25, 0.8, 0.9]) == r.fpr_at_95_tpr


def test_fpr_at_95_brute_force(rng):
    ids = rng.normal(size=400).round(1)
    oods = (rng.normal(size=300) + 1.5).round(1)
    # smallest threshold set {accept s <= t}: first t accepting >= 95% of ID
    for t in np.unique(np.r_[ids, oods]):
        if (ids <= t).mean() >= 0.95:
            break
    assert fpr_at_tpr(ids, oods) == pytest.approx((oods <= t).mean())


def test_constant_scores():
    r = ood_metrics(np.full(5, 0.3), np.full(4, 0.3))
    assert r.auroc == 0.5 and r.fpr_at_95_tpr == 1.0 and r.autc == pytest.approx(0.5)


def test_bad_input():
    with pytest.raises(InputError, match="NaN"):
        ood_metrics([0.1, np.nan], [0.2])
    with pytest.raises(InputError, match="ood_scores is empty"):
        ood_metrics([0.1], [])
    with pytest.raises(InputError, match="tpr"):
        fpr_at_tpr([0.1], [0.2], tpr=1.5)
    with pytest.raises(InputError, match="normalize"):
        ood_metrics([0.1], [0.2], normalize="z")


def test_knn_scores_match_brute_force():
    x, _ = clustered(50, 4, 3, seed=0, dtype=np.float64)
    q = x[:10] + 0.3
    s = knn_ood_scores(q, x, k=3, distance="euclidean")
    d = np.sort(np.linalg.norm(q[:, None] - x[None], axis=2), axis=1)
    assert np.allclose(s, d[:, 2])
    own = knn_ood_scores(x, k=1, distance="euclidean")
    dx = np.linalg.norm(x[:, None] - x[None], axis=2)
    np.fill_diagonal(dx, np.inf)
    assert np.allclose(own, dx.min(1))
    sim = knn_ood_scores(q, x, k=1, distance="cosine_similarity")
    cos = knn_ood_scores(q, x, k=1, distance="cosine")
    assert np.allclose(sim, cos - 1)
    assert np.allclose(knn_ood_scores(torch.from_numpy(q), torch.from_numpy(x), k=3, distance="euclidean"), s)


def test_knn_scores_separate_shifted_set():
    x, _ = clustered(200, 8, 4, seed=1)
    far = x[:80] + 3.0
    r = ood_metrics(knn_ood_scores(x, distance="euclidean"), knn_ood_scores(far, x, distance="euclidean"),
                    normalize="minmax")
    assert r.auroc > 0.95 and r.fpr_at_95_tpr < 0.2


def test_knn_scores_bad_input():
    x, _ = clustered(20, 4, 2)
    with pytest.raises(InputError, match="same width|features"):
        knn_ood_scores(x[:, :3], x)
    with pytest.raises(InputError, match="distance"):
        knn_ood_scores(x, distance="snr")
    with pytest.raises(InputError, match="candidate"):
        knn_ood_scores(x, k=20)


def test_registry():
    assert OOD_METRICS.names() == ["auroc", "fpr_at_95_tpr", "aupr_in", "aupr_out", "autc"]
    assert OOD_METRICS["autc"].higher_is_better is False and OOD_METRICS["auroc"].higher_is_better is True

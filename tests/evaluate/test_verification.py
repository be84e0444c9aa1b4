"""Verification metrics and pair scores: brute-force oracles, edge cases, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import clustered
from isometry.errors import InputError
from isometry.evaluate._pairs import pair_scores
from isometry.evaluate.verification import (
    VERIFICATION_METRICS,
    average_precision,
    binary_curve,
    equal_error_rate,
    roc_auc,
    roc_curve,
    tar_at_far,
    verification_metrics,
)


def _brute_auroc(s, y):
    pos, neg = s[y], s[~y]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size


def _brute_ap(s, y):
    # mean over positives of precision at their threshold (ties: everyone >= it)
    return np.mean([(y & (s >= t)).sum() / (s >= t).sum() for t in s[y]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_and_ap_match_brute_force_with_ties(seed):
    r = np.random.default_rng(seed)
    s = r.integers(0, 8, 120).astype(float)
    y = r.random(120) < 0.4
    assert roc_auc(s, y) == pytest.approx(_brute_auroc(s, y), abs=1e-12)
    assert average_precision(s, y) == pytest.approx(_brute_ap(s, y), abs=1e-12)


def test_hand_made_curve():
    fpr, tpr, thr = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    assert fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert thr[0] == np.inf and thr[1:].tolist() == [0.8, 0.4, 0.35, 0.1]
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75


def test_eer_on_separable_and_symmetric_cases():
    assert equal_error_rate([0, 1, 2, 3], [0, 0, 1, 1]) == 0.0
    # ROC points (0,0) (0,.5) (.5,.5) (.5,1) (1,1): FAR = FRR = 0.5 at the flat step
    assert equal_error_rate([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.5)
    # negatives 0..9, positives 8.5..17.5: at threshold 9 one error of each kind
    s = np.r_[np.arange(10), np.arange(10) + 8.5]
    y = np.r_[np.zeros(10, bool), np.ones(10, bool)]
    assert equal_error_rate(s, y) == pytest.approx(0.1, abs=1e-12)


def test_tar_at_far_steps_and_unmeasurable_far_is_nan():
    s = np.r_[np.arange(100.0), np.arange(100.0) + 50]
    y = np.r_[np.zeros(100, bool), np.ones(100, bool)]
    # FAR 0.1 = 10 negatives accepted: threshold 90 -> positives >= 90: 60 of 100
    assert tar_at_far(s, y, 0.1) == pytest.approx(0.6)
    assert tar_at_far(s, y, 0.01) == pytest.approx(0.51)
    assert math.isnan(tar_at_far(s, y, 1e-3))  # fewer than 1000 negatives


def test_constant_scores_are_chance():
    y = np.array([0, 1, 0, 1, 1], bool)
    r = verification_metrics(np.ones(5), y)
    assert r.auroc == 0.5 and r.eer == 0.5
    assert r.average_precision == pytest.approx(0.6)


def test_permutation_numpy_torch_and_float32_agree(rng):
    s = rng.normal(size=500)
    y = rng.random(500) < 0.3
    p = rng.permutation(500)
    base = verification_metrics(s, y)
    assert verification_metrics(s[p], y[p]).auroc == base.auroc
    assert roc_auc(torch.from_numpy(s), torch.from_numpy(y)) == base.auroc
    assert roc_auc(s.astype(np.float32), y) == pytest.approx(base.auroc, abs=1e-6)


def test_prevalence_reweights_ap_only(rng):
    s = rng.normal(size=400)
    y = rng.random(400) < 0.5
    weights = np.where(y, 1.0, 9.0)  # population has 9x the negatives
    prev = y.sum() / (y.sum() + 9 * (~y).sum())
    # brute-force weighted AP
    ap = sum(w * (weights * (y & (s >= t))).sum() / (weights * (s >= t)).sum()
             for t, w in zip(s[y], weights[y])) / weights[y].sum()
    assert average_precision(s, y, prevalence=prev) == pytest.approx(ap, abs=1e-12)
    assert verification_metrics(s, y, prevalence=prev).auroc == roc_auc(s, y)


@pytest.mark.parametrize(
    "scores, labels, match",
    [
        ([0.1, np.nan, 0.3], [0, 1, 1], "NaN"),
        ([0.1, np.inf, 0.3], [0, 1, 1], "NaN or inf"),
        ([0.1, 0.2], [0, 1, 1], "3 entries"),
        ([0.1, 0.2, 0.3], [1, 1, 1], "no negative"),
        ([0.1, 0.2, 0.3], [0, 0, 0], "no positive"),
        ([0.1, 0.2, 0.3], [0, 2, 1], "0/1"),
        ([[0.1, 0.2], [0.3, 0.4]], [0, 1], "1-D"),
        ([], [], "empty"),
        (["a", "b"], [0, 1], "real numbers"),
        ([0.1, 0.2], ["x", "y"], "booleans"),
    ],
)
def test_bad_input_is_input_error(scores, labels, match):
    with pytest.raises(InputError, match=match):
        roc_auc(np.asarray(scores), labels)


def test_bad_parameters():
    with pytest.raises(InputError, match="far"):
        tar_at_far([0, 1], [0, 1], far=0)
    with pytest.raises(InputError, match="prevalence"):
        average_precision([0, 1], [0, 1], prevalence=1.5)


def test_registry_names_and_directions():
    assert VERIFICATION_METRICS.names() == ["auroc", "average_precision", "eer", "tar_at_far"]
    assert VERIFICATION_METRICS["eer"].higher_is_better is False
    assert VERIFICATION_METRICS["auroc"].higher_is_better is True
    with pytest.raises(InputError, match="Did you mean 'auroc'"):
        VERIFICATION_METRICS["aurocc"]


def test_curve_counts():
    c = binary_curve([3, 3, 2, 1], [1, 0, 1, 0])
    assert c.thresholds.tolist() == [3, 2, 1]
    assert c.tps.tolist() == [1, 2, 2] and c.fps.tolist() == [1, 1, 2]


# ------------------------------------------------------------------ pair scores


def test_all_pairs_match_brute_force():
    x, y = clustered(40, 5, 4, seed=3, dtype=np.float64)
    ps = pair_scores(x, y, distance="euclidean")
    assert len(ps.scores) == 40 * 39 // 2 and not ps.positives_sampled and not ps.negatives_sampled
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    i, j = np.triu_indices(40, 1)
    order = np.lexsort((ps.second, ps.first))
    assert np.allclose(-ps.scores[order], d[i, j], atol=1e-12)
    assert (ps.is_positive[order] == (y[i] == y[j])).all()
    assert ps.n_positive_population == sum(c * (c - 1) // 2 for c in np.bincount(y))


def test_cross_pairs_and_cosine():
    x, y = clustered(30, 4, 3, seed=1, dtype=np.float64)
    r, ry = clustered(20, 4, 3, seed=2, dtype=np.float64)
    ps = pair_scores(x, y, reference=r, reference_labels=ry, distance="cosine_similarity")
    assert len(ps.scores) == 600
    xn, rn = x / np.linalg.norm(x, axis=1, keepdims=True), r / np.linalg.norm(r, axis=1, keepdims=True)
    assert np.allclose(ps.scores, (xn[ps.first] * rn[ps.second]).sum(1), atol=1e-12)
    assert (ps.is_positive == (y[ps.first] == ry[ps.second])).all()


def test_sampled_pairs_are_stratified_seeded_and_valid():
    x, y = clustered(300, 6, 6, seed=0, sizes=[10, 20, 40, 60, 70, 100])
    ps = pair_scores(x, y, max_pairs=4000, seed=7)
    assert ps.positives_sampled and ps.negatives_sampled and len(ps.scores) == 4000
    assert ps.is_positive.sum() == 2000
    pos = ps.is_positive
    assert (ps.first_class[pos] == ps.second_class[pos]).all()
    assert (ps.first_class[~pos] != ps.second_class[~pos]).all()
    assert (ps.first != ps.second).all()
    again = pair_scores(x, y, max_pairs=4000, seed=7)
    assert np.array_equal(again.first, ps.first) and np.array_equal(again.second, ps.second)
    # positives are uniform over positive pairs: class shares follow n_c (n_c - 1)
    sizes = np.bincount(y)
    expected = sizes * (sizes - 1) / (sizes * (sizes - 1)).sum()
    seen = np.bincount(ps.first_class[pos], minlength=6) / pos.sum()
    assert np.abs(seen - expected).max() < 0.04
    # negatives: both endpoints' class shares follow n_c (n - n_c)
    expected_neg = sizes * (300 - sizes) / (sizes * (300 - sizes)).sum()
    neg_classes = np.r_[ps.first_class[~pos], ps.second_class[~pos]]
    assert np.abs(np.bincount(neg_classes, minlength=6) / neg_classes.size - expected_neg).max() < 0.04


def test_sampled_auroc_within_stated_error():
    x, y = clustered(400, 6, 8, seed=4, spread=1.0)
    full = pair_scores(x, y)
    exact = roc_auc(full.scores, full.is_positive)
    ps = pair_scores(x, y, max_pairs=6000, seed=1)
    r = verification_metrics(ps.scores, ps.is_positive, prevalence=ps.prevalence, sampled=(True, True))
    assert r.sampled and r.auroc_stderr > 0
    assert abs(r.auroc - exact) < 4 * r.auroc_stderr
    assert set(r.tar_at_far_stderr) == set(r.tar_at_far)


def test_all_positives_enumerated_when_they_fit():
    x, y = clustered(200, 4, 10, seed=5)
    ps = pair_scores(x, y, max_pairs=10000)
    assert not ps.positives_sampled and ps.negatives_sampled
    assert ps.is_positive.sum() == ps.n_positive_population
    pairs = {(min(a, b), max(a, b)) for a, b in zip(ps.first[ps.is_positive], ps.second[ps.is_positive])}
    assert len(pairs) == ps.n_positive_population


def test_cross_positives_enumerated():
    x, y = clustered(150, 4, 5, seed=5)
    r, ry = clustered(100, 4, 5, seed=6)
    ps = pair_scores(x, y, reference=r, reference_labels=ry, max_pairs=8000)
    n_pos = sum(int((y == c).sum() * (ry == c).sum()) for c in range(5))
    assert ps.n_positive_population == n_pos
    assert (y[ps.first] == ry[ps.second])[ps.is_positive].all()


def test_pair_scores_bad_input():
    x, y = clustered(20, 3, 2)
    with pytest.raises(InputError, match="no positive pairs"):
        pair_scores(x[:3], [0, 1, 2])
    with pytest.raises(InputError, match="no negative pairs"):
        pair_scores(x, np.zeros(20))
    with pytest.raises(InputError, match="entries"):
        pair_scores(x, y[:-1])
    with pytest.raises(InputError, match="distance"):
        pair_scores(x, y, distance="snr")
    with pytest.raises(InputError, match="max_pairs"):
        pair_scores(x, y, max_pairs=1)
    bad = x.copy()
    bad[3, 0] = np.nan
    with pytest.raises(InputError, match="rows 3"):
        pair_scores(bad, y)


def test_string_labels_and_torch_embeddings():
    x, y = clustered(30, 4, 3, seed=2)
    names = np.array(["a", "b", "c"])[y]
    a = pair_scores(x, y)
    b = pair_scores(torch.from_numpy(x), names)
    assert np.allclose(a.scores, b.scores) and (a.is_positive == b.is_positive).all()


def test_flipped_curve_equals_sorting_negated_scores(rng):
    from isometry.evaluate.verification import counts_curve, flipped_curve

    s = rng.integers(0, 20, 300).astype(float)
    y = rng.random(300) < 0.2
    a, b = flipped_curve(counts_curve(s, y)), counts_curve(-s, ~y)
    assert np.array_equal(a.thresholds, b.thresholds)
    assert np.array_equal(a.tps, b.tps) and np.array_equal(a.fps, b.fps)

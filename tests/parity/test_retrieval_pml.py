"""isometry.evaluate.retrieval vs pytorch-metric-learning's AccuracyCalculator (k="max_bin_count").

Tolerance 1e-6 on every shared k-NN metric (PML computes MRR in float32); NMI/AMI
within 0.02 (both run k-means, with different seeds and starts). Inputs are float32
with integer labels < 2**24, where PML's float32 cast of labels is harmless.
"""

import numpy as np
import pytest
import torch

from conftest import clustered
from isometry.distances import _selfsearch
from isometry.evaluate import retrieval

pml = pytest.importorskip("pytorch_metric_learning.utils.accuracy_calculator")
pytest.importorskip("faiss")

SHARED = {"precision_at_1": "precision_at_1", "r_precision": "r_precision",
          "mean_average_precision_at_r": "mean_average_precision_at_r",
          "mean_average_precision": "mean_average_precision", "mean_reciprocal_rank": "mean_reciprocal_rank"}


def pml_scores(q, qy, r=None, ry=None, ref_includes_query=False, include=()):
    calc = pml.AccuracyCalculator(k="max_bin_count", device=torch.device("cpu"), include=include)
    return calc.get_accuracy(q, qy, r, ry, ref_includes_query=ref_includes_query)


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


CASES = [
    dict(n=400, d=16, classes=10, spread=1.2, seed=0),
    dict(n=300, d=8, classes=25, spread=0.9, seed=1),
    dict(n=500, d=32, classes=5, spread=2.5, seed=2),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_query_is_reference(case, distance):
    x, y = clustered(**case)
    ours = retrieval(x, y, distance=distance, metrics=list(SHARED))
    theirs = pml_scores(unit(x) if distance == "cosine" else x, y, include=tuple(SHARED.values()))
    for key, pml_key in SHARED.items():
        assert ours[key] == pytest.approx(theirs[pml_key], abs=1e-6), key


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_separate_reference(distance):
    x, y = clustered(600, 12, 12, spread=1.3, seed=7)
    q, qy, r, ry = x[:200], y[:200], x[200:], y[200:]
    ours = retrieval(q, qy, reference=r, reference_labels=ry, distance=distance, metrics=list(SHARED))
    prep = unit if distance == "cosine" else (lambda a: a)
    theirs = pml_scores(prep(q), qy, prep(r), ry, include=tuple(SHARED.values()))
    for key, pml_key in SHARED.items():
        assert ours[key] == pytest.approx(theirs[pml_key], abs=1e-6), key


def test_reference_includes_queries():
    x, y = clustered(300, 6, 6, spread=1.0, seed=8)
    ours = retrieval(x[:100], y[:100], reference=x, reference_labels=y, ref_includes_query=True, metrics=list(SHARED))
    theirs = pml_scores(x[:100], y[:100], x, y, ref_includes_query=True, include=tuple(SHARED.values()))
    for key, pml_key in SHARED.items():
        assert ours[key] == pytest.approx(theirs[pml_key], abs=1e-6), key


def test_unequal_class_sizes_and_singletons():
    sizes = [1, 1, 2, 3, 5, 8, 13, 40, 60, 100]
    x, y = clustered(sum(sizes), 10, len(sizes), spread=1.1, seed=9, sizes=sizes)
    with pytest.warns(UserWarning, match="2 of 233 queries"):
        ours = retrieval(x, y, metrics=list(SHARED))
    theirs = pml_scores(x, y, include=tuple(SHARED.values()))
    for key, pml_key in SHARED.items():
        assert ours[key] == pytest.approx(theirs[pml_key], abs=1e-6), key


def test_labels_absent_from_reference_are_left_out_like_pml():
    x, y = clustered(300, 8, 6, spread=1.0, seed=10)
    q, qy = x[:100], y[:100].copy()
    qy[:7] = 77  # no reference carries label 77
    with pytest.warns(UserWarning, match="7 of 100"):
        ours = retrieval(q, qy, reference=x[100:], reference_labels=y[100:], metrics=list(SHARED))
    theirs = pml_scores(q, qy, x[100:], y[100:], include=tuple(SHARED.values()))
    for key, pml_key in SHARED.items():
        assert ours[key] == pytest.approx(theirs[pml_key], abs=1e-6), key


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nmi_ami_same_definition(seed):
    """Where PML's k-means converges to the true clusters, both agree within 0.02."""
    x, y = clustered(600, 16, 4, spread=0.8, seed=seed)
    ours = retrieval(x, y, metrics=["nmi", "ami"])
    theirs = pml_scores(x, y, include=("NMI", "AMI"))
    assert ours["nmi"] == pytest.approx(theirs["NMI"], abs=0.02)
    assert ours["ami"] == pytest.approx(theirs["AMI"], abs=0.02)


def test_pml_random_start_kmeans_merges_separable_clusters():
    """PML seeds faiss k-means at random (one start): on 8 perfectly separable blobs it
    merges clusters (NMI ~0.88). isometry's k-means++ start recovers the labels."""
    x, y = clustered(600, 16, 8, spread=0.35, seed=0)
    ours = retrieval(x, y, metrics=["nmi"])["nmi"]
    theirs = pml_scores(x, y, include=("NMI",))["NMI"]
    assert ours == pytest.approx(1.0)
    assert theirs < 0.97


def test_pml_loses_huge_int_labels_we_do_not():
    """PML casts labels to float32: 2**24 and 2**24 + 1 merge. isometry keeps them apart."""
    x = np.array([[0.0], [0.1], [5.0], [5.1]], dtype=np.float32)
    y = np.array([2**24, 2**24 + 1, 2**24 + 1, 2**24], dtype=np.int64)
    ours = retrieval(x, y, metrics=["precision_at_1"])["precision_at_1"]
    theirs = pml_scores(x, y, include=("precision_at_1",))["precision_at_1"]
    assert ours == 0.0 and theirs == 1.0


selfknn = pytest.mark.skipif(_selfsearch._library() is None, reason="C extension not built")


@pytest.fixture
def self_search_runs(monkeypatch):
    """Records each start of the symmetric self search (the list of k it ran with)."""
    runs, start = [], _selfsearch.SelfSearch._start
    monkeypatch.setattr(_selfsearch.SelfSearch, "_start", lambda self, k: (runs.append(k), start(self, k))[1])
    return runs


@selfknn
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_query_is_reference_symmetric_search(case, distance, monkeypatch, self_search_runs):
    """The symmetric self search (used from 32,768 rows) forced on small sets: same numbers."""
    monkeypatch.setattr(_selfsearch, "MIN_ROWS", 0)
    x, y = clustered(**case)
    ours = retrieval(x, y, distance=distance, metrics=list(SHARED))
    assert self_search_runs
    theirs = pml_scores(unit(x) if distance == "cosine" else x, y, include=tuple(SHARED.values()))
    for key, pml_key in SHARED.items():
        assert ours[key] == pytest.approx(theirs[pml_key], abs=1e-6), key


@selfknn
def test_symmetric_search_at_its_default_size(self_search_runs):
    """34,000 points (the symmetric search's own range) against AccuracyCalculator."""
    x, y = clustered(34_000, 24, 60, spread=1.6, seed=5)
    ours = retrieval(x, y, metrics=list(SHARED))
    assert self_search_runs
    theirs = pml_scores(x, y, include=tuple(SHARED.values()))
    for key, pml_key in SHARED.items():
        assert ours[key] == pytest.approx(theirs[pml_key], abs=1e-6), key

import warnings

import numpy as np
import pytest
import torch

from conftest import clustered
from isometry.distances.knn import faiss_available
from isometry.errors import InputError
from isometry.evaluate import RETRIEVAL_METRICS, retrieval, retrieval_per_query

CONTRACT_KEYS = ["precision_at_1", "r_precision", "mean_average_precision_at_r", "mean_average_precision",
                 "mean_reciprocal_rank", "recall_at_1", "recall_at_2", "recall_at_4", "recall_at_8", "nmi", "ami"]


def brute_force_metrics(x, y):
    """Loop oracle: full ranking of every other point, metric definitions written out literally."""
    n = len(x)
    d = ((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1)
    out = {k: [] for k in ["precision_at_1", "r_precision", "mean_average_precision_at_r", "mean_reciprocal_rank",
                           "recall_at_4"]}
    for i in range(n):
        others = [j for j in np.argsort(d[i], kind="stable") if j != i]
        rel = np.array([y[j] == y[i] for j in others], dtype=float)
        r = int(rel.sum())
        if r == 0:
            continue
        out["precision_at_1"].append(rel[0])
        out["r_precision"].append(rel[:r].mean())
        prec = np.cumsum(rel) / np.arange(1, len(rel) + 1)
        out["mean_average_precision_at_r"].append((prec[:r] * rel[:r]).sum() / r)
        out["mean_reciprocal_rank"].append(1.0 / (np.argmax(rel) + 1))
        out["recall_at_4"].append(float(rel[:4].any()))
    return {k: float(np.mean(v)) for k, v in out.items()}


def test_contract_keys_in_order(blobs):
    assert list(retrieval(*blobs)) == CONTRACT_KEYS
    assert RETRIEVAL_METRICS.names() == CONTRACT_KEYS


def test_matches_loop_oracle():
    x, y = clustered(120, 4, 5, spread=1.2, seed=3, dtype=np.float64)
    ours = retrieval(x, y)
    for key, value in brute_force_metrics(x, y).items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


def test_perfect_separation():
    x, y = clustered(100, 8, 4, spread=0.01)
    res = retrieval(x, y)
    for key in CONTRACT_KEYS:
        assert res[key] == pytest.approx(1.0), key


def test_permutation_invariance(blobs):
    x, y = blobs
    perm = np.random.default_rng(1).permutation(len(y))
    a = retrieval(x, y, metrics=["mean_average_precision_at_r", "r_precision"])
    b = retrieval(x[perm], y[perm], metrics=["mean_average_precision_at_r", "r_precision"])
    assert a == pytest.approx(b, abs=1e-12)


def test_numpy_torch_and_float32_float64_agree(blobs):
    x, y = blobs
    knn_keys = [k for k in CONTRACT_KEYS if k not in ("nmi", "ami")]
    a = retrieval(x, y, metrics=knn_keys)
    b = retrieval(torch.from_numpy(x), torch.from_numpy(y), metrics=knn_keys)
    c = retrieval(x.astype(np.float64), y, metrics=knn_keys)
    assert a == pytest.approx(b, abs=1e-9)
    assert a == pytest.approx(c, abs=1e-9)


@pytest.mark.skipif(not faiss_available(), reason="faiss not installed")
def test_backends_give_identical_numbers(blobs):
    a = retrieval(*blobs, backend="faiss", metrics=CONTRACT_KEYS[:9])
    b = retrieval(*blobs, backend="torch", metrics=CONTRACT_KEYS[:9])
    assert a == pytest.approx(b, abs=1e-12)


def test_string_labels_and_huge_int_labels_stay_distinct():
    x = np.array([[0.0], [0.1], [5.0], [5.1]], dtype=np.float32)
    assert retrieval(x, ["cat", "cat", "dog", "dog"], metrics=["precision_at_1"])["precision_at_1"] == 1.0
    big = np.array([2**24, 2**24, 2**24 + 1, 2**24 + 1], dtype=np.int64)
    assert retrieval(x, big, metrics=["precision_at_1"])["precision_at_1"] == 1.0


def test_ties_pinned_by_reference_index():
    """Four identical points: neighbours are ranked by index (AccuracyCalculator leaves it to faiss)."""
    x = np.zeros((4, 2), dtype=np.float32)
    assert retrieval(x, [0, 0, 1, 1], metrics=["precision_at_1"])["precision_at_1"] == 0.5
    assert retrieval(x, [0, 1, 0, 1], metrics=["precision_at_1"])["precision_at_1"] == 0.25


def test_singletons_are_left_out_with_warning():
    x, y = clustered(60, 4, 3, spread=0.05)
    x = np.vstack([x, [[9.0, 9.0, 9.0, 9.0]]]).astype(np.float32)
    y = np.append(y, 99)
    with pytest.warns(UserWarning, match="1 of 61 queries have no same-label reference"):
        per = retrieval_per_query(x, y, metrics=["precision_at_1"])
    assert np.isnan(per["precision_at_1"][-1]) and np.nanmean(per["precision_at_1"]) == 1.0


def test_separate_reference_and_ref_includes_query():
    x, y = clustered(200, 6, 5, spread=1.0, seed=2)
    q, qy = x[:50], y[:50]
    split = retrieval(q, qy, reference=x[50:], reference_labels=y[50:], metrics=["r_precision"])
    assert 0 < split["r_precision"] <= 1
    inc = retrieval(q, qy, reference=x, reference_labels=y, ref_includes_query=True, metrics=["precision_at_1"])
    own = retrieval_per_query(x, y, metrics=["precision_at_1"])["precision_at_1"][:50]
    assert inc["precision_at_1"] == pytest.approx(np.nanmean(own))


def test_cosine_needs_no_normalization():
    x, y = clustered(100, 5, 4, spread=0.5, seed=4)
    scaled = x * np.random.default_rng(0).uniform(0.1, 10, size=(100, 1)).astype(np.float32)
    a = retrieval(x / np.linalg.norm(x, axis=1, keepdims=True), y, distance="cosine", metrics=["r_precision"])
    b = retrieval(scaled, y, distance="cosine", metrics=["r_precision"])
    assert a == pytest.approx(b, abs=1e-9)


def test_truncating_k_warns(blobs):
    with pytest.warns(UserWarning, match="truncated"):
        retrieval(*blobs, k=3, metrics=["mean_average_precision_at_r"])


def test_k_all_equals_full_average_precision():
    x, y = clustered(80, 3, 4, spread=1.5, seed=5, dtype=np.float64)
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    aps = []
    for i in range(len(x)):
        order = [j for j in np.argsort(d[i], kind="stable") if j != i]
        rel = np.array([y[j] == y[i] for j in order], float)
        prec = np.cumsum(rel) / np.arange(1, len(rel) + 1)
        aps.append((prec * rel).sum() / rel.sum())
    assert retrieval(x, y, k=None, metrics=["mean_average_precision"])["mean_average_precision"] == \
        pytest.approx(np.mean(aps), abs=1e-12)


@pytest.mark.parametrize("bad,match", [
    (dict(embeddings=np.full((4, 2), np.nan)), "NaN or inf in 4 row"),
    (dict(labels=[0, 1, 0]), "has 3 entries but there are 4"),
    (dict(embeddings=np.zeros(4)), "must be 2-D"),
    (dict(embeddings=np.zeros((4, 2, 2))), "must be 2-D"),
    (dict(embeddings=np.zeros((0, 2)), labels=[]), "is empty"),
    (dict(labels=[1, 1, 1, 1]), "single class"),
    (dict(distance="manhatan"), "'distance' parameter"),
    (dict(metrics=["map"]), "Unknown retrieval metric 'map'"),
    (dict(k=0), "'k' parameter"),
])
def test_bad_input(bad, match):
    args = dict(embeddings=np.arange(8, dtype=np.float32).reshape(4, 2), labels=[0, 0, 1, 1])
    args.update(bad)
    with pytest.raises(InputError, match=match):
        retrieval(args.pop("embeddings"), args.pop("labels"), **args)


def test_reference_labels_without_reference():
    with pytest.raises(InputError, match="without reference"):
        retrieval(np.zeros((4, 2)), [0, 0, 1, 1], reference_labels=[0, 1])

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from isometry.distances import knn, pairwise
from isometry.distances.knn import KNN_DISTANCES, faiss_available
from isometry.errors import InputError

BACKENDS = ["torch"] + (["faiss"] if faiss_available() else [])


def brute(q, r, k, distance, exclude_self):
    d = pairwise(q.astype(np.float64), r.astype(np.float64), distance)
    if distance in ("cosine_similarity", "dot"):
        d = -d
    if exclude_self:
        np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("distance", KNN_DISTANCES)
def test_matches_brute_force(rng, backend, distance):
    x = rng.normal(size=(200, 8)).astype(np.float32)
    res = knn(x, k=7, distance=distance, backend=backend)
    np.testing.assert_array_equal(res.indices, brute(x, x, 7, distance, True))


@pytest.mark.parametrize("backend", BACKENDS)
def test_separate_reference(rng, backend):
    q, r = rng.normal(size=(50, 4)).astype(np.float32), rng.normal(size=(80, 4)).astype(np.float32)
    res = knn(q, r, k=5, backend=backend)
    np.testing.assert_array_equal(res.indices, brute(q, r, 5, "euclidean", False))
    d = pairwise(q, r)
    np.testing.assert_allclose(res.distances, np.take_along_axis(d, res.indices, 1), rtol=1e-4, atol=1e-4)


def test_backends_agree_and_blocks_do_not_matter(rng):
    x = rng.normal(size=(300, 16)).astype(np.float32)
    a = knn(x, k=10, backend="torch", budget=4096)
    if faiss_available():
        b = knn(x, k=10, backend="faiss", budget=4096)
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_allclose(a.distances, b.distances, atol=1e-4)
    c = knn(x, k=10, backend="torch")
    np.testing.assert_array_equal(a.indices, c.indices)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ties_ordered_by_index(backend):
    x = np.zeros((6, 2), dtype=np.float32)
    res = knn(x, k=5, backend=backend)
    for i, row in enumerate(res.indices):
        assert row.tolist() == [j for j in range(6) if j != i]


def test_float64_and_torch_in_torch_out(rng):
    x = rng.normal(size=(40, 3))
    res = knn(x, k=2)
    assert res.distances.dtype == np.float64
    t = knn(torch.from_numpy(x), k=2)
    assert isinstance(t.indices, torch.Tensor)
    np.testing.assert_array_equal(t.indices.numpy(), res.indices)


def test_bad_k_and_backend(rng):
    x = rng.normal(size=(5, 2)).astype(np.float32)
    with pytest.raises(InputError, match="only 4 candidate"):
        knn(x, k=5)
    with pytest.raises(InputError, match="'k' parameter"):
        knn(x, k=0)
    with pytest.raises(InputError, match="'distance' parameter"):
        knn(x, k=1, distance="manhattan")
    with pytest.raises(InputError, match="'backend' parameter"):
        knn(x, k=1, backend="annoy")


def test_million_row_memmap_stays_within_budget(tmp_path):
    """A 1,000,000 x 128 float32 memmap reference: peak memory is the (m, d) copy plus bounded blocks."""
    script = textwrap.dedent(f"""
        import resource, numpy as np
        from isometry.distances import knn
        path = {str(tmp_path / 'big.npy')!r}
        m = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(1_000_000, 128))
        m[::1000] = np.random.default_rng(0).normal(size=(1000, 128)).astype(np.float32)
        m.flush(); del m
        x = np.load(path, mmap_mode="r")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        for backend in ("torch", "faiss"):
            res = knn(x[:64], x, k=5, backend=backend, budget=64 * 2**20)
            assert res.indices.shape == (64, 5)
            assert res.indices[0, 0] == 0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(round(peak - before, 2))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    grown_gb = float(out.stdout.strip().splitlines()[-1])
    # The reference copy is 0.5 GB (plus faiss's own 0.5 GB copy); an n x n float32 matrix would be 4 TB.
    assert grown_gb < 2.5


@pytest.mark.parametrize("descending", [False, True])
def test_tie_ordering_short_and_long_runs(descending):
    """Runs of equal distances of every length (long ones take the re-sort) end in index order."""
    from isometry.distances.knn import _order_ties

    r = np.random.default_rng(3)
    for _ in range(60):
        n, k = int(r.integers(1, 30)), int(r.integers(2, 50))
        values = r.integers(0, int(r.integers(1, 25)), size=(n, k)).astype(np.float32)
        values = -np.sort(-values, axis=1) if descending else np.sort(values, axis=1)
        idx = np.stack([r.permutation(500)[:k] for _ in range(n)])
        dist, out = _order_ties(torch.from_numpy(values), torch.from_numpy(idx), descending=descending)
        key = -values if descending else values
        want = np.stack([row[np.lexsort((row, kk))] for row, kk in zip(idx, key)])
        np.testing.assert_array_equal(out.numpy(), want)
        np.testing.assert_array_equal(dist.numpy(), values)

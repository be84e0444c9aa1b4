"""Inner solvers of the learners against plain references."""

import numpy as np
import pytest
from sklearn.covariance import graphical_lasso as sk_graphical_lasso

from isometry.learn.constraints import _first_occurrences
from isometry.learn.nca import nca_loss_grad
from isometry.learn.sdml import graphical_lasso, graphical_lasso_admm
from isometry.learn._weak import pair_differences, signed_scatter


def _spd(d, seed, spread=1.0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d))
    return np.eye(d) + spread * (A @ A.T) / d


def test_graphical_lasso_matches_scikit_learn_and_admm():
    S = _spd(12, 0)
    P, n_iter = graphical_lasso(S, 0.05, tol=1e-10)
    assert P is not None and 0 < n_iter < 500
    cov, ref = sk_graphical_lasso(S, 0.05, tol=1e-10, enet_tol=1e-10, max_iter=1000)
    np.testing.assert_allclose(P, ref, atol=1e-5)
    admm, _ = graphical_lasso_admm(S, 0.05, tol=1e-10, max_iter=20000)
    np.testing.assert_allclose(P, admm, atol=1e-6)
    assert (P[np.abs(ref) < 1e-12] == 0).all()  # exact zeros where the optimum is sparse


def test_graphical_lasso_reports_failure_instead_of_a_bad_answer():
    S = _spd(6, 1)
    S[0, 1] = S[1, 0] = 10.0  # indefinite
    assert graphical_lasso(S, 0.01)[0] is None
    ill = _spd(8, 2, spread=1e9)
    P, _ = graphical_lasso(ill, 0.01, max_iter=3)
    assert P is None


def test_signed_scatter_equals_sum_of_signed_outer_products():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    for n_pairs in (5, 300):  # difference GEMM and graph Laplacian paths
        abcd = tuple(rng.integers(0, 40, n_pairs) for _ in range(4))
        diff, y, _ = pair_differences(X, abcd)
        np.testing.assert_allclose(signed_scatter(X, abcd), diff.T @ (diff * y[:, None]), atol=1e-10)


def test_first_occurrences_equals_numpy_unique():
    rng = np.random.default_rng(0)
    for size, high in ((1, 3), (50, 10), (4000, 3000)):
        keys = rng.integers(0, high, size)
        np.testing.assert_array_equal(_first_occurrences(keys), np.sort(np.unique(keys, return_index=True)[1]))
    big = np.array([2**62, 5, 2**62])  # composite key would overflow: numpy's path
    np.testing.assert_array_equal(_first_occurrences(big), [0, 1])


def _nca_dense(L, X, y):
    """NCA objective and gradient from the full softmax (Goldberger et al., 2004), float64."""
    Z = X @ L.T
    D = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    logits = -D - (-D).max(1, keepdims=True)
    P = np.exp(logits)
    P /= P.sum(1, keepdims=True)
    same = y[:, None] == y[None, :]
    p_i = (P * same).sum(1)
    W = P * (same - p_i[:, None])
    S = W + W.T
    grad = -2.0 * Z.T @ (np.diag(S.sum(1)) - S) @ X
    return p_i.sum(), grad


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("scale", [0.3, 1.0, 4.0])
@pytest.mark.parametrize("budget", [None, 2000])
def test_nca_loss_grad_equals_the_dense_softmax(scale, budget, native):
    """Both block paths (C kernels when built, numpy/torch) against the full softmax."""
    from conftest import clustered

    X, y = clustered(120, 6, 3, spread=1.0, seed=0)
    X = np.asarray(X, dtype=np.float64)
    L = scale * np.random.default_rng(1).normal(size=(4, 6))
    value, grad = nca_loss_grad(L, X, np.asarray(y), budget=budget, native=native)
    ref_value, ref_grad = _nca_dense(L, X, np.asarray(y))
    assert np.isclose(value, ref_value, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-10 * np.abs(ref_grad).max())


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("k", [1, 15, 16, 17, 40])
def test_nca_loss_grad_any_output_dimension(k, native):
    """Output dimensions below, at and past the C kernels' 16 partial sums of a dot product.

    The map is scaled so that few softmax terms matter: their exact logits are then formed
    pair by pair (not by a float64 GEMM), which is where those dot products run.
    """
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(300, 40)), rng.integers(0, 3, size=300)
    L = max(3.0, 80.0 / k) * np.random.default_rng(k).normal(size=(k, 40)) / np.sqrt(40)
    ref_value, ref_grad = _nca_dense(L, X, y)
    for budget in (None, 40_000):  # one block; blocks of 10 rows
        value, grad = nca_loss_grad(L, X, y, budget=budget, native=native)
        assert np.isclose(value, ref_value, rtol=1e-12)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-10 * np.abs(ref_grad).max())


@pytest.mark.parametrize("held", [1, 50, 1 << 22])
def test_nca_sparse_products_over_any_number_of_blocks_agree(monkeypatch, held):
    """Candidates are multiplied by Z per block (held=1), per few blocks, or all at once."""
    from conftest import clustered
    import isometry.learn.nca as nca_module

    X, y = clustered(120, 6, 3, spread=1.0, seed=0)
    X = np.asarray(X, dtype=np.float64)
    L = np.random.default_rng(1).normal(size=(4, 6))
    monkeypatch.setattr(nca_module, "_PENDING", held)
    value, grad = nca_loss_grad(L, X, np.asarray(y), budget=2000, native=False)
    ref_value, ref_grad = _nca_dense(L, X, np.asarray(y))
    assert np.isclose(value, ref_value, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-10 * np.abs(ref_grad).max())


@pytest.mark.parametrize("native", [True, False])
def test_nca_loss_grad_screens_in_float64_beyond_float32_range(native):
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = np.arange(30) % 2
    L = 1e20 * np.eye(3)  # |z|^2 overflows float32
    for budget in (None, 10**6):  # dense softmax; blocks screened in float64
        value, grad = nca_loss_grad(L, X, y, budget=budget, native=native)
        ref_value, ref_grad = _nca_dense(L, X, y)
        assert np.isfinite(value) and np.isclose(value, ref_value)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12)


def test_lsml_projects_points_or_pairs_to_the_same_objective_and_gradient():
    from isometry.learn.lsml import _loss_grad_L, lsml_metric

    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 6))
    a, b, c, d = (rng.integers(0, 40, 300) for _ in range(4))
    V = np.concatenate([X[a] - X[b], X[c] - X[d]])
    w = rng.random(300)
    w /= w.sum()
    L = np.eye(6) + 0.3 * rng.normal(size=(6, 6))
    prior_inv = np.eye(6)
    by_pairs = _loss_grad_L(L.ravel(), V, w, prior_inv)
    ends = (X, np.concatenate([a, c]), np.concatenate([b, d]))
    by_points = _loss_grad_L(L.ravel(), V, w, prior_inv, by_points=ends)
    assert by_points[0] == pytest.approx(by_pairs[0], rel=1e-12)
    np.testing.assert_allclose(by_points[1], by_pairs[1], rtol=1e-9, atol=1e-12)
    M_pairs, _ = lsml_metric(V[:300], V[300:], w, np.eye(6))
    M_points, _ = lsml_metric(V[:300], V[300:], w, np.eye(6), ends=(X, (a, b, c, d)))
    np.testing.assert_allclose(M_points, M_pairs, rtol=1e-6, atol=1e-8)


def test_scratch_hands_back_the_same_array_only_for_the_same_shape_and_dtype():
    from isometry.learn._blockwork import Scratch

    scratch = Scratch()
    a = scratch.get("block", (3, 4), np.float32)
    assert scratch.get("block", (3, 4), np.float32) is a
    assert scratch.get("block", (3, 5), np.float32) is not a
    b = scratch.get("block", (3, 5), np.float32)
    assert scratch.get("block", (3, 5), np.float64).dtype == np.float64 and scratch.get("other", (3, 5), np.float32) is not b


def test_lmnn_evaluations_sharing_scratch_match_fresh_ones():
    """The same work arrays across evaluations of different sizes leave no trace in the results."""
    from conftest import clustered
    from isometry.learn._blockwork import Scratch
    from isometry.learn.lmnn import lmnn_loss_grad, target_neighbors

    scratch = Scratch()
    rng = np.random.default_rng(0)
    for n, scale in ((90, 1.0), (60, 3.0), (90, 0.5)):
        X, y = clustered(n, 5, 3, spread=1.5, seed=n)
        X = np.asarray(X, dtype=np.float64)
        codes = np.unique(y, return_inverse=True)[1]
        targets = target_neighbors(X, codes, 3)
        L = scale * rng.normal(size=(5, 5))
        shared = lmnn_loss_grad(L, X, codes, targets, 0.5, scratch=scratch)
        fresh = lmnn_loss_grad(L, X, codes, targets, 0.5)
        assert shared[0] == fresh[0] and shared[2] == fresh[2]
        np.testing.assert_array_equal(shared[1], fresh[1])



def test_components_from_metric_is_the_cholesky_factor_when_positive_definite():
    from isometry.errors import InputError
    from isometry.learn import components_from_metric

    A = np.random.default_rng(0).normal(size=(5, 5))
    M = A @ A.T + 0.1 * np.eye(5)
    L = components_from_metric(M)
    np.testing.assert_allclose(L, np.linalg.cholesky(M).T)  # metric-learn's factor
    np.testing.assert_allclose(L.T @ L, M, rtol=1e-12, atol=1e-12)
    singular = A[:, :2] @ A[:, :2].T  # rank 2: no Cholesky factor, eigenpairs instead
    L = components_from_metric(singular)
    np.testing.assert_allclose(L.T @ L, singular, atol=1e-12)
    assert np.allclose(L[2:], 0.0, atol=1e-7)  # largest eigenvalue first, the null rows last
    with pytest.raises(InputError):
        components_from_metric(-M)


def test_true_rows_cols_lists_a_masks_entries_in_row_major_order():
    from isometry.learn._blockwork import true_rows_cols

    mask = np.random.default_rng(0).random((7, 13)) < 0.2
    rows, cols = true_rows_cols(mask)
    np.testing.assert_array_equal(rows, np.nonzero(mask)[0])
    np.testing.assert_array_equal(cols, np.nonzero(mask)[1])
    empty = true_rows_cols(np.zeros((3, 4), dtype=bool))
    assert empty[0].size == 0 and empty[1].size == 0


def test_nca_kernels_and_numpy_path_agree_on_a_fit_sized_set():
    """5,000 x 20 in blocks: screened blocks early and late in a fit's scale, float64 blocks
    when the candidates are dense; the two paths differ by float64 round-off only."""
    from conftest import clustered
    from isometry.learn.nca import _kernels

    if _kernels() is None:
        pytest.skip("C kernels not built")
    X, y = clustered(5000, 20, 8, spread=1.5, seed=3)
    X = np.asarray(X, dtype=np.float64)
    rng = np.random.default_rng(0)
    for scale in (0.05, 0.5, 3.0):
        L = scale * rng.normal(size=(20, 20))
        value, grad = nca_loss_grad(L, X, np.asarray(y))
        ref_value, ref_grad = nca_loss_grad(L, X, np.asarray(y), native=False)
        assert value == pytest.approx(ref_value, rel=1e-12)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-8, atol=1e-9 * np.abs(ref_grad).max())


def test_nca_evaluations_sharing_scratch_match_fresh_ones():
    """Different sizes, scales (screened and float64 blocks) and budgets through one Scratch."""
    from conftest import clustered
    from isometry.learn._blockwork import Scratch

    scratch = Scratch()
    rng = np.random.default_rng(0)
    for n, scale, budget in ((300, 1.0, None), (300, 0.2, None), (280, 3.0, 5000), (300, 1.0, None)):
        X, y = clustered(n, 6, 3, spread=1.0, seed=n)
        X = np.asarray(X, dtype=np.float64)
        L = scale * rng.normal(size=(4, 6))
        shared = nca_loss_grad(L, X, np.asarray(y), budget=budget, scratch=scratch)
        fresh = nca_loss_grad(L, X, np.asarray(y), budget=budget)
        assert shared[0] == fresh[0]
        np.testing.assert_array_equal(shared[1], fresh[1])


def _nca_kernels_or_skip():
    from isometry.learn.nca import _kernels

    lib = _kernels()
    if lib is None:
        pytest.skip("C kernels not built")
    return lib


@pytest.mark.parametrize("bf16", [False, True])
def test_nca_screen_pairs_keeps_each_entry_for_each_of_its_rows(bf16):
    """The triangular screen against a loop over all pairs: several row blocks, entries kept
    for one row, the other or both, the error bound added, Gram entries in float32 or as
    bfloat16 bits, and the total past its limit."""
    lib = _nca_kernels_or_skip()
    rng = np.random.default_rng(0)
    n, rows = 131, 30  # rows of 100 columns and fewer: 64 flags at a time and the rest
    G = rng.normal(size=(n, n)).astype(np.float32)
    G = (G + G.T) / 2
    if bf16:  # values a bfloat16 holds exactly: the kernel reads them back as these floats
        G = (G.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
    sq = rng.uniform(0, 1, n).astype(np.float32)
    floor = rng.uniform(0, 1.5, n).astype(np.float32)
    alpha = rng.integers(0, 4, n).astype(np.float32) / 16  # products and sums exact in float32
    u = rng.integers(1, 8, n).astype(np.float32) / 16
    want = set()
    for i in range(n):
        for j in range(i + 1, n):
            high = np.float32(2 * G[i, j]) + np.float32(2 * alpha[i] * u[j] + 2 * u[i] * alpha[j])
            if high - sq[j] >= floor[i]:
                want.add((i, j))
            if high - sq[i] >= floor[j]:
                want.add((j, i))
    both = sum((j, i) in want for i, j in want if i < j)
    assert both > 100 and len(want) - 2 * both > 100  # kept for both rows, and for one only
    without_bound = sum(2 * G[i, j] - sq[j] >= floor[i] for i, j in want if i < j)
    assert without_bound < sum(i < j for i, j in want)  # the bound lets more through
    pi, pj, pf = np.zeros(n * n, np.int32), np.zeros(n * n, np.int32), np.zeros(n * n, np.uint8)
    flags, found = np.zeros(n, np.uint8), np.zeros(n, np.int32)
    kernel = lib.nca_screen_pairs_bf16 if bf16 else lib.nca_screen_pairs_f32

    def screen(limit):
        total = 0
        for s in range(0, n - 1, rows):
            e = min(n, s + rows)
            block = np.ascontiguousarray(G[s:e, s:])
            if bf16:
                block = np.ascontiguousarray(block.view(np.uint16)[:, 1::2])  # each float's high half
            total = kernel(block.ctypes.data, e - s, n, s, sq.ctypes.data, floor.ctypes.data, alpha.ctypes.data,
                           u.ctypes.data, pi.ctypes.data, pj.ctypes.data, pf.ctypes.data, total, limit,
                           flags.ctypes.data, found.ctypes.data)
            if total < 0:
                return total
        return total

    total = screen(n * n)
    got = set()
    for i, j, f in zip(pi[:total].tolist(), pj[:total].tolist(), pf[:total].tolist()):
        assert i < j and f in (1, 2, 3)
        if f & 1:
            got.add((i, j))
        if f & 2:
            got.add((j, i))
    assert got == want and total == len({(min(a), max(a)) for a in want})
    order = list(zip(pi[:total].tolist(), pj[:total].tolist()))
    assert order == sorted(order)  # rows in order, each row's columns increasing
    assert screen(total // 2) == -1


@pytest.mark.parametrize("scale", [1e-3, 1.0, 30.0, 1e4])
@pytest.mark.parametrize("bf16", [False, True])
def test_nca_screen_inputs_bound_the_low_precision_gram_error(scale, bf16):
    """``nca_screen_inputs``: |z_i.z_j - G_ij| <= alpha_i u_j + u_i alpha_j for the Gram matrix
    torch forms from the rounded rows (bfloat16 output included; rows nearly parallel in one
    half, where G's own rounding is largest), |z|^2 in float64, and floors below each row's
    exact logit to its hint less the cut."""
    import torch

    from isometry.learn.nca import CUT

    lib = _nca_kernels_or_skip()
    rng = np.random.default_rng(1)
    n, k = 300, 37
    Z = scale * rng.normal(size=(n, k)) * rng.uniform(0.1, 3.0, size=(n, 1)) + scale * rng.normal(size=k)
    Z[: n // 2] = scale * np.outer(rng.uniform(0.5, 2.0, n // 2), rng.normal(size=k)) * (1 + 1e-3 * Z[: n // 2])
    nearest = rng.integers(0, n - 1, n).astype(np.int32)
    nearest += nearest >= np.arange(n)
    low = np.zeros((n, k), np.uint16 if bf16 else np.float32)
    sq, sq32 = np.zeros(n), np.zeros(n, np.float32)
    floor, alpha, u = (np.zeros(n, np.float32) for _ in range(3))
    ok = lib.nca_screen_inputs(n, k, Z.ctypes.data, nearest.ctypes.data, CUT, bf16, sq.ctypes.data, low.ctypes.data,
                               sq32.ctypes.data, floor.ctypes.data, alpha.ctypes.data, u.ctypes.data)
    assert ok == 0
    rounded = torch.from_numpy(low).view(torch.bfloat16) if bf16 else torch.from_numpy(low)
    np.testing.assert_allclose(rounded.double().numpy(), Z, rtol=2.0 ** -8 if bf16 else 2.0 ** -23)
    G = torch.mm(rounded, rounded.T).double().numpy()
    err = np.abs(Z @ Z.T - G)
    bound = alpha[:, None].astype(np.float64) * u[None, :] + u[:, None] * alpha[None, :].astype(np.float64)
    assert (err <= bound).all()
    assert (bound < (0.02 if bf16 else 1e-5) * np.sqrt(np.outer(sq, sq)) + 1e-300).all()  # and not loose
    np.testing.assert_allclose(sq, (Z * Z).sum(1), rtol=1e-13)
    known = 2 * (Z * Z[nearest]).sum(1) - sq[nearest]
    assert (floor < known - CUT - 1.0 + 1e-9 * np.abs(known)).all()
    bad = Z.copy()
    bad[3, 0] = 1e20  # |z|^2 beyond float32
    assert lib.nca_screen_inputs(n, k, bad.ctypes.data, nearest.ctypes.data, CUT, bf16, sq.ctypes.data,
                                 low.ctypes.data, sq32.ctypes.data, floor.ctypes.data, alpha.ctypes.data,
                                 u.ctypes.data) == -1


@pytest.mark.parametrize("d, k", [(8, 5), (40, 37)])  # k below the kernels' 32-column blocks, and past one
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_nca_evaluations_along_a_path_screen_the_triangle_exactly(monkeypatch, dtype, d, k):
    """Evaluations sharing a Scratch, as in a fit: from the second on, the triangular screen
    with last evaluation's nearest points. Small steps, a jump as far as a line search
    tries, a step back, and hints that are not the nearest points: every one against the
    full softmax, and the screen is used (not the row-by-row fallback)."""
    from conftest import clustered
    import torch

    import isometry.learn.nca as nca_module
    from isometry.learn._blockwork import Scratch

    _nca_kernels_or_skip()
    X, y = clustered(400, d, 4, spread=1.0, seed=5)
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    used = []
    screen_pairs = nca_module._pairs_native

    def spy(*args):
        result = screen_pairs(*args)
        used.append(result is not None)
        return result

    monkeypatch.setattr(nca_module, "_pairs_native", spy)
    monkeypatch.setattr(nca_module, "_PAIR_BYTES", 48 * 400 * (2 if dtype == "bfloat16" else 4))  # 9 row blocks
    monkeypatch.setattr(nca_module, "_screen_dtype", lambda: getattr(torch, dtype))  # either, on any CPU
    rng = np.random.default_rng(0)
    scale = 3.0 if d == 8 else 0.2  # 1-7% of the entries are candidates at L
    L = scale * rng.normal(size=(k, d))
    path = [L, L + scale / 60 * rng.normal(size=L.shape), L + scale / 30 * rng.normal(size=L.shape), 8.0 * L, L]
    scratch = Scratch()
    for step, M in enumerate(path + [L]):
        if step == len(path):  # each point's fourth nearest as the hint
            Z = X @ M.T
            D = ((Z[:, None] - Z[None]) ** 2).sum(-1)
            scratch.kept["nca_nearest"] = np.argsort(D, axis=1)[:, 4].astype(np.int32)
        value, grad = nca_loss_grad(M, X, y, scratch=scratch)
        ref_value, ref_grad = _nca_dense(M, X, y)
        assert np.isclose(value, ref_value, rtol=1e-12)
        # at 8 L with k = 37 each row's softmax is saturated: the gradient is round-off (~1e-14)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=max(1e-10 * np.abs(ref_grad).max(), 1e-12))
    assert len(used) == len(path) and all(used)

"""Metric nearness (Project and Forget): time, peak memory, optimality vs a generic QP solver.

    python benchmarks/bench_metric_nearness.py [--sizes 20 50 200 1000] [--qp-max 50]

Input: a seeded noisy Euclidean matrix (30 points in R^3 ... n points, each distance
multiplied by a symmetric factor in [0.5, 1.5]), the usual metric-nearness test case.
Each size runs in a fresh process; "MB" is the growth of its peak resident memory
(ru_maxrss) during the solve, over what the process held after imports and input.
For n <= --qp-max the same problem is solved by cvxpy (CLARABEL) over all
n (n-1)(n-2)/2 triangle inequalities; "rel gap" = (isometry - QP) / QP objective.
"iso cpu" is the solver process's CPU time (steadier than wall time on a shared machine).
"max viol" is the largest X_ij - X_ik - X_kj over all triples of the output.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import numpy as np

# the reference QP is shared with the tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "learn"))


def noisy_matrix(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    P = rng.normal(size=(n, 3))
    D = np.linalg.norm(P[:, None] - P[None], axis=-1)
    N = rng.random((n, n))
    D = D * (0.5 + (N + N.T) / 2)
    np.fill_diagonal(D, 0.0)
    return D


def max_violation(X: np.ndarray) -> float:
    worst = -np.inf
    for k in range(len(X)):
        worst = max(worst, float((X - X[:, k][:, None] - X[k][None, :]).max()))
    return worst


def _isometry(n, queue):
    from isometry.learn.metric_nearness import metric_nearness

    D = noisy_matrix(n)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t, cpu = time.perf_counter(), time.process_time()
    res = metric_nearness(D)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    queue.put((seconds, cpu, peak, res.objective, res.n_iter, res.n_active, max_violation(res.metric), res.converged))


def _qp(n, queue):
    import cvxpy as cp
    from _triangle_qp import triangle_qp

    prob = triangle_qp(noisy_matrix(n))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    prob.solve(solver=cp.CLARABEL)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    queue.put((seconds, peak, prob.value))


def _in_process(target, n):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(n, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", type=int, default=[20, 50, 200, 1000])
    ap.add_argument("--qp-max", type=int, default=50)
    args = ap.parse_args(argv)
    print(f"{'n':>5} {'iso s':>8} {'iso cpu':>8} {'+MB':>7} {'rounds':>6} {'active':>8} {'max viol':>9} {'conv':>5} "
          f"{'QP s':>8} {'QP +MB':>7} {'rel gap':>9}")
    for n in args.sizes:
        s, cpu, mb, obj, rounds, active, viol, conv = _in_process(_isometry, n)
        qp = "" if n > args.qp_max else "{:8.2f} {:7.0f} {:9.1e}"
        if qp:
            qs, qmb, qobj = _in_process(_qp, n)
            qp = qp.format(qs, qmb, (obj - qobj) / qobj)
        print(f"{n:5d} {s:8.2f} {cpu:8.2f} {mb:7.0f} {rounds:6d} {active:8d} {viol:9.1e} {str(conv):>5} {qp}", flush=True)


if __name__ == "__main__":
    main()

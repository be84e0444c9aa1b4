"""Fit time and k-NN accuracy: isometry.learn vs metric-learn (and scikit-learn's NCA).

    python benchmarks/bench_learn.py [--sets wine digits synthetic] [--repeats 3] [--ml-timeout 600] [--peer-budget S] [--only NCA ...]

Each entry of ALGORITHMS names an isometry learner, its peer(s) and their keyword
arguments; other learners add rows there. Repetitions interleave peer and isometry;
times are medians. Data: wine and digits (standardized, half/half stratified split)
and a seeded 5,000 x 50 synthetic set (10 Gaussian classes, 20 informative dims).
metric-learn 0.7 is patched at runtime to run on this scikit-learn (see PEERS.md).
A peer's first fit runs in a forked child; when it runs past --ml-timeout seconds it is
killed and both the peer and isometry are timed on the same seeded subsample of 1,000
training points (row "sub"; accuracy still on the full test half), followed by a row
with isometry's time on the full training set. --peer-budget caps the seconds spent
repeating one slow peer fit (column reps = peer fits / isometry fits). "fail" rows
show the peer's error. Timed fits of both sides then run in this process, interleaved,
after an untimed warm-up of each (a forked child pays page faults and cold imports that
made millisecond fits look 1.5-3x slower).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits, load_wine, make_classification
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

import isometry.learn as iso


# metric-learn 0.7 on this scikit-learn: the parity tests' runtime patch, never undone here
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "parity"))
import metric_learn as ML  # noqa: E402
from _metric_learn_patch import patch_metric_learn  # noqa: E402

patch_metric_learn()
from sklearn.neighbors import NeighborhoodComponentsAnalysis  # noqa: E402

#: facts about the current training set that some rows need (set in main)
CURRENT = {"classes": 2, "sdml_balance": 1e-4}

#: (row name, isometry factory, [(peer name, peer factory)]); rows use each package's
#: defaults except: SDML's peer gets the balance_param that isometry's "auto" picks on
#: the set (metric-learn's default 0.5 fails on all three), and "MMC-f" runs both on
#: metric-learn's MMC defaults (full matrix, 20 * n_classes ** 2 pairs).
ALGORITHMS = [
    ("LMNN", lambda: iso.LMNN(), [("metric-learn", lambda: ML.LMNN())]),
    ("NCA", lambda: iso.NCA(), [("metric-learn", lambda: ML.NCA()),
                                ("scikit-learn", lambda: NeighborhoodComponentsAnalysis())]),
    ("ITML", lambda: iso.ITML_Supervised(random_state=0), [("metric-learn", lambda: ML.ITML_Supervised(random_state=0))]),
    ("LSML", lambda: iso.LSML_Supervised(random_state=0), [("metric-learn", lambda: ML.LSML_Supervised(random_state=0))]),
    ("SDML", lambda: iso.SDML_Supervised(random_state=0),
     [("metric-learn", lambda: ML.SDML_Supervised(balance_param=CURRENT["sdml_balance"], random_state=0))]),
    ("MMC", lambda: iso.MMC_Supervised(random_state=0), [("metric-learn", lambda: ML.MMC_Supervised(random_state=0))]),
    ("MMC-f", lambda: iso.MMC_Supervised(diagonal=False, n_constraints=20 * CURRENT["classes"] ** 2, random_state=0),
     [("metric-learn", lambda: ML.MMC_Supervised(random_state=0))]),
]


def datasets(names):
    out = {}
    if "wine" in names:
        out["wine"] = load_wine(return_X_y=True)
    if "digits" in names:
        out["digits"] = load_digits(return_X_y=True)
    if "synthetic" in names:
        out["synthetic 5000x50"] = make_classification(
            n_samples=10000, n_features=50, n_informative=20, n_redundant=10, n_classes=10,
            n_clusters_per_class=1, class_sep=1.5, random_state=0)
    for key, (X, y) in out.items():
        X = StandardScaler().fit_transform(X)
        out[key] = train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)
    return out


def fit_time(factory, X, y):
    est = factory()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        est.fit(X, y)
        return time.perf_counter() - t, est


def accuracy(est, Xtr, ytr, Xte, yte):
    T = (lambda z: z) if est is None else est.transform
    return KNeighborsClassifier(3).fit(T(Xtr), ytr).score(T(Xte), yte)


class _Fitted:
    """A peer's learned map, sent back from the child process."""

    def __init__(self, components):
        self.components_ = components

    def transform(self, X):
        return X @ self.components_.T


def _child(factory, X, y, conn):
    try:
        t, est = fit_time(factory, X, y)
        conn.send((t, est.components_))
    except Exception as exc:  # the peer's failures are part of the result
        conn.send((float("nan"), f"{type(exc).__name__}: {str(exc)[:40]}"))


def forked_fit(factory, X, y, timeout):
    """(seconds, fitted or error text), or None when the fit runs past ``timeout`` seconds.

    The fit runs in a forked child that is killed at the deadline, so a slow peer
    costs at most ``timeout`` seconds before the subsample fallback.
    """
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(factory, X, y, send))
    proc.start()
    ready = recv.poll(timeout)
    result = recv.recv() if ready else None
    if not ready:
        proc.kill()
    proc.join()
    if result is None:
        return None
    t, out = result
    return t, (out if isinstance(out, str) else _Fitted(out))


def _row(set_name, name, peer_name, pt, it, peer_est, my_est, data, base):
    Xtr, Xte, ytr, yte = data
    ps = statistics.median(pt) if pt else float("nan")
    ms = statistics.median(it)
    pacc = peer_est if isinstance(peer_est, str) else f"{accuracy(peer_est, Xtr, ytr, Xte, yte):8.3f}"
    print(f"{set_name:18} {name:6} {peer_name:17} {len(pt):>2}/{len(it):<2} {ps:8.3f} {ms:8.3f} {ps / ms:7.1f} "
          f"{pacc:>8} {accuracy(my_est, Xtr, ytr, Xte, yte):8.3f} {base:8.3f}", flush=True)


def _warm_up(factories, X, y, rows=200):
    """One untimed fit of each side on a few rows in this process, so that the forked
    children inherit every module the fits import lazily (import time is not fit time)."""
    for factory in factories:
        try:
            fit_time(factory, X[:rows], y[:rows])
        except Exception:  # a fit that needs more rows still warmed up its imports
            pass


def compare(factory_peer, factory_mine, Xtr, ytr, repeats, timeout, budget):
    """Timed fits of both sides, interleaved, in this process.

    The peer's first fit runs in a forked child that is killed past ``timeout``
    (then None is returned and the caller falls back to a subsample); a fit that
    finished is then timed like isometry's, in this process after an untimed
    warm-up of both, so the two sides are measured under the same conditions.
    A first peer fit longer than ``budget`` is its only timing (the fork costs
    nothing next to it); otherwise peer repetitions stop once they used ``budget``
    seconds. Returns (peer times, isometry times, peer fit or error text, isometry fit).
    """
    _warm_up((factory_peer, factory_mine), Xtr, ytr)
    first = forked_fit(factory_peer, Xtr, ytr, timeout)
    if first is None:
        return None
    peer_est = first[1]
    pt = [first[0]] if isinstance(peer_est, _Fitted) and first[0] >= budget else []
    it, my_est = [], None
    for _ in range(repeats):
        if isinstance(peer_est, _Fitted) and (not pt or (first[0] < budget and sum(pt) < budget)):
            pt.append(fit_time(factory_peer, Xtr, ytr)[0])
        t, my_est = fit_time(factory_mine, Xtr, ytr)
        it.append(t)
    return pt, it, peer_est, my_est


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", nargs="+", default=["wine", "digits", "synthetic"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ml-timeout", type=float, default=600.0)
    ap.add_argument("--peer-budget", type=float, default=float("inf"),
                    help="stop repeating a peer's fit once its fits took this many seconds in all")
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'set':18} {'algorithm':6} {'peer':17} {'reps':5} {'peer s':>8} {'iso s':>8} {'ratio':>7} "
          f"{'peer acc':>8} {'iso acc':>8} {'eucl acc':>8}")
    for set_name, data in datasets(args.sets).items():
        Xtr, Xte, ytr, yte = data
        base = accuracy(None, Xtr, ytr, Xte, yte)
        CURRENT["classes"] = len(np.unique(ytr))
        CURRENT["sdml_balance"] = iso.SDML_Supervised(random_state=0).fit(Xtr, ytr).balance_param_
        rows = rng.choice(len(Xtr), min(1000, len(Xtr)), replace=False)
        for name, mine, peers in ALGORITHMS:
            if args.only and name not in args.only:
                continue
            for peer_name, peer in peers:
                out = compare(peer, mine, Xtr, ytr, args.repeats, args.ml_timeout, args.peer_budget)
                if out is not None:
                    _row(set_name, name, peer_name, *out, data, base)
                    continue
                # the peer ran past --ml-timeout: both sides on the same 1,000-point subsample,
                # plus isometry alone on the full training set
                out = compare(peer, mine, Xtr[rows], ytr[rows], args.repeats, float("inf"), args.peer_budget)
                _row(set_name, name, f"{peer_name} sub", *out, data, base)
                it = [fit_time(mine, Xtr, ytr) for _ in range(args.repeats)]
                _row(set_name, name, "(iso full)", [], [t for t, _ in it], "-", it[-1][1], data, base)


if __name__ == "__main__":
    main()

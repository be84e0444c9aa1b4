"""Fit time and k-NN accuracy: isometry.learn vs metric-learn (and scikit-learn's NCA).

    python benchmarks/bench_learn.py [--sets wine digits synthetic] [--repeats 3] [--ml-timeout 600]

Each entry of ALGORITHMS names an isometry learner, its peer(s) and their keyword
arguments; other learners add rows there. Repetitions interleave peer and isometry;
times are medians. Data: wine and digits (standardized, half/half stratified split)
and a seeded 5,000 x 50 synthetic set (10 Gaussian classes, 20 informative dims).
metric-learn 0.7 is patched at runtime to run on this scikit-learn (see PEERS.md).
A peer whose single fit exceeds --ml-timeout seconds on a set is run on a seeded
subsample of 1,000 training points instead, and marked "sub".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits, load_wine, make_classification
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

import isometry.learn as iso


def patch_metric_learn():
    import metric_learn
    from sklearn.covariance._graph_lasso import _graphical_lasso
    from sklearn.utils.validation import check_array, check_X_y

    def renamed(fn):
        def wrapper(*args, **kwargs):
            if "force_all_finite" in kwargs:
                kwargs["ensure_all_finite"] = kwargs.pop("force_all_finite")
            return fn(*args, **kwargs)
        return wrapper

    for name, mod in list(sys.modules.items()):
        if name.startswith("metric_learn") and mod is not None:
            if hasattr(mod, "check_array"):
                mod.check_array = renamed(check_array)
            if hasattr(mod, "check_X_y"):
                mod.check_X_y = renamed(check_X_y)
    sys.modules["metric_learn.sdml"].graphical_lasso = (
        lambda emp_cov, alpha, cov_init=None, **kw: _graphical_lasso(emp_cov, alpha, **kw)[:2])
    return metric_learn


ML = patch_metric_learn()
from sklearn.neighbors import NeighborhoodComponentsAnalysis  # noqa: E402

#: (row name, isometry factory, [(peer name, peer factory)])
ALGORITHMS = [
    ("LMNN", lambda: iso.LMNN(), [("metric-learn", lambda: ML.LMNN())]),
    ("NCA", lambda: iso.NCA(), [("metric-learn", lambda: ML.NCA()),
                                ("scikit-learn", lambda: NeighborhoodComponentsAnalysis())]),
    ("ITML", lambda: iso.ITML_Supervised(random_state=0), [("metric-learn", lambda: ML.ITML_Supervised(random_state=0))]),
    ("LSML", lambda: iso.LSML_Supervised(random_state=0), [("metric-learn", lambda: ML.LSML_Supervised(random_state=0))]),
    ("SDML", lambda: iso.SDML_Supervised(balance_param=1e-4, random_state=0),
     [("metric-learn", lambda: ML.SDML_Supervised(balance_param=1e-4, random_state=0))]),
    ("MMC", lambda: iso.MMC_Supervised(random_state=0), [("metric-learn", lambda: ML.MMC_Supervised(random_state=0))]),
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


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", nargs="+", default=["wine", "digits", "synthetic"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ml-timeout", type=float, default=600.0)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'set':18} {'algorithm':6} {'peer':13} {'peer s':>8} {'iso s':>8} {'ratio':>7} "
          f"{'peer acc':>8} {'iso acc':>8} {'eucl acc':>8}")
    for set_name, (Xtr, Xte, ytr, yte) in datasets(args.sets).items():
        base = accuracy(None, Xtr, ytr, Xte, yte)
        for name, mine, peers in ALGORITHMS:
            if args.only and name not in args.only:
                continue
            for peer_name, peer in peers:
                pt, it, sub = [], [], ""
                Xp, yp = Xtr, ytr
                for _ in range(args.repeats):
                    t, peer_est = fit_time(peer, Xp, yp)
                    pt.append(t)
                    t, my_est = fit_time(mine, Xtr, ytr)
                    it.append(t)
                    if t > 0 and pt[-1] > args.ml_timeout and len(Xp) > 1000:
                        rows = rng.choice(len(Xtr), 1000, replace=False)
                        Xp, yp, sub, pt = Xtr[rows], ytr[rows], " sub", []
                ps, ms = statistics.median(pt) if pt else float("nan"), statistics.median(it)
                print(f"{set_name:18} {name:6} {peer_name + sub:13} {ps:8.3f} {ms:8.3f} {ps / ms:7.1f} "
                      f"{accuracy(peer_est, Xtr, ytr, Xte, yte):8.3f} {accuracy(my_est, Xtr, ytr, Xte, yte):8.3f} "
                      f"{base:8.3f}", flush=True)


if __name__ == "__main__":
    main()

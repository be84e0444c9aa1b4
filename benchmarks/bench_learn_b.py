"""Fit time and k-NN accuracy: RCA, LFDA, MLKR, SCML, Covariance of isometry.learn vs metric-learn.

    python benchmarks/bench_learn_b.py [--sets wine digits synthetic] [--repeats 3] [--only RCA ...]

Same data, split, 3-NN accuracy and table as benchmarks/bench_learn.py (whose helpers it
imports, metric-learn patched at runtime). Rows use each package's defaults unless the
row name says otherwise; "fail" = the peer raised or returned NaN (its error is shown).
MLKR runs with max_iter=100 on both sides (metric-learn's default of 1,000 needs hours
on the 5,000-point set). Repetitions interleave peer and isometry; times are medians.
"""

from __future__ import annotations

import argparse
import statistics
import warnings

import numpy as np

import isometry.learn as iso
from bench_learn import ML, accuracy, datasets, fit_time

#: (row name, isometry factory, metric-learn factory)
ENTRIES = [
    ("RCA", lambda: iso.RCA_Supervised(random_state=0), lambda: ML.RCA_Supervised(random_state=0)),
    ("LFDA", lambda: iso.LFDA(), lambda: ML.LFDA()),
    ("MLKR", lambda: iso.MLKR(max_iter=100), lambda: ML.MLKR(max_iter=100)),
    ("SCML", lambda: iso.SCML_Supervised(random_state=0), lambda: ML.SCML_Supervised(random_state=0)),
    ("Cov", lambda: iso.Covariance(), lambda: ML.Covariance()),
]


def _run(factory, Xtr, ytr, Xte, yte):
    """(seconds, accuracy) or (seconds or nan, error text)."""
    try:
        t, est = fit_time(factory, Xtr, ytr)
    except Exception as exc:  # the peer's failures are part of the result
        return float("nan"), f"{type(exc).__name__}: {str(exc)[:40]}"
    if not np.isfinite(est.components_).all():
        return t, "NaN components"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return t, accuracy(est, Xtr, ytr, Xte, yte)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", nargs="+", default=["wine", "digits", "synthetic"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args(argv)
    print(f"{'set':18} {'algorithm':6} {'peer':13} {'peer s':>8} {'iso s':>8} {'ratio':>7} "
          f"{'peer acc':>8} {'iso acc':>8} {'eucl acc':>8}")
    for set_name, (Xtr, Xte, ytr, yte) in datasets(args.sets).items():
        base = accuracy(None, Xtr, ytr, Xte, yte)
        for name, mine, peer in ENTRIES:
            if args.only and name not in args.only:
                continue
            pt, it = [], []
            for _ in range(args.repeats):
                t, peer_acc = _run(peer, Xtr, ytr, Xte, yte)
                pt.append(t)
                t, my_acc = _run(mine, Xtr, ytr, Xte, yte)
                it.append(t)
            ps, ms = statistics.median(pt), statistics.median(it)
            pa = f"{peer_acc:8.3f}" if isinstance(peer_acc, float) else "    fail"
            ma = f"{my_acc:8.3f}" if isinstance(my_acc, float) else "    fail"
            print(f"{set_name:18} {name:6} {'metric-learn':13} {ps:8.3f} {ms:8.3f} {ps / ms:7.1f} {pa} {ma} "
                  f"{base:8.3f}" + ("" if isinstance(peer_acc, float) else f"   peer: {peer_acc}")
                  + ("" if isinstance(my_acc, float) else f"   iso: {my_acc}"), flush=True)


if __name__ == "__main__":
    main()

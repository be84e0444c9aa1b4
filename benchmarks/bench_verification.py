"""isometry.evaluate.verification vs scikit-learn on 10,000,000 pair scores.

Same scores for both: float64 similarities of positives N(1, 1) and negatives N(0, 1)
(10% positives; no ties, the largest possible curve). Rows:

- ``roc_auc``: isometry ``roc_auc`` vs ``sklearn.metrics.roc_auc_score``;
- ``average_precision``: ``average_precision`` vs ``average_precision_score``;
- ``roc_curve``: ``roc_curve`` vs ``sklearn.metrics.roc_curve`` (drop_intermediate);
- ``all``: isometry ``verification_metrics`` (one sort: AUROC, AP, EER, TAR at six
  FARs, ROC) vs the three scikit-learn calls above in a row (three sorts, no EER/TAR).

Repetitions of the two libraries are interleaved; medians are shown, ratio =
scikit-learn / isometry (above 1: isometry faster), and the largest absolute
difference of the shared outputs (for ``all``: AUROC and AP).

Usage: python benchmarks/bench_verification.py [--n 10000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from sklearn import metrics as skm

from isometry.evaluate.verification import average_precision, roc_auc, roc_curve, verification_metrics


def _sk_all(y, s):
    skm.roc_curve(y, s)
    return skm.roc_auc_score(y, s), skm.average_precision_score(y, s)


def _iso_all(y, s):
    r = verification_metrics(s, y)
    return r.auroc, r.average_precision


CASES = {
    "roc_auc": (lambda y, s: roc_auc(s, y), lambda y, s: skm.roc_auc_score(y, s)),
    "average_precision": (lambda y, s: average_precision(s, y), lambda y, s: skm.average_precision_score(y, s)),
    "roc_curve": (lambda y, s: roc_curve(s, y), lambda y, s: skm.roc_curve(y, s)),
    "all": (_iso_all, _sk_all),
}


def _diff(a, b):
    if isinstance(a, tuple):
        return max(_diff(x, z) for x, z in zip(a, b))
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    finite = np.isfinite(a) & np.isfinite(b)
    return float(np.abs(a[finite] - b[finite]).max()) if finite.any() else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    r = np.random.default_rng(args.seed)
    y = r.random(args.n) < 0.1
    s = r.normal(size=args.n) + y
    print(f"{args.n:,} scores, {int(y.sum()):,} positives, {args.repeats} interleaved repeats, medians in seconds")
    print(f"{'metric':<18} {'isometry':>9} {'sklearn':>9} {'ratio':>7} {'max |diff|':>11}")
    for name, (iso, sk) in CASES.items():
        times = {"isometry": [], "sklearn": []}
        outs = {}
        for _ in range(args.repeats):
            for who, fn in (("isometry", iso), ("sklearn", sk)):
                t = time.perf_counter()
                outs[who] = fn(y, s)
                times[who].append(time.perf_counter() - t)
        ti, ts = statistics.median(times["isometry"]), statistics.median(times["sklearn"])
        print(f"{name:<18} {ti:>9.2f} {ts:>9.2f} {ts / ti:>7.2f} {_diff(outs['isometry'], outs['sklearn']):>11.1e}")
        outs.clear()


if __name__ == "__main__":
    main()

"""isometry.evaluate.retrieval vs pytorch-metric-learning's AccuracyCalculator.

Same data, same metric set (precision_at_1, r_precision, MAP@R, MAP, MRR, NMI, AMI),
k = "max_bin_count". Each run is a fresh subprocess, so its peak RSS is its own;
runs of the two libraries are interleaved and the median of ``--repeats`` is shown.
Also times a bare blocked X @ X.T (OpenBLAS through numpy, blocks discarded): the
floor of any exact k-NN that computes every distance.

Usage: python benchmarks/bench_retrieval.py [--sizes 20000 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap

DATA = """
import numpy as np
def make(n, d=128, classes=200, seed=0):
    r = np.random.default_rng(seed)
    centres = r.normal(size=(classes, d)).astype(np.float32)
    y = r.integers(0, classes, n)
    x = centres[y] + 1.5 * r.normal(size=(n, d)).astype(np.float32)
    return np.ascontiguousarray(x, dtype=np.float32), y.astype(np.int64)
"""

RUNNERS = {
    "isometry": """
from isometry.evaluate import retrieval
KEYS = ["precision_at_1", "r_precision", "mean_average_precision_at_r", "mean_average_precision",
        "mean_reciprocal_rank", "nmi", "ami"]
def run(x, y):
    return retrieval(x, y, metrics=KEYS, progress=False)
""",
    "pml": """
import torch
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
def run(x, y):
    out = AccuracyCalculator(k="max_bin_count", device=torch.device("cpu")).get_accuracy(x, y)
    return {("nmi" if k == "NMI" else "ami" if k == "AMI" else k): v for k, v in out.items()}
""",
    "gemm": """
import numpy as np
def run(x, y):
    for s in range(0, len(x), 2048):
        x[s:s + 2048] @ x.T
    return {}
""",
}

TEMPLATE = DATA + "{runner}" + """
import json, resource, sys, time
x, y = make({n})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
res = run(x, y)
wall = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"wall": wall, "peak_mb": peak / 1024, "extra_mb": (peak - base) / 1024, "res": res}}))
"""


def one(name: str, n: int) -> dict:
    code = TEMPLATE.format(runner=textwrap.dedent(RUNNERS[name]), n=n)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for n in args.sizes:
        runs: dict[str, list] = {"pml": [], "isometry": [], "gemm": []}
        for _ in range(args.repeats):
            for name in runs:
                runs[name].append(one(name, n))
                print(f"  n={n} {name}: {runs[name][-1]['wall']:.1f} s", file=sys.stderr, flush=True)
        med = {k: statistics.median(r["wall"] for r in v) for k, v in runs.items()}
        peak = {k: max(r["peak_mb"] for r in v) for k, v in runs.items()}
        ours, theirs = runs["isometry"][0]["res"], runs["pml"][0]["res"]
        knn_keys = [k for k in ours if k not in ("nmi", "ami")]
        diff = max(abs(ours[k] - theirs[k]) for k in knn_keys)
        clus = max(abs(ours[k] - theirs[k]) for k in ("nmi", "ami"))
        rows.append((n, med, peak, diff, clus, ours))
    print("| n x 128, 200 classes | AccuracyCalculator s | isometry s | ratio | peak RSS MB (PML / isometry) "
          "| bare X@X.T s | isometry / GEMM | max abs diff k-NN metrics | NMI/AMI diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, med, peak, diff, clus, _ in rows:
        print(f"| {n:,} | {med['pml']:.1f} | {med['isometry']:.1f} | {med['pml'] / med['isometry']:.2f}x | "
              f"{peak['pml']:,.0f} / {peak['isometry']:,.0f} | {med['gemm']:.1f} | "
              f"{med['isometry'] / med['gemm']:.2f} | {diff:.1e} | {clus:.3f} |")
    for n, *_, ours in rows:
        print(f"\nisometry at n={n:,}: " + ", ".join(f"{k}={v:.4f}" for k, v in ours.items()))


if __name__ == "__main__":
    main()

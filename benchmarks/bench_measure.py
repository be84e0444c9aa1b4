"""Benchmark isometry.measure against magnipy (magnitude) and prdc (PRDC).

Each measurement runs in a fresh subprocess, so its peak resident memory (ru_maxrss)
is its own; time covers the computation only (not imports or data generation).
isometry and peer runs are interleaved; medians over --repeats.

    .venv/bin/python benchmarks/bench_measure.py [--repeats 3] [--sizes 1000 4000 8000] [--big 50000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

D_MAG, D_PRDC, N_PRDC, K = 16, 64, 10_000, 5


def data(n, d, seed=0):
    return np.unique(np.random.default_rng(seed).normal(size=(n, d)), axis=0)


def scales():
    return np.linspace(0.0, 2.5, 21)[1:]  # 20 positive scales


def worker(task, n):
    if task.startswith("mag"):
        x = data(n, D_MAG)
        ts = [1.0] if task.endswith("one") else list(scales())
    if task == "prdc_peer" or task == "prdc_iso":
        r = np.random.default_rng(1)
        real = r.normal(size=(N_PRDC, D_PRDC)).astype(np.float32)
        fake = (r.normal(size=(N_PRDC, D_PRDC)) * 1.05).astype(np.float32)
    if task.startswith("mag_peer"):
        from magnipy import Magnipy
    elif task == "prdc_peer":
        from prdc import compute_prdc
    else:
        from isometry.measure import SolverOptions, magnitude_function, prdc
    t0 = time.perf_counter()
    if task.startswith("mag_peer"):
        with contextlib.redirect_stdout(io.StringIO()):
            value = Magnipy(x, ts=np.asarray(ts), method="cholesky").get_magnitude()[0].tolist()
    elif task.startswith("mag_iso"):
        opts = SolverOptions(dtype="float32") if n > 20_000 else None
        value = magnitude_function(x, ts, options=opts, progress=False).values.tolist()
    elif task == "prdc_peer":
        with contextlib.redirect_stdout(io.StringIO()):
            value = [float(v) for v in compute_prdc(real, fake, K).values()]
    else:
        value = list(prdc(real, fake, k=K).values())
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "value": value, "rss_mb": rss}))


def measure(task, n):
    out = subprocess.run([sys.executable, __file__, "--worker", task, str(n)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(label, peer_task, iso_task, n, repeats):
    peer, iso = [], []
    for _ in range(repeats):  # interleaved
        peer.append(measure(peer_task, n))
        iso.append(measure(iso_task, n))
    tp = statistics.median(r["seconds"] for r in peer)
    ti = statistics.median(r["seconds"] for r in iso)
    a, b = np.array(peer[0]["value"]), np.array(iso[0]["value"])
    rel = float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300)))
    mp = max(r["rss_mb"] for r in peer)
    mi = max(r["rss_mb"] for r in iso)
    print(f"| {label:<28} | {tp:9.2f} | {ti:9.2f} | {tp / ti:6.1f}x | {mp:8.0f} | {mi:8.0f} | {rel:9.1e} |",
          flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--worker", nargs=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sizes", type=int, nargs="*", default=[1000, 4000, 8000])
    p.add_argument("--function-sizes", type=int, nargs="*", default=None,
                   help="sizes for the 20-scale function (default: --sizes)")
    p.add_argument("--big", type=int, default=50_000, help="isometry alone, one scale, float32 blocks (0 skips)")
    p.add_argument("--skip-prdc", action="store_true")
    args = p.parse_args()
    if args.worker:
        return worker(args.worker[0], int(args.worker[1]))
    print("| case | peer s | isometry s | speed-up | peer MB | isometry MB | max rel diff |")
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        compare(f"magnitude n={n} 1 scale", "mag_peer_one", "mag_iso_one", n, args.repeats)
    for n in args.function_sizes if args.function_sizes is not None else args.sizes:
        compare(f"magnitude n={n} 20 scales", "mag_peer_fn", "mag_iso_fn", n, args.repeats)
    if not args.skip_prdc:
        compare(f"prdc {N_PRDC} vs {N_PRDC}, d={D_PRDC}", "prdc_peer", "prdc_iso", N_PRDC, args.repeats)
    if args.big:
        r = measure("mag_iso_one", args.big)
        print(f"| magnitude n={args.big} 1 scale (isometry only, float32 blocks) | - | {r['seconds']:9.2f} | - | - |"
              f" {r['rss_mb']:8.0f} | - |")


if __name__ == "__main__":
    main()

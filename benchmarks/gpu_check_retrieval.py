"""GPU check of the torch k-NN path: CUDA results equal CPU results, and timings.

Runs only where CUDA is available (the project's GPU machine when lent):
  PYTHONPATH=src python benchmarks/gpu_check_retrieval.py
"""

from __future__ import annotations

import time

import numpy as np
import torch

from isometry.distances import knn
from isometry.evaluate import retrieval


def make(n, d=128, classes=200, seed=0):
    r = np.random.default_rng(seed)
    centres = r.normal(size=(classes, d)).astype(np.float32)
    y = r.integers(0, classes, n)
    return (centres[y] + 1.5 * r.normal(size=(n, d)).astype(np.float32)), y


def main() -> None:
    assert torch.cuda.is_available(), "needs a CUDA device"
    print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)
    torch.backends.cuda.matmul.allow_tf32 = False
    x, y = make(20000)
    cpu = knn(x, k=50, backend="torch")
    gpu = knn(torch.from_numpy(x).cuda(), k=50)
    same = (gpu.indices.cpu().numpy() == cpu.indices).mean()
    print(f"k-NN 20,000 x 128, k=50: CUDA vs CPU identical indices share = {same:.6f}, "
          f"max |distance diff| = {np.abs(gpu.distances.cpu().numpy() - cpu.distances).max():.2e}")
    keys = ["precision_at_1", "r_precision", "mean_average_precision_at_r", "mean_average_precision",
            "mean_reciprocal_rank", "recall_at_1", "recall_at_8"]
    a = retrieval(x, y, metrics=keys, backend="torch")
    b = retrieval(torch.from_numpy(x).cuda(), y, metrics=keys)
    print("retrieval 20,000: max |CPU - CUDA| =", max(abs(a[k] - b[k]) for k in keys))
    for n in (100_000, 1_000_000):
        x, y = make(n)
        xt = torch.from_numpy(x).cuda()
        torch.cuda.synchronize()
        t = time.perf_counter()
        res = retrieval(xt, y, metrics=keys + ["nmi", "ami"], progress=False)
        torch.cuda.synchronize()
        print(f"retrieval n={n:,} x 128 (200 classes, k=max_bin_count={n // 200}ish) on CUDA: "
              f"{time.perf_counter() - t:.1f} s; MAP@R={res['mean_average_precision_at_r']:.4f}; "
              f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()

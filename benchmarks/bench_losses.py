"""Forward + backward time of isometry.losses vs pytorch-metric-learning (PML), same batch.

Batch: 256 x 128 float32 embeddings, 32 classes x 8 samples, CPU, 2 threads. Each loss
(and each miner + loss pipeline) runs PML and isometry alternately, rep after rep, and
the table reports medians and the ratio PML / isometry (above 1: isometry is faster).

    .venv/bin/python benchmarks/bench_losses.py [--budget SECONDS] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import isometry.losses as L
import isometry.miners as M
import pytorch_metric_learning.losses as PL
import pytorch_metric_learning.miners as PM

N, D, CLASSES = 256, 128, 32

PAIR = ["ContrastiveLoss", "TripletMarginLoss", "MultiSimilarityLoss", "CircleLoss", "LiftedStructureLoss",
        "NTXentLoss", "SupConLoss", "NCALoss", "MarginLoss", "SignalToNoiseRatioContrastiveLoss",
        "ThresholdConsistentMarginLoss"]
CLASS = {"ProxyNCALoss": {}, "ProxyAnchorLoss": {}, "NormalizedSoftmaxLoss": {}, "ArcFaceLoss": {},
         "CosFaceLoss": {}, "SubCenterArcFaceLoss": {}, "SoftTripleLoss": {}}
PIPELINES = [
    ("BatchHardMiner", {}, "TripletMarginLoss", {}),
    ("MultiSimilarityMiner", {}, "MultiSimilarityLoss", {}),
    ("TripletMarginMiner", {"type_of_triplets": "semihard"}, "TripletMarginLoss", {}),
    ("PairMarginMiner", {}, "ContrastiveLoss", {}),
    ("BatchEasyHardMiner", {}, "ContrastiveLoss", {}),
    ("DistanceWeightedMiner", {}, "MarginLoss", {}),
]


def _step(fn, x, y, device):
    """One forward + backward; returns wall seconds."""
    e = x.clone().requires_grad_(True)
    clock = time.perf_counter
    if device == "cuda":
        torch.cuda.synchronize()
    start = clock()
    fn(e, y).backward()
    if device == "cuda":
        torch.cuda.synchronize()
    return clock() - start


def _compare(theirs, ours, x, y, device, budget):
    """Alternate PML / isometry reps until ``budget`` seconds (at least 30 reps, 5 for rows
    slower than 1 s a rep; at most 300); return medians. Other sessions share the machine:
    interleaving exposes both sides to the same load, the median drops preempted reps."""
    warm = max(_step(theirs, x, y, device), _step(ours, x, y, device))
    least = 30 if warm < 1.0 else 5
    t_pml, t_iso, start = [], [], time.perf_counter()
    while len(t_pml) < 300 and (len(t_pml) < least or time.perf_counter() - start < budget):
        t_pml.append(_step(theirs, x, y, device))
        t_iso.append(_step(ours, x, y, device))
    return statistics.median(t_pml), statistics.median(t_iso), len(t_pml)


def _pipeline(miner, loss):
    return lambda e, y: loss(e, y, miner(e, y))


def _cases(device):
    for name in PAIR:
        yield name, getattr(PL, name)(), getattr(L, name)()
    for name, kwargs in CLASS.items():
        theirs = getattr(PL, name)(num_classes=CLASSES, embedding_size=D, **kwargs).to(device)
        ours = getattr(L, name)(num_classes=CLASSES, embedding_size=D, **kwargs).to(device)
        ours.load_state_dict(theirs.state_dict(), strict=False)
        yield name, theirs, ours
    for miner, m_kwargs, loss, l_kwargs in PIPELINES:
        theirs = _pipeline(getattr(PM, miner)(**m_kwargs), getattr(PL, loss)(**l_kwargs))
        ours = _pipeline(getattr(M, miner)(**m_kwargs), getattr(L, loss)(**l_kwargs))
        yield f"{miner} + {loss}", theirs, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=2.0, help="seconds of reps per row (default 2)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--only", default=None, help="substring: run matching rows only")
    args = parser.parse_args()
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, D, generator=g).to(args.device)
    y = torch.arange(CLASSES).repeat_interleave(N // CLASSES)[torch.randperm(N, generator=g)].to(args.device)
    print(f"batch {N} x {D} float32, {CLASSES} classes x {N // CLASSES}, device {args.device}, "
          f"torch threads {torch.get_num_threads()}; forward + backward, median wall ms")
    print(f"| {'loss / miner + loss':<52} | {'PML ms':>9} | {'isometry ms':>11} | {'PML/iso':>7} | reps |")
    print(f"|{'-' * 54}|{'-' * 11}|{'-' * 13}|{'-' * 9}|------|")
    ratios = []
    for name, theirs, ours in _cases(args.device):
        if args.only and args.only not in name:
            continue
        t_pml, t_iso, reps = _compare(theirs, ours, x, y, args.device, args.budget)
        ratios.append(t_pml / t_iso)
        print(f"| {name:<52} | {t_pml * 1e3:9.2f} | {t_iso * 1e3:11.2f} | {t_pml / t_iso:7.2f} | {reps:4d} |",
              flush=True)
    print(f"\nmedian ratio PML/isometry: {statistics.median(ratios):.2f}x; slowest row: {min(ratios):.2f}x; "
          f"{sum(r < 1 for r in ratios)} of {len(ratios)} rows slower than PML")


if __name__ == "__main__":
    main()

"""``isometry demo``: learn a metric on scikit-learn's digits, next to the raw-pixel baseline.

Two protocols, each trained with its recipe from :mod:`isometry.train.recipes`:

- seen classes: a stratified 50/50 split of the samples;
- unseen classes: train on digits 0-4, retrieve among digits 5-9.

The learned scores are those of the **last epoch** (no choice made on the held-out
split). Writes ``DIR/metrics.json`` (``{"seen": {"raw": {...}, "learned": {...}},
"unseen": {...}}``), ``DIR/report.html`` and the two run directories ``DIR/seen``
and ``DIR/unseen``.
"""

from __future__ import annotations

import argparse
import time

NAME = "demo"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(NAME, help="train and evaluate a metric on the digits dataset, with a report",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="demo-out", help="output folder (default: demo-out)")
    p.add_argument("--epochs", type=int, default=None, help="override both recipes' epochs (quick runs)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of splits, initialization and batches")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    import torch

    from .._atomic import write_json, write_text
    from ..errors import InputError
    from ..report.html import render, run_sections, table_section
    from ..train.recipes import recipe
    from ..train.trainer import train

    if args.epochs is not None and args.epochs < 1:
        raise InputError(f"--epochs must be >= 1; got {args.epochs}.")
    if args.threads < 1:
        raise InputError(f"--threads must be >= 1; got {args.threads}.")
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    start = time.perf_counter()
    metrics, sections, skipped = {}, [], []
    for protocol in ("seen", "unseen"):
        overrides = dict(seed=args.seed, progress=args.progress, report=False, device="cpu", export="last")
        if args.epochs is not None:
            overrides["epochs"] = args.epochs
        config = recipe(f"digits-{protocol}", **overrides)
        run_dir = out / protocol
        if run_dir.exists():
            shutil.rmtree(run_dir)  # the demo always starts afresh
        t0 = time.perf_counter()
        result = train(config, run_dir)
        raw = _raw_baseline(config)
        metrics[protocol] = {"raw": raw, "learned": _retrieval_only(result["final"])}
        secs, skip = run_sections(run_dir, baselines={"raw pixels": raw}, projection="pca")
        write_text(run_dir / "report.html", render(f"isometry demo: {protocol} classes", secs,
                                                   config=config.to_dict(), skipped=skip))
        sections += [_retitle(s, protocol) for s in secs[1:]]
        skipped += [f"{protocol}: {s}" for s in skip if f"{protocol}: {s}" not in skipped]
        print(f"{protocol:>6}: trained in {time.perf_counter() - t0:.1f} s", flush=True)
    summary = {f"{p} / {kind}": metrics[p][kind] for p in metrics for kind in ("raw", "learned")}
    top = table_section("Held-out retrieval: raw pixels vs learned metric (last epoch)", summary)
    write_json(out / "metrics.json", metrics)
    write_text(out / "report.html", render("isometry demo: digits", [top] + sections, skipped=sorted(set(skipped)),
                                           notes=_NOTES))
    _print_summary(metrics, time.perf_counter() - start, out)
    return 0


_NOTES = ("seen: stratified 50/50 split of the 1,797 digits; unseen: trained on digits 0-4, evaluated on 5-9. "
          "Learned scores are those of the last epoch; raw = euclidean distance between pixel vectors.")


def _raw_baseline(config) -> dict[str, float]:
    """Retrieval on raw pixels of the same held-out rows the trained model is scored on."""
    from ..evaluate import retrieval
    from ..train.runtime import prepare_data

    data = prepare_data(config)
    x, y = data.load(data.test_rows)
    return retrieval(x.numpy(), y.numpy(), distance="euclidean", seed=config.seed, progress=False)


def _retrieval_only(row: dict) -> dict[str, float]:
    from ..evaluate import RETRIEVAL_METRICS

    return {k: row[k] for k in RETRIEVAL_METRICS.names() if k in row}


def _retitle(section, protocol: str):
    section.title = f"{section.title} ({protocol} classes)"
    return section


def _print_summary(metrics: dict, seconds: float, out) -> None:
    keys = ("mean_average_precision_at_r", "precision_at_1", "recall_at_1", "nmi")
    print(f"{'':>16}" + "".join(f"{k:>30}" for k in keys))
    for protocol, parts in metrics.items():
        for kind, values in parts.items():
            print(f"{protocol + ' / ' + kind:>16}" + "".join(f"{values[k]:>30.4f}" for k in keys))
    print(f"done in {seconds:.1f} s; wrote {out / 'metrics.json'} and {out / 'report.html'}")

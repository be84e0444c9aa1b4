"""``isometry measure EMB [--labels L] [--json OUT]``: geometry and capacity measures of one set."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._output import add_json_option, emit

NAME = "measure"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        NAME,
        help="geometry and capacity measures of an embedding set",
        description="Uniformity, spectrum (effective rank, matrix entropy, nuclear norm), intrinsic "
        "dimension, magnitude dimension and, with --labels, class alignment, manifold capacity and "
        "the MMCR centroid nuclear norm. EMB and L may be .npy, .npz, .csv or .parquet.",
    )
    p.add_argument("embeddings", metavar="EMB", help="embeddings file, one row per item")
    p.add_argument("--labels", metavar="L", help="labels file: adds the class-based measures")
    p.add_argument("--magnitude-points", type=int, default=4000, metavar="N",
                   help="magnitude dimension on a seeded subsample of at most N rows (default 4000; 0 skips it)")
    p.add_argument("--seed", type=int, default=0, help="seed of subsamples and simulations")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    add_json_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from .._validate import check_embeddings, check_labels
    from ..data.io import load_embeddings, load_labels
    from ..errors import InputError
    from ..measure import MEASURES, compute_measures, magnitude_dimension

    if args.magnitude_points < 0:
        raise InputError(f"--magnitude-points must be >= 0; got {args.magnitude_points}.")
    x = check_embeddings(load_embeddings(args.embeddings), name="embeddings", min_rows=22)
    labels = None
    if args.labels:
        labels = check_labels(load_labels(args.labels), x.shape[0], min_classes=2)
    names = [n for n in MEASURES.names() if n != "magnitude_dimension"]
    result: dict = {"n_points": int(x.shape[0]), "n_features": int(x.shape[1])}
    result.update(compute_measures(x, labels, names=names, progress=not args.no_progress))
    if args.magnitude_points:
        rows = np.arange(x.shape[0])
        if x.shape[0] > args.magnitude_points:
            rows = np.sort(np.random.default_rng(args.seed).choice(x.shape[0], args.magnitude_points, replace=False))
        result["magnitude_dimension"] = magnitude_dimension(np.asarray(x[rows], dtype=np.float64))
        result["magnitude_points"] = int(rows.size)
    emit(result, args.json, title=f"isometry measure {Path(args.embeddings).name}")
    return 0

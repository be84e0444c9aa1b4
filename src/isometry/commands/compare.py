"""``isometry compare EMB_A EMB_B [--json OUT]``: distances between two embedding sets."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._output import add_json_option, emit

NAME = "compare"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        NAME,
        help="distances between two embedding sets",
        description="Fréchet distance, precision/recall/density/coverage (A = real, B = fake, k=5), "
        "unbiased MMD^2, a classifier lower bound on the Jensen-Shannon distance and utilization "
        "of B against A. Files may be .npy, .npz, .csv or .parquet.",
    )
    p.add_argument("a", metavar="EMB_A", help="first (reference, 'real') embeddings file")
    p.add_argument("b", metavar="EMB_B", help="second ('fake') embeddings file")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    add_json_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._validate import check_embeddings, check_same_width
    from ..data.io import load_embeddings
    from ..measure import compute_comparisons

    a = check_embeddings(load_embeddings(args.a), name="EMB_A", min_rows=6)
    b = check_embeddings(load_embeddings(args.b), name="EMB_B", min_rows=6)
    check_same_width(a, b, ("EMB_A", "EMB_B"))
    result: dict = {"n_a": int(a.shape[0]), "n_b": int(b.shape[0])}
    result.update(compute_comparisons(a, b, progress=not args.no_progress))
    emit(result, args.json, title=f"isometry compare {Path(args.a).name} {Path(args.b).name}")
    return 0

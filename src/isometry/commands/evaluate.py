"""``isometry evaluate EMB [--labels L] [--reference EMB2 --reference-labels L2] [--distance D] [--json OUT]``."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from ._output import add_json_option, emit

NAME = "evaluate"
_VERIFICATION = "isometry.commands._evaluate_verification"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        NAME,
        help="retrieval, clustering and verification metrics of an embedding set",
        description="Retrieval (P@1, Recall@K, R-precision, MAP@R, MAP, MRR) and clustering (NMI, AMI) "
        "metrics. EMB and labels may be .npy (memory-mapped), .npz, .csv or .parquet.",
    )
    p.add_argument("embeddings", metavar="EMB", help="embeddings file, one row per item")
    p.add_argument("--labels", metavar="L", help="labels file (default: the 'labels' array of an .npz EMB)")
    p.add_argument("--reference", metavar="EMB2", help="separate reference embeddings to search in")
    p.add_argument("--reference-labels", metavar="L2", help="labels of the reference set")
    p.add_argument("--distance", default="euclidean",
                   choices=["euclidean", "sqeuclidean", "cosine", "cosine_similarity", "dot"])
    p.add_argument("--k", default="max_bin_count",
                   help="k-NN list length: an int, 'max_bin_count' (default, exact MAP@R) or 'all'")
    p.add_argument("--seed", type=int, default=0, help="seed of the k-means behind NMI/AMI")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    add_json_option(p)
    if importlib.util.find_spec(_VERIFICATION) is not None:
        importlib.import_module(_VERIFICATION).add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.io import load_embeddings, load_labels
    from ..errors import InputError
    from ..evaluate import retrieval

    x = load_embeddings(args.embeddings)
    labels = _labels_for(args.embeddings, args.labels, "--labels", load_labels)
    reference = reference_labels = None
    if args.reference:
        reference = load_embeddings(args.reference)
        reference_labels = _labels_for(args.reference, args.reference_labels, "--reference-labels", load_labels)
    elif args.reference_labels:
        raise InputError("--reference-labels was given without --reference.")
    k = _parse_k(args.k)
    result: dict = retrieval(
        x, labels, reference=reference, reference_labels=reference_labels, distance=args.distance, k=k,
        seed=args.seed, progress=False if args.no_progress else None,
    )
    if importlib.util.find_spec(_VERIFICATION) is not None:
        extra = importlib.import_module(_VERIFICATION).section(
            args, x, labels, reference, reference_labels, args.distance)
        result.update(extra or {})
    emit(result, args.json, title=f"isometry evaluate {Path(args.embeddings).name} ({args.distance})")
    return 0


def _labels_for(embeddings_path: str, labels_path: str | None, flag: str, load_labels):
    from ..errors import InputError

    if labels_path:
        return load_labels(labels_path)
    if Path(embeddings_path).suffix.lower() == ".npz":
        return load_labels(embeddings_path, key="labels")
    raise InputError(f"labels are needed: pass {flag} FILE, or an .npz holding a 'labels' array.")


def _parse_k(text: str):
    from ..errors import InputError

    if text == "max_bin_count":
        return text
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"--k must be an int, 'max_bin_count' or 'all'; got {text!r}.") from None
    if value < 1:
        raise InputError(f"--k must be at least 1; got {value}.")
    return value

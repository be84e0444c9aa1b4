"""Verification, threshold-consistency, selective-classification and OOD section of ``isometry evaluate``.

``isometry.commands.evaluate`` calls :func:`add_arguments` on its parser and merges
:func:`section` into its result under ``"verification"``, ``"selective"`` and
``"ood"`` (only the sections asked for). The random pair sample uses the
command's ``--seed``. Curves (``roc``, ``risk_coverage``) are part of the JSON
output only (``--json``), not of the printed table.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_arguments", "section"]

_DEFAULT_MAX_PAIRS = 2_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--pairs``, ``--selective``, ``--ood``, ``--max-pairs``, ``--knn-k``, ``--ood-k``."""
    g = parser.add_argument_group("verification, selective classification and OOD")
    g.add_argument("--pairs", action="store_true",
                   help="verification metrics of same/different-label pairs (ROC, AUROC, AP, EER, TAR@FAR), "
                        "threshold consistency (OPIS) and k-NN selective classification")
    g.add_argument("--selective", action="store_true",
                   help="selective classification (AURC, E-AURC, AUGRC) of k-NN classification confidence")
    g.add_argument("--ood", metavar="EMB_OOD", default=None,
                   help="out-of-distribution embeddings: AUROC, FPR@95TPR, AUPR-in/out, AUTC of k-NN distance "
                        "scores against the reference (or EMB)")
    g.add_argument("--max-pairs", type=int, default=_DEFAULT_MAX_PAIRS, metavar="N",
                   help=f"score all pairs up to N, else a seeded stratified sample of N (default {_DEFAULT_MAX_PAIRS})")
    g.add_argument("--knn-k", type=int, default=10, metavar="K",
                   help="neighbours voting in k-NN classification for selective metrics (default 10)")
    g.add_argument("--ood-k", type=int, default=1, metavar="K",
                   help="OOD score = distance to the K-th nearest reference (default 1)")


def section(args: argparse.Namespace, embeddings: Any, labels: Any, reference: Any, reference_labels: Any,
            distance: str) -> dict:
    """The requested sections as a JSON-ready nested dict (possibly empty)."""
    from ..errors import InputError

    curves = bool(getattr(args, "json", None))
    seed = int(getattr(args, "seed", 0) or 0)
    if getattr(args, "max_pairs", _DEFAULT_MAX_PAIRS) < 2:
        raise InputError(f"--max-pairs must be at least 2; got {args.max_pairs}.")
    out: dict = {}
    if getattr(args, "pairs", False):
        if labels is None:
            raise InputError("--pairs needs labels (--labels).")
        out["verification"] = _verification(embeddings, labels, reference, reference_labels, distance,
                                            args.max_pairs, seed, curves)
    if getattr(args, "pairs", False) or getattr(args, "selective", False):
        if labels is None:
            raise InputError("--selective needs labels (--labels).")
        out["selective"] = _selective(embeddings, labels, reference, reference_labels, distance,
                                      getattr(args, "knn_k", 10), curves)
    if getattr(args, "ood", None):
        out["ood"] = _ood(embeddings, reference, args.ood, distance, getattr(args, "ood_k", 1))
    return out


def _verification(x, y, ref, ref_y, distance, max_pairs, seed, curves) -> dict:
    from ..errors import InputError
    from ..evaluate._pairs import pair_scores
    from ..evaluate.threshold import threshold_consistency
    from ..evaluate.verification import verification_metrics

    ps = pair_scores(x, y, reference=ref, reference_labels=ref_y, distance=distance, max_pairs=max_pairs, seed=seed)
    sampled = (ps.positives_sampled, ps.negatives_sampled)
    result = verification_metrics(ps.scores, ps.is_positive, prevalence=ps.prevalence if any(sampled) else None,
                                  sampled=sampled)
    d = result.to_dict()
    if not curves:
        d.pop("roc")
    d["score"] = "similarity" if distance in ("cosine_similarity", "dot") else f"negative {distance} distance"
    d["population"] = {"n_positive_pairs": ps.n_positive_population, "n_negative_pairs": ps.n_negative_population,
                       "positives_sampled": ps.positives_sampled, "negatives_sampled": ps.negatives_sampled,
                       "seed": seed}
    try:
        d["threshold_consistency"] = threshold_consistency(
            ps.scores, ps.is_positive, ps.first_class, ps.second_class).to_dict()
    except InputError as exc:
        d["threshold_consistency"] = {"skipped": " ".join(str(exc).split())}
    return d


def _selective(x, y, ref, ref_y, distance, k, curves) -> dict:
    from ..evaluate.selective import knn_confidence, selective_metrics

    kc = knn_confidence(x, y, reference=ref, reference_labels=ref_y, k=k, distance=distance)
    d = selective_metrics(kc.confidence, kc.correct).to_dict()
    if not curves:
        d.pop("risk_coverage")
    d["confidence"] = f"k-NN vote share (k={k})"
    d["k"] = k
    return d


def _ood(x, ref, ood_path, distance, k) -> dict:
    from ..data.io import load_embeddings
    from ..evaluate.ood import knn_ood_scores, ood_metrics

    ood = load_embeddings(ood_path)
    id_scores = knn_ood_scores(x, ref, k=k, distance=distance)
    ood_scores = knn_ood_scores(ood, x if ref is None else ref, k=k, distance=distance)
    d = ood_metrics(id_scores, ood_scores, normalize="minmax").to_dict()
    d["score"] = f"{distance} to the k-th nearest reference, k={k}" + ("" if ref is not None else " (EMB itself, self excluded)")
    d["k"] = k
    return d

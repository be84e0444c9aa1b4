"""``isometry train``: train an embedding model from a JSON config, a recipe, or flags.

Examples::

    isometry train config.json --out runs/a
    isometry train --recipe digits-unseen --out runs/b --epochs 10
    isometry train --data feats.npy --labels labels.npy --model mlp --augment none --out runs/c
    isometry train --resume --out runs/a

Each flag overrides the same option of the config file or recipe (see
:class:`isometry.train.TrainConfig`). ``--resume`` continues the run in ``--out`` from
its last checkpoint with its own config.json.
"""

from __future__ import annotations

import argparse
import json

NAME = "train"

# flag -> (type, help); each maps to the TrainConfig field of the same name (dashes -> underscores)
_FLAGS = {
    "data": (str, "'digits', a feature file (.npy/.npz/.parquet/.csv) or an image folder"),
    "labels": (str, "labels file for feature data"),
    "split": (str, "'stratified' or 'unseen'"),
    "test-size": (float, "held-out share of each class (stratified split)"),
    "model": (str, "'mlp', 'cnn' or 'timm:<name>'"),
    "embedding-dim": (int, "embedding width"),
    "width": (int, "channels of the CNN's first block"),
    "weights": (str, "local weights file of a timm backbone (never downloaded)"),
    "augment": (str, "'affine', 'affine_flip' or 'none'"),
    "views": (int, "1, or 2 augmented views per sample"),
    "loss": (str, "an isometry.losses class name, e.g. MultiSimilarityLoss"),
    "miner": (str, "an isometry.miners class name, or 'none'"),
    "self-supervised-loss": (str, "e.g. NTXentLoss (needs --views 2)"),
    "sampler": (str, "'MPerClassSampler' or 'none'"),
    "m-per-class": (int, "samples per class in a batch (MPerClassSampler)"),
    "batch-size": (int, "batch size"),
    "epochs": (int, "epochs"),
    "lr": (float, "AdamW learning rate"),
    "weight-decay": (float, "AdamW weight decay"),
    "schedule": (str, "'cosine', 'constant' or 'step'"),
    "warmup-epochs": (int, "linear warm-up epochs"),
    "grad-clip": (float, "gradient norm clip (0 = off)"),
    "distance": (str, "distance of the evaluation"),
    "patience": (int, "early stopping after this many epochs without improvement"),
    "seed": (int, "seed of everything random"),
    "device": (str, "'auto', 'cpu' or 'cuda'"),
}
_JSON_FLAGS = ("loss-params", "miner-params", "self-supervised-params", "train-classes", "hidden")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(NAME, help="train an embedding model (evaluates every epoch, checkpoints, reports)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?", default=None, help="JSON config file (optional)")
    p.add_argument("--recipe", default=None, help="start from a named recipe (digits-seen, digits-unseen)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    for flag, (kind, text) in _FLAGS.items():
        p.add_argument(f"--{flag}", type=kind, default=None, help=text)
    for flag in _JSON_FLAGS:
        p.add_argument(f"--{flag}", default=None, help="a JSON value, e.g. '{\"margin\": 0.1}' or '[0, 1, 2]'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..errors import InputError
    from ..train.config import TrainConfig, load_config
    from ..train.recipes import RECIPES
    from ..train.trainer import train

    if args.threads is not None:
        if args.threads < 1:
            raise InputError(f"--threads must be >= 1; got {args.threads}.")
        torch.set_num_threads(args.threads)
    overrides = _overrides(args)
    if args.resume:
        if args.config or args.recipe or overrides:
            raise InputError("--resume takes only --out (the run's own config.json is used).")
        result = train(None, args.out, resume=True)
    else:
        if args.config and args.recipe:
            raise InputError("give a config file or --recipe, not both.")
        values: dict = {}
        if args.config:
            values = load_config(args.config).to_dict()
        elif args.recipe:
            if args.recipe not in RECIPES:
                raise InputError(f"unknown recipe {args.recipe!r}; known: {', '.join(RECIPES)}.")
            values = dict(RECIPES[args.recipe])
        result = train(TrainConfig.from_dict({**values, **overrides}), args.out)
    if result:
        best = result["exported"]
        keys = ("mean_average_precision_at_r", "precision_at_1", "recall_at_1", "nmi")
        print(f"epochs run: {result['epochs_run']}, best epoch: {result['best_epoch']}")
        print("  ".join(f"{k}={best[k]:.4f}" for k in keys if k in best))
        from pathlib import Path

        print(f"wrote {Path(args.out) / ('report.html' if (Path(args.out) / 'report.html').exists() else '')}")
    return 0


def _overrides(args: argparse.Namespace) -> dict:
    from ..errors import InputError

    out: dict = {}
    for flag in _FLAGS:
        value = getattr(args, flag.replace("-", "_"))
        if value is not None:
            out[flag.replace("-", "_")] = None if value == "none" else value
    if out.get("grad_clip") == 0:
        out["grad_clip"] = None
    for flag in _JSON_FLAGS:
        raw = getattr(args, flag.replace("-", "_"))
        if raw is not None:
            try:
                out[flag.replace("-", "_")] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InputError(f"--{flag} must be JSON: {exc}") from None
    if args.no_progress:
        out["progress"] = False
    return out

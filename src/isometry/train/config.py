"""The training configuration: one flat dataclass, read from JSON or command-line flags.

Every field is declared with its constraint; :func:`TrainConfig.from_dict` rejects an
unknown key with a "did you mean" hint, and :meth:`TrainConfig.validate` reports a bad
value in the project's one message format.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._validate import Interval, Options, check_param
from ..errors import InputError

__all__ = ["TrainConfig", "load_config"]

_POS_INT = Interval(numbers.Integral, 1, None)
_NONNEG = Interval(numbers.Real, 0, None)


@dataclass
class TrainConfig:
    """What to train, on which data, and how (defaults: the seen-class digits recipe).

    Data: ``data`` is ``"digits"``, a feature file (``.npy``/``.npz``/``.parquet``/``.csv``;
    ``labels`` names the labels file) or an image folder. ``split`` is ``"stratified"``
    (``test_size`` of each class held out) or ``"unseen"`` (train on ``train_classes``,
    default the first half of the classes; test on the rest).

    Model: ``"mlp"``, ``"cnn"`` or ``"timm:<name>"`` (``weights``: a local file only).

    Output: ``export`` picks the weights whose embeddings, report and ``results.json``
    "exported" row are written: the ``"best"`` epoch on the held-out split, or the
    ``"last"`` one (no choice made on held-out data).

    Objective: ``loss`` / ``miner`` name classes of :mod:`isometry.losses` and
    :mod:`isometry.miners` with keyword ``*_params``; ``sampler`` is
    ``"MPerClassSampler"`` (``m_per_class``) or ``None`` (shuffled batches).
    ``views = 2`` feeds two augmented views of each sample; with
    ``self_supervised_loss`` (e.g. ``"NTXentLoss"``) the views of one sample are
    positives of each other (instance discrimination, "A Simple Framework for
    Contrastive Learning of Visual Representations", Chen et al., 2020), added with
    weight ``self_supervised_weight``.
    """

    data: str = "digits"
    labels: str | None = None
    split: str = "stratified"
    test_size: float = 0.5
    train_classes: list | None = None
    image_size: int = 32
    model: str = "cnn"
    hidden: list = field(default_factory=lambda: [256])
    embedding_dim: int = 64
    width: int = 16
    dropout: float = 0.0
    normalize: bool = True
    weights: str | None = None
    augment: str | None = "affine"
    views: int = 1
    loss: str = "MultiSimilarityLoss"
    loss_params: dict = field(default_factory=dict)
    miner: str | None = "MultiSimilarityMiner"
    miner_params: dict = field(default_factory=dict)
    self_supervised_loss: str | None = None
    self_supervised_params: dict = field(default_factory=dict)
    self_supervised_weight: float = 1.0
    sampler: str | None = "MPerClassSampler"
    m_per_class: int = 8
    batch_size: int = 128
    epochs: int = 20
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: int = 0
    grad_clip: float | None = 10.0
    amp: bool | None = None
    distance: str = "euclidean"
    monitor: str = "mean_average_precision_at_r"
    patience: int | None = None
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0
    progress: bool = True
    report: bool = True
    export: str = "best"

    _CONSTRAINTS = {
        "split": (Options(["stratified", "unseen"]),),
        "test_size": (Interval(numbers.Real, 0, 1, "neither"),),
        "image_size": (_POS_INT,),
        "embedding_dim": (_POS_INT,),
        "width": (_POS_INT,),
        "dropout": (Interval(numbers.Real, 0, 1, "left"),),
        "normalize": (bool,),
        "augment": (None, Options(["affine", "affine_flip"])),
        "views": (Interval(numbers.Integral, 1, 2),),
        "sampler": (None, Options(["MPerClassSampler"])),
        "m_per_class": (_POS_INT,),
        "batch_size": (Interval(numbers.Integral, 2, None),),
        "epochs": (_POS_INT,),
        "lr": (Interval(numbers.Real, 0, None, "neither"),),
        "weight_decay": (_NONNEG,),
        "schedule": (Options(["cosine", "constant", "step"]),),
        "warmup_epochs": (Interval(numbers.Integral, 0, None),),
        "grad_clip": (None, Interval(numbers.Real, 0, None, "neither")),
        "amp": (None, bool),
        "self_supervised_weight": (_NONNEG,),
        "patience": (None, _POS_INT),
        "seed": (Interval(numbers.Integral, 0, None),),
        "device": (str,),
        "num_workers": (Interval(numbers.Integral, 0, None),),
        "progress": (bool,),
        "report": (bool,),
        "export": (Options(["best", "last"]),),
        "loss_params": (dict,),
        "miner_params": (dict,),
        "self_supervised_params": (dict,),
    }

    def validate(self) -> "TrainConfig":
        """Check every field; raise :class:`InputError` naming the first bad one."""
        values = dataclasses.asdict(self)
        for key, allowed in self._CONSTRAINTS.items():
            check_param(values[key], key, "TrainConfig", *allowed)
        if self.views == 2 and self.augment is None:
            raise InputError("views=2 needs augment (two identical views teach nothing); set augment='affine'.")
        if self.self_supervised_loss and self.views != 2:
            raise InputError("self_supervised_loss needs views=2 (the two views of a sample are its positives).")
        if not isinstance(self.hidden, (list, tuple)):
            raise InputError(f"The 'hidden' parameter of TrainConfig must be a list of ints. Got {self.hidden!r}.")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Build and validate a config; unknown keys raise with the closest known name."""
        names = cls.field_names()
        for key in values:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise InputError(f"unknown training option {key!r}.{hint}")
        return cls(**values).validate()


def load_config(path: str | os.PathLike) -> TrainConfig:
    """Read a JSON config file (an object of :class:`TrainConfig` fields)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"config file not found: {path}")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"config file {path} is not valid JSON: {exc}") from None
    if not isinstance(values, dict):
        raise InputError(f"config file {path} must hold one JSON object of options.")
    # keys starting with '_' are records a run adds (versions, split sizes), not options
    return TrainConfig.from_dict({k: v for k, v in values.items() if not k.startswith("_")})

"""The trainer's plumbing: device choice, data split and views, batches, embedding, evaluation,
LR schedule, run records and optional TensorBoard / MLflow logging."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from ..errors import InputError
from . import distributed as D

__all__ = ["pick_device", "prepare_data", "Data", "Batches", "embed", "evaluate", "make_scheduler",
           "environment", "Loggers"]


def pick_device(name: str) -> torch.device:
    """``"auto"`` = CUDA when available, else CPU; ``"cuda"`` without a GPU is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"The 'device' parameter must be 'auto', 'cpu' or 'cuda[:i]'. Got {name!r} instead.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but no CUDA GPU is available; use device 'cpu' or 'auto'.")
    return device


@dataclass
class Data:
    """The dataset, its split, and the training label codes (0..C_train-1)."""

    dataset: Any
    train_rows: np.ndarray
    test_rows: np.ndarray
    train_targets: np.ndarray

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        return getattr(self.dataset, "image_shape", None)

    @property
    def in_features(self) -> int:
        shape = self.image_shape
        return int(np.prod(shape)) if shape else int(self.dataset.features.shape[1])

    @property
    def num_train_classes(self) -> int:
        return int(len(np.unique(self.train_targets)))

    def original_labels(self, rows: np.ndarray) -> np.ndarray:
        labels = self.dataset.classes[self.dataset.targets.numpy()[rows]]
        return labels.astype(str) if labels.dtype.kind == "O" else labels

    def load(self, rows: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self.dataset.batch(rows)

    def views(self, x: torch.Tensor, y: torch.Tensor, config: Any) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """Augmented input(s), their labels, and instance ids (for the self-supervised loss)."""
        if config.augment is None:
            return x, y, None
        if config.views == 1:
            return self._augment(x, config), y, None
        both = torch.cat([self._augment(x, config), self._augment(x, config)])
        ids = torch.arange(x.shape[0], device=x.device)
        return both, torch.cat([y, y]), torch.cat([ids, ids])

    def _augment(self, x: torch.Tensor, config: Any) -> torch.Tensor:
        from ..data.images import random_affine, random_hflip

        images = x.reshape(x.shape[0], *self.image_shape)
        images = random_affine(images)
        if config.augment == "affine_flip":
            images = random_hflip(images)
        return images.reshape(x.shape)


def prepare_data(config: Any) -> Data:
    """Load the dataset the config names and split it."""
    from ..data.datasets import load_dataset
    from ..data.splits import make_split

    dataset = load_dataset(config.data, labels=config.labels, image_size=config.image_size)
    if config.augment and getattr(dataset, "image_shape", None) is None:
        raise InputError(f"augment={config.augment!r} needs image data (digits or an image folder); "
                         "set augment to null for plain features.")
    codes = dataset.targets.numpy()
    if config.split == "unseen" and config.train_classes is not None:
        wanted = [str(c) for c in config.train_classes]
        known = {str(c): i for i, c in enumerate(dataset.classes.tolist())}
        missing = [c for c in wanted if c not in known]
        if missing:
            raise InputError(f"train_classes holds class(es) absent from the data: {missing[:5]}.")
        split = make_split(codes, "unseen", train_classes=[known[c] for c in wanted])
    else:
        split = make_split(codes, config.split, test_size=config.test_size, seed=config.seed)
    _, train_targets = np.unique(codes[split.train], return_inverse=True)
    return Data(dataset, split.train, split.test, train_targets.astype(np.int64))


class Batches:
    """Yields (x, y) of each batch of an epoch; y holds training codes. Rank-aware under DDP."""

    def __init__(self, data: Data, batches: list[list[int]], info: D.DistInfo, config: Any) -> None:
        self.data, self.info, self.config = data, info, config
        self.batches = [D.local_slice(b, info) for b in batches]

    def iterate(self, *, progress: bool, epoch: int, epochs: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        from tqdm.auto import tqdm

        bar = tqdm(self.batches, desc=f"epoch {epoch}/{epochs}", leave=False, disable=not progress, unit="batch")
        targets = torch.as_tensor(self.data.train_targets)
        if self.config.num_workers and not hasattr(self.data.dataset, "features"):
            yield from self._loader(bar, targets)
            return
        for positions in bar:
            x, _ = self.data.load(self.data.train_rows[positions])
            yield x, targets[positions]

    def _loader(self, bar: Any, targets: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Files read by ``num_workers`` DataLoader workers (image folders)."""
        from torch.utils.data import DataLoader

        rows = [self.data.train_rows[p].tolist() for p in self.batches]
        loader = DataLoader(self.data.dataset, batch_sampler=rows, num_workers=self.config.num_workers)
        for positions, (x, _) in zip(bar, loader):
            yield x, targets[positions]


@torch.no_grad()
def embed(model: torch.nn.Module, data: Data, rows: np.ndarray, device: torch.device, config: Any,
          block: int = 1024) -> np.ndarray:
    """Embeddings (float32, numpy) of ``rows`` in eval mode."""
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(rows), block):
        x, _ = data.load(rows[start:start + block])
        out.append(model(x.to(device)).float().cpu())
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros((0, config.embedding_dim), np.float32)


def evaluate(model: torch.nn.Module, data: Data, device: torch.device, config: Any) -> dict[str, float]:
    """Retrieval metrics (:func:`isometry.evaluate.retrieval`) of the held-out split."""
    from ..evaluate import retrieval

    emb = embed(model, data, data.test_rows, device, config)
    codes = data.dataset.targets.numpy()[data.test_rows]
    return retrieval(emb, codes, distance=config.distance, seed=config.seed, progress=False)


def make_scheduler(optimizer: torch.optim.Optimizer, config: Any) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-epoch LR factor: linear warm-up, then cosine to zero, constant, or x0.1 every third of the run."""
    epochs, warm = int(config.epochs), int(config.warmup_epochs)
    kind = config.schedule

    def factor(e: int) -> float:  # e = epochs finished
        if e < warm:
            return (e + 1) / (warm + 1)
        if kind == "constant":
            return 1.0
        if kind == "step":
            return 0.1 ** ((e - warm) // max(1, (epochs - warm) // 3 or 1))
        return 0.5 * (1 + math.cos(math.pi * (e - warm) / max(1, epochs - warm)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def environment(config: Any, data: Data) -> dict[str, Any]:
    """Versions, seed and split sizes recorded in config.json."""
    import sklearn

    from .. import __version__

    return {
        "isometry": __version__, "torch": torch.__version__, "numpy": np.__version__,
        "scikit-learn": sklearn.__version__, "python": platform.python_version(), "seed": config.seed,
        "n_train": int(len(data.train_rows)), "n_test": int(len(data.test_rows)),
        "classes": [str(c) for c in data.dataset.classes.tolist()],
        "train_classes": sorted({str(c) for c in data.original_labels(data.train_rows).tolist()}),
        "threads": torch.get_num_threads(),
    }


class Loggers:
    """TensorBoard (when ``tensorboard`` is installed) and MLflow (when installed and
    ``MLFLOW_TRACKING_URI`` is set); metrics.jsonl is always written by the trainer."""

    def __init__(self, run_dir: Path, *, enabled: bool = True) -> None:
        self.tb = self.mlflow = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))
        except ImportError:
            pass
        if os.environ.get("MLFLOW_TRACKING_URI"):
            try:
                import mlflow

                mlflow.start_run(run_name=Path(run_dir).name)
                self.mlflow = mlflow
            except ImportError:
                pass

    def log(self, row: dict[str, Any]) -> None:
        scalars = {k: float(v) for k, v in row.items() if isinstance(v, (int, float)) and k != "epoch"}
        if self.tb is not None:
            for k, v in scalars.items():
                self.tb.add_scalar(k, v, row["epoch"])
        if self.mlflow is not None:
            self.mlflow.log_metrics(scalars, step=row["epoch"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.mlflow is not None:
            self.mlflow.end_run()

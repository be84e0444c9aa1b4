"""Train an embedding model, evaluate it every epoch, keep the best checkpoint, write a run directory.

A run directory holds::

    config.json        the TrainConfig, library versions, seed, split sizes
    metrics.jsonl      one line per epoch: loss, lr, seconds and the retrieval metrics
    checkpoints/       last.pt (resume point) and best.pt (best monitored score), atomic
    embeddings.npy     embeddings of the held-out split from the best model
    labels.npy         their labels
    results.json       best epoch and scores
    report.html        the self-contained report (isometry.report)

Every random choice of epoch ``e`` is seeded from ``(seed, e)``, so a run stopped after an
epoch and resumed (``resume=True``) ends with the same weights and metrics as an
uninterrupted one on a deterministic device (CPU).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._atomic import save_npy, write_json, write_text
from ..errors import InputError
from . import distributed as D
from .checkpoint import BEST, LAST, load_checkpoint, save_checkpoint
from .config import TrainConfig, load_config
from .objective import Objective, build_objective, make_sampler_order
from .runtime import Batches, embed, environment, evaluate, make_scheduler, pick_device, prepare_data

__all__ = ["train", "Trainer"]


@dataclass
class _State:
    epoch: int = 0              # epochs finished
    best: float = -np.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list | None = None


class Trainer:
    """Holds what one run needs; :func:`train` is the plain entry point.

    Parameters
    ----------
    config : TrainConfig
    run_dir : path
        Created if missing.
    """

    def __init__(self, config: TrainConfig, run_dir: str | os.PathLike) -> None:
        self.config = config.validate()
        self.run_dir = Path(run_dir)
        self.device = pick_device(config.device)
        self.dist = D.init_distributed(self.device)
        self.data = prepare_data(config)
        make_sampler_order(config, self.data.train_targets, 0)  # a bad sampler setting fails now, not mid-run
        torch.manual_seed(config.seed)
        from .models import build_model

        self.model = build_model(
            config.model, in_features=self.data.in_features, image_shape=self.data.image_shape,
            embedding_dim=config.embedding_dim, hidden=config.hidden, width=config.width,
            dropout=config.dropout, normalize=config.normalize, weights=config.weights,
        ).to(self.device)
        self.objective: Objective = build_objective(
            config, num_classes=self.data.num_train_classes, embedding_size=config.embedding_dim,
            distributed=self.dist.enabled)
        self.objective.loss.to(self.device)
        if self.objective.self_supervised is not None:
            self.objective.self_supervised.to(self.device)
        self.ddp_model = D.wrap_model(self.model, self.dist, self.device)
        params = list(self.model.parameters()) + self.objective.parameters()
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = make_scheduler(self.optimizer, config)
        self.amp = self.device.type == "cuda" and config.amp is not False
        self.amp_dtype = torch.bfloat16 if self.amp and torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and self.amp_dtype == torch.float16)
        self.state = _State(history=[])

    # -- checkpoints -----------------------------------------------------------------
    def _checkpoint(self) -> dict[str, Any]:
        s = self.state
        return {
            "model": self.model.state_dict(), "objective": self.objective.loss.state_dict(),
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(), "epoch": s.epoch, "best": float(s.best),
            "best_epoch": s.best_epoch, "bad_epochs": s.bad_epochs, "history": s.history,
        }

    def restore(self, path: Path) -> None:
        ck = load_checkpoint(path, map_location=self.device)
        self.model.load_state_dict(ck["model"])
        self.objective.loss.load_state_dict(ck["objective"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.scheduler.load_state_dict(ck["scheduler"])
        self.scaler.load_state_dict(ck["scaler"])
        self.state = _State(ck["epoch"], ck["best"], ck["best_epoch"], ck["bad_epochs"], list(ck["history"]))

    # -- one epoch -------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> float:
        """One pass over the training split; returns the mean loss."""
        cfg = self.config
        torch.manual_seed(cfg.seed * 100_003 + epoch)
        batches = make_sampler_order(cfg, self.data.train_targets, epoch)
        self.ddp_model.train()
        feed = Batches(self.data, batches, self.dist, cfg)
        total, count = 0.0, 0
        for x, y in feed.iterate(progress=cfg.progress and self.dist.is_main, epoch=epoch, epochs=cfg.epochs):
            loss = self._step(x.to(self.device), y.to(self.device))
            total, count = total + loss, count + 1
        self.scheduler.step()
        return total / max(count, 1)

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        cfg = self.config
        x_all, y_all, instances = self.data.views(x, y, cfg)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp):
            emb = self.ddp_model(x_all)
        loss = self.objective(emb.float(), y_all, instances)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if cfg.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(loss.detach())

    # -- the run ---------------------------------------------------------------------
    def fit(self, *, stop_after: int | None = None) -> dict[str, Any]:
        """Train until ``epochs`` (or early stopping); ``stop_after`` ends this call after that
        many epochs, leaving a resumable run."""
        cfg, done_now = self.config, 0
        stop = False
        while self.state.epoch < cfg.epochs and not stop:
            if stop_after is not None and done_now >= stop_after:
                return {"stopped": True, "epoch": self.state.epoch}
            start = time.perf_counter()
            epoch = self.state.epoch + 1
            mean_loss = self.train_epoch(epoch)
            self.state.epoch = epoch  # every rank counts epochs; rank 0 also evaluates and saves
            if self.dist.is_main:
                stop = self._after_epoch(epoch, mean_loss, time.perf_counter() - start)
            stop = D.broadcast_flag(stop, self.dist, self.device)
            done_now += 1
        D.barrier(self.dist)
        return self.finish() if self.dist.is_main else {}

    def _after_epoch(self, epoch: int, mean_loss: float, seconds: float) -> bool:
        cfg, s = self.config, self.state
        metrics = evaluate(self.model, self.data, self.device, cfg)
        row = {"epoch": epoch, "loss": mean_loss, "lr": self.optimizer.param_groups[0]["lr"],
               "seconds": round(seconds, 3), **metrics}
        s.history.append(row)
        s.epoch = epoch
        score = metrics.get(cfg.monitor, float("nan"))
        improved = bool(np.isfinite(score) and score > s.best)
        if improved:
            s.best, s.best_epoch, s.bad_epochs = float(score), epoch, 0
        else:
            s.bad_epochs += 1
        ck = self._checkpoint()
        if improved:
            save_checkpoint(self.run_dir / "checkpoints" / BEST, ck)
        save_checkpoint(self.run_dir / "checkpoints" / LAST, ck)
        _write_metrics(self.run_dir, s.history)
        self.loggers.log(row)
        return cfg.patience is not None and s.bad_epochs >= cfg.patience

    def finish(self) -> dict[str, Any]:
        """Exported model -> embeddings.npy, labels.npy, results.json, report.html (unless ``report=False``)."""
        s, cfg = self.state, self.config
        best_path = self.run_dir / "checkpoints" / BEST
        if cfg.export == "best" and best_path.exists():
            self.model.load_state_dict(load_checkpoint(best_path, map_location=self.device)["model"])
        emb = embed(self.model, self.data, self.data.test_rows, self.device, cfg)
        save_npy(self.run_dir / "embeddings.npy", emb)
        save_npy(self.run_dir / "labels.npy", self.data.original_labels(self.data.test_rows))
        last_row = s.history[-1] if s.history else {}
        best_row = next((r for r in s.history if r["epoch"] == s.best_epoch), last_row)
        results = {"best_epoch": s.best_epoch, "epochs_run": s.epoch, "monitor": cfg.monitor,
                   "stopped_early": s.epoch < cfg.epochs, "export": cfg.export, "best": best_row,
                   "final": last_row, "exported": best_row if cfg.export == "best" else last_row}
        write_json(self.run_dir / "results.json", results)
        self.loggers.close()
        if self.config.report:
            from ..report.html import write_report

            write_report(self.run_dir)
        return results


def _write_metrics(run_dir: Path, history: list[dict]) -> None:
    from .._atomic import dumps_json

    write_text(run_dir / "metrics.jsonl", "".join(dumps_json(r, indent=None) + "\n" for r in history))


def train(config: TrainConfig | None, run_dir: str | os.PathLike, *, resume: bool = False,
          stop_after: int | None = None) -> dict[str, Any]:
    """Train, evaluate every epoch, checkpoint and report into ``run_dir``.

    Parameters
    ----------
    config : TrainConfig or None
        The run's options; with ``resume=True`` it may be None (the run's own
        config.json is used, and a different config is an error).
    run_dir : path
    resume : bool, default=False
        Continue from ``run_dir/checkpoints/last.pt``.
    stop_after : int, optional
        Return after this many epochs in this call (the run stays resumable).

    Returns
    -------
    dict
        ``best_epoch``, ``epochs_run``, ``best`` and ``final`` metric rows (empty on
        ranks other than 0), or ``{"stopped": True, "epoch": e}`` when ``stop_after`` ended it.

    Raises
    ------
    InputError
        Bad config; ``resume`` without a checkpoint; a new run into a folder that
        already holds one.
    """
    run_dir = Path(run_dir)
    last = run_dir / "checkpoints" / LAST
    if resume:
        stored = load_config(run_dir / "config.json") if (run_dir / "config.json").exists() else None
        if stored is None or not last.exists():
            raise InputError(f"nothing to resume in {run_dir}: config.json and checkpoints/last.pt are needed.")
        if config is not None and _comparable(config) != _comparable(stored):
            raise InputError(f"--resume uses the run's own config.json; the given options differ from it.")
        config = stored
    elif last.exists():
        raise InputError(f"{run_dir} already holds a run; pass resume=True (--resume) or choose a new folder.")
    if config is None:
        raise InputError("a config is needed to start a new run.")
    trainer = Trainer(config, run_dir)
    from .runtime import Loggers

    trainer.loggers = Loggers(run_dir, enabled=trainer.dist.is_main)
    try:
        if resume:
            trainer.restore(last)
        elif trainer.dist.is_main:
            write_json(run_dir / "config.json", {**config.to_dict(), "_run": environment(config, trainer.data)})
        return trainer.fit(stop_after=stop_after)
    finally:
        D.shutdown_distributed(trainer.dist)


def _comparable(config: TrainConfig) -> dict[str, Any]:
    d = config.to_dict()
    d.pop("progress", None)
    return d

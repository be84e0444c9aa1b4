"""The trainer: run directory contents, atomic checkpoints, resume == uninterrupted, early stopping."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from isometry.errors import InputError
from isometry.evaluate import RETRIEVAL_METRICS
from isometry.train import TrainConfig, train
from isometry.train.checkpoint import load_checkpoint

TINY = dict(model="mlp", hidden=[64], embedding_dim=16, augment=None, epochs=3, batch_size=32, m_per_class=4, lr=5e-3,
            progress=False, report=False, device="cpu", seed=3)


def _config(**over):
    return TrainConfig.from_dict({**TINY, **over})


def test_run_directory_holds_everything(tmp_path):
    result = train(_config(), tmp_path / "run")
    run = tmp_path / "run"
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3]
    assert set(RETRIEVAL_METRICS.names()) <= set(lines[0]) and {"loss", "lr", "seconds"} <= set(lines[0])
    config = json.loads((run / "config.json").read_text())
    assert config["seed"] == 3 and config["_run"]["torch"] == torch.__version__ and config["_run"]["n_test"] == 898
    ck = load_checkpoint(run / "checkpoints" / "last.pt")  # weights_only=True
    assert ck["epoch"] == 3 and "model" in ck and len(ck["history"]) == 3
    assert torch.load(run / "checkpoints" / "best.pt", weights_only=True)["epoch"] == result["best_epoch"]
    emb = np.load(run / "embeddings.npy")
    assert emb.shape == (898, 16) and np.load(run / "labels.npy").shape == (898,)
    assert result["best"]["mean_average_precision_at_r"] == max(r["mean_average_precision_at_r"] for r in lines)
    assert result["best"]["mean_average_precision_at_r"] > 0.6  # a trained digits MLP beats raw pixels (~0.53)
    assert not list(run.glob("**/*.tmp"))


def test_resume_gives_the_same_final_metrics(tmp_path):
    full = train(_config(), tmp_path / "full")
    stopped = train(_config(), tmp_path / "part", stop_after=1)
    assert stopped == {"stopped": True, "epoch": 1}
    assert len((tmp_path / "part" / "metrics.jsonl").read_text().splitlines()) == 1
    resumed = train(None, tmp_path / "part", resume=True)
    assert resumed["final"]["epoch"] == 3
    strip = lambda r: {k: v for k, v in r.items() if k != "seconds"}  # noqa: E731
    assert strip(resumed["final"]) == strip(full["final"])
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert np.array_equal(np.load(tmp_path / "full" / "embeddings.npy"), np.load(tmp_path / "part" / "embeddings.npy"))


def test_resume_and_overwrite_errors(tmp_path):
    with pytest.raises(InputError, match="nothing to resume"):
        train(None, tmp_path / "empty", resume=True)
    train(_config(epochs=1), tmp_path / "r")
    with pytest.raises(InputError, match="already holds a run"):
        train(_config(epochs=1), tmp_path / "r")
    with pytest.raises(InputError, match="differ"):
        train(_config(epochs=5), tmp_path / "r", resume=True)


def test_early_stopping_when_the_score_stalls(tmp_path):
    # a linear model (no BatchNorm statistics) with a vanishing learning rate never changes
    result = train(_config(hidden=[], lr=1e-30, epochs=6, patience=2, export="last"), tmp_path / "s")
    assert result["epochs_run"] == 3 and result["stopped_early"] and result["best_epoch"] == 1


def test_unseen_split_with_string_labels_and_proxy_loss(tmp_path):
    from conftest import clustered

    X, y = clustered(240, 8, 6, spread=0.3, seed=1)
    names = np.array(list("abcdef"))[y]
    np.savez(tmp_path / "d.npz", embeddings=X, labels=names)
    cfg = _config(data=str(tmp_path / "d.npz"), split="unseen", train_classes=["a", "b", "c"], loss="ProxyAnchorLoss",
                  miner=None, sampler=None, epochs=2)
    result = train(cfg, tmp_path / "u")
    labels = np.load(tmp_path / "u" / "labels.npy")
    assert set(labels.tolist()) == {"d", "e", "f"}
    assert json.loads((tmp_path / "u" / "config.json").read_text())["_run"]["train_classes"] == ["a", "b", "c"]
    assert np.isfinite(result["final"]["loss"])


def test_bad_training_setups(tmp_path):
    with pytest.raises(InputError, match="augment='affine' needs image data"):
        from conftest import clustered

        X, y = clustered(40, 4, 2)
        np.savez(tmp_path / "f.npz", embeddings=X, labels=y)
        train(_config(data=str(tmp_path / "f.npz"), augment="affine"), tmp_path / "a")
    with pytest.raises(InputError, match="unknown loss 'NoSuchLoss'"):
        train(_config(loss="NoSuchLoss"), tmp_path / "b")
    with pytest.raises(InputError, match="no CUDA GPU"):
        if torch.cuda.is_available():
            raise InputError("no CUDA GPU (skipped: a GPU is present)")
        train(_config(device="cuda"), tmp_path / "c")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (mixed precision path)")
def test_mixed_precision_on_gpu(tmp_path):
    result = train(_config(device="cuda", model="cnn", augment="affine", hidden=[]), tmp_path / "g")
    assert np.isfinite(result["final"]["loss"]) and result["final"]["mean_average_precision_at_r"] > 0.5


def test_tensorboard_events_when_installed(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard not installed (metrics.jsonl is always written)")
    train(_config(epochs=1), tmp_path / "tb")
    assert list((tmp_path / "tb" / "tensorboard").glob("events.out.tfevents.*"))

"""`isometry train`: config file, recipe, flags, --resume, and one-line errors."""

from __future__ import annotations

import json

import numpy as np

from isometry.cli import main

FLAGS = ["--model", "mlp", "--augment", "none", "--epochs", "2", "--batch-size", "32", "--m-per-class", "4",
         "--embedding-dim", "8", "--hidden", "[32]", "--no-progress", "--threads", "1", "--device", "cpu"]


def _data(tmp_path):
    r = np.random.default_rng(0)
    y = np.repeat(np.arange(8), 20)
    X = (r.normal(size=(8, 6))[y] + 0.5 * r.normal(size=(160, 6))).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    return ["--data", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy")]


def test_train_with_flags_then_resume_is_refused_when_done(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *_data(tmp_path), *FLAGS, "--loss", "TripletMarginLoss", "--loss-params",
                 '{"margin": 0.1}', "--miner", "BatchHardMiner", "--out", str(out)]) == 0
    assert "mean_average_precision_at_r=" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["loss"] == "TripletMarginLoss" and config["loss_params"] == {"margin": 0.1}
    assert config["augment"] is None and config["hidden"] == [32]
    assert (out / "report.html").exists() and (out / "embeddings.npy").exists()
    assert main(["train", *_data(tmp_path), *FLAGS, "--out", str(out)]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_train_from_config_file_and_resume(tmp_path, capsys):
    from isometry.train import train
    from isometry.train.config import load_config

    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(json.dumps({"data": "digits", "split": "unseen", "model": "mlp", "hidden": [16],
                                    "augment": None, "epochs": 2, "batch_size": 40, "m_per_class": 8,
                                    "progress": False, "report": False, "device": "cpu"}))
    out = tmp_path / "r"
    train(load_config(cfg_file), out, stop_after=1)  # as if the first call was interrupted after epoch 1
    assert main(["train", "--resume", "--out", str(out), "--threads", "1"]) == 0
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2]
    assert main(["train", str(cfg_file), "--resume", "--out", str(out)]) == 2
    assert "--resume takes only --out" in capsys.readouterr().err


def test_train_errors_are_one_line(tmp_path, capsys):
    cases = [
        (["--loss", "TripletMarginLos"], "Did you mean 'TripletMarginLoss'"),
        (["--loss-params", "{margin"], "--loss-params must be JSON"),
        (["--split", "random"], "'split' parameter"),
        (["--recipe", "nope"], "unknown recipe"),
    ]
    for extra, message in cases:
        code = main(["train", *_data(tmp_path), *FLAGS, *extra, "--out", str(tmp_path / "e")])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (extra, err)
    assert main(["train", str(tmp_path / "missing.json"), "--out", str(tmp_path / "m")]) == 2
    assert "config file not found" in capsys.readouterr().err

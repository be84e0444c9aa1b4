"""The verification / selective / OOD section of ``isometry evaluate``."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from conftest import clustered
from isometry.cli import main
from isometry.commands import _evaluate_verification as section_module
from isometry.errors import InputError


def _args(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--json", default=None)
    p.add_argument("--seed", type=int, default=0)
    section_module.add_arguments(p)
    return p.parse_args(argv)


@pytest.fixture
def data():
    return clustered(120, 8, 4, spread=0.5, seed=1)


def test_section_direct_keys_and_json_ready(data):
    x, y = data
    out = section_module.section(_args(["--pairs"]), x, y, None, None, "cosine")
    assert set(out) == {"verification", "selective"}
    v = out["verification"]
    assert {"auroc", "average_precision", "eer", "tar_at_far", "sampled", "population",
            "threshold_consistency"} <= set(v)
    assert "roc" not in v  # curves only in JSON output
    assert v["population"]["n_positive_pairs"] + v["population"]["n_negative_pairs"] == 120 * 119 // 2
    assert v["sampled"] is False and v["auroc_stderr"] is None
    assert {"aurc", "e_aurc", "augrc", "accuracy", "k"} <= set(out["selective"])
    json.dumps(out)


def test_section_sampled_pairs_report_errors(data):
    x, y = data
    out = section_module.section(_args(["--pairs", "--max-pairs", "1000", "--json", "x"]), x, y, None, None,
                                 "euclidean")
    v = out["verification"]
    assert v["sampled"] is True and v["auroc_stderr"] > 0
    assert v["n_positive_pairs"] + v["n_negative_pairs"] == 1000
    assert len(v["roc"]["fpr"]) == len(v["roc"]["tpr"]) <= 200
    assert "risk_coverage" in out["selective"]


def test_section_selective_only_and_nothing(data):
    x, y = data
    assert set(section_module.section(_args(["--selective"]), x, y, None, None, "euclidean")) == {"selective"}
    assert section_module.section(_args([]), x, y, None, None, "euclidean") == {}


def test_section_ood(data, tmp_path):
    x, y = data
    np.save(tmp_path / "ood.npy", x[:50] + 4.0)
    out = section_module.section(_args(["--ood", str(tmp_path / "ood.npy")]), x, y, None, None, "euclidean")
    o = out["ood"]
    assert o["auroc"] > 0.95 and o["autc_normalization"] == "minmax" and o["n_ood"] == 50 and o["n_id"] == 120


def test_section_bad_input(data):
    x, y = data
    with pytest.raises(InputError, match="labels"):
        section_module.section(_args(["--pairs"]), x, None, None, None, "euclidean")
    with pytest.raises(InputError, match="max-pairs"):
        section_module.section(_args(["--pairs", "--max-pairs", "1"]), x, y, None, None, "euclidean")


@pytest.fixture
def files(tmp_path, data):
    x, y = data
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "o.npy", x[:40] + 3.0)
    return tmp_path


def test_through_cli_json(files, capsys):
    code = main(["evaluate", str(files / "x.npy"), "--labels", str(files / "y.npy"), "--pairs",
                 "--ood", str(files / "o.npy"), "--no-progress", "--json", "-"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert {"precision_at_1", "verification", "selective", "ood"} <= set(out)
    assert 0.5 < out["verification"]["auroc"] <= 1 and "roc" in out["verification"]
    assert out["verification"]["tar_at_far"]["1e-06"] is None  # unmeasurable FAR -> NaN -> null


def test_through_cli_table_and_errors(files, capsys):
    assert main(["evaluate", str(files / "x.npy"), "--labels", str(files / "y.npy"), "--selective",
                 "--no-progress"]) == 0
    assert "augrc" in capsys.readouterr().out
    assert main(["evaluate", str(files / "x.npy"), "--labels", str(files / "y.npy"), "--ood",
                 str(files / "missing.npy"), "--no-progress"]) == 2
    assert "error" in capsys.readouterr().err
    y1 = np.zeros(120, dtype=np.int64)
    np.save(files / "y1.npy", y1)
    assert main(["evaluate", str(files / "x.npy"), "--labels", str(files / "y1.npy"), "--pairs",
                 "--no-progress"]) == 2

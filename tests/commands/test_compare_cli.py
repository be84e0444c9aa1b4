import json

import numpy as np
import pytest

from conftest import clustered
from isometry.cli import main


@pytest.fixture
def files(tmp_path):
    x, _ = clustered(200, 6, 4, spread=0.5)
    np.save(tmp_path / "a.npy", x[:100])
    np.save(tmp_path / "b.npy", x[100:])
    np.save(tmp_path / "far.npy", x[100:] + 5)
    np.save(tmp_path / "narrow.npy", x[:, :3])
    return tmp_path


def test_json_keys_and_direction(files, capsys):
    assert main(["compare", str(files / "a.npy"), str(files / "b.npy"), "--json", "-", "--no-progress"]) == 0
    near = json.loads(capsys.readouterr().out)
    assert {"precision", "recall", "density", "coverage", "frechet_distance", "mmd",
            "classifier_discrepancy", "utilization"} <= set(near)
    assert main(["compare", str(files / "a.npy"), str(files / "far.npy"), "--json", "-", "--no-progress"]) == 0
    far = json.loads(capsys.readouterr().out)
    assert far["frechet_distance"] > near["frechet_distance"]
    assert far["precision"] < near["precision"]


def test_table(files, capsys):
    assert main(["compare", str(files / "a.npy"), str(files / "b.npy"), "--no-progress"]) == 0
    assert "coverage" in capsys.readouterr().out


@pytest.mark.parametrize("other, match", [("narrow.npy", "features"), ("nothere.npy", "not found")])
def test_bad_input_exit_2(files, capsys, other, match):
    assert main(["compare", str(files / "a.npy"), str(files / other)]) == 2
    assert match in capsys.readouterr().err

import json

import numpy as np
import pytest

from conftest import clustered
from isometry.cli import main


@pytest.fixture
def files(tmp_path):
    x, y = clustered(150, 6, 4, spread=0.5)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    return tmp_path


def test_json_to_stdout_with_labels(files, capsys):
    assert main(["measure", str(files / "x.npy"), "--labels", str(files / "y.npy"), "--json", "-",
                 "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"uniformity", "effective_rank", "intrinsic_dimension_twonn", "magnitude_dimension",
            "manifold_capacity", "mmcr_nuclear_norm", "class_alignment"} <= set(out)
    assert out["n_points"] == 150 and 1 <= out["effective_rank"] <= 6


def test_table_without_labels_and_json_file(files, capsys):
    assert main(["measure", str(files / "x.csv"), "--magnitude-points", "0", "--json",
                 str(files / "m.json"), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "wasserstein_uniformity" in text and "manifold_capacity" not in text
    saved = json.loads((files / "m.json").read_text())
    assert "magnitude_dimension" not in saved and "nuclear_norm" in saved


def test_magnitude_subsample(files, capsys):
    assert main(["measure", str(files / "x.npy"), "--magnitude-points", "50", "--json", "-", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["magnitude_points"] == 50


@pytest.mark.parametrize("extra, match", [
    (["--labels", "missing.npy"], "not found"),
    (["--magnitude-points", "-1"], "magnitude-points"),
])
def test_bad_input_exit_2(files, capsys, extra, match):
    assert main(["measure", str(files / "x.npy"), *extra]) == 2
    assert match in capsys.readouterr().err


def test_bad_labels_and_nan(files, capsys):
    np.save(files / "short.npy", np.arange(10))
    assert main(["measure", str(files / "x.npy"), "--labels", str(files / "short.npy")]) == 2
    assert "entries" in capsys.readouterr().err
    bad = np.ones((30, 3))
    bad[4, 1] = np.nan
    np.save(files / "nan.npy", bad)
    assert main(["measure", str(files / "nan.npy")]) == 2
    assert "NaN" in capsys.readouterr().err

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import clustered
from isometry.cli import main


@pytest.fixture
def files(tmp_path):
    x, y = clustered(120, 8, 4, spread=0.5)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    return tmp_path


def test_json_to_stdout(files, capsys):
    assert main(["evaluate", str(files / "x.npy"), "--labels", str(files / "y.npy"), "--json", "-"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"precision_at_1", "mean_average_precision_at_r", "recall_at_8", "nmi", "ami"} <= set(out)


def test_table_and_json_file(files, capsys):
    assert main(["evaluate", str(files / "x.npy"), "--labels", str(files / "y.npy"), "--distance", "cosine",
                 "--json", str(files / "out.json")]) == 0
    assert "mean_average_precision_at_r" in capsys.readouterr().out
    assert json.loads((files / "out.json").read_text())["r_precision"] > 0.5


def test_reference_set(files, capsys):
    x, y = np.load(files / "x.npy"), np.load(files / "y.npy")
    np.save(files / "q.npy", x[:40]); np.save(files / "qy.npy", y[:40])
    np.save(files / "r.npy", x[40:]); np.save(files / "ry.npy", y[40:])
    assert main(["evaluate", str(files / "q.npy"), "--labels", str(files / "qy.npy"), "--reference",
                 str(files / "r.npy"), "--reference-labels", str(files / "ry.npy"), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["precision_at_1"] > 0.5


@pytest.mark.parametrize("argv,needle", [
    (["missing.npy", "--labels", "y.npy"], "not found"),
    (["x.npy"], "labels are needed"),
    (["x.npy", "--labels", "short.npy"], "has 5 entries but there are 120"),
    (["x.npy", "--labels", "y.npy", "--k", "abc"], "--k must be"),
    (["nan.npy", "--labels", "y.npy"], "NaN or inf in 1 row(s): rows 3"),
])
def test_bad_input_exit_2_one_line(files, capsys, argv, needle, monkeypatch):
    np.save(files / "short.npy", np.arange(5))
    bad = np.load(files / "x.npy").copy(); bad[3, 0] = np.nan
    np.save(files / "nan.npy", bad)
    monkeypatch.chdir(files)
    assert main(["evaluate", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and err.startswith("isometry evaluate: error:")


def test_python_dash_m_entry_point(files):
    out = subprocess.run([sys.executable, "-m", "isometry", "evaluate", str(files / "x.npy"), "--labels",
                          str(files / "y.npy"), "--json", "-"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "precision_at_1" in json.loads(out.stdout)

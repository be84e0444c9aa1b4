"""The HTML report: self-contained, every figure present, renders in headless Chromium."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from isometry.errors import InputError
from isometry.report import render, table_section, write_report
from isometry.report import plots
from isometry.train import TrainConfig, train

EXPECTED = ["Held-out retrieval", "Training curves", "Recall@K", "Per-class MAP@R", "2-D projection",
            "Pair distances"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    r = np.random.default_rng(2)
    y = np.repeat(np.arange(4), 60)
    X = (r.normal(size=(4, 12))[y] + 0.8 * r.normal(size=(240, 12))).astype(np.float32)
    np.savez(base / "data.npz", embeddings=X, labels=y)
    cfg = TrainConfig.from_dict(dict(data=str(base / "data.npz"), model="mlp", hidden=[32], embedding_dim=8,
                                     augment=None, epochs=2, batch_size=32, m_per_class=8, progress=False,
                                     report=False, device="cpu"))
    train(cfg, base / "run")
    return base / "run"


@pytest.fixture(scope="module")
def report_path(run_dir):
    return write_report(run_dir, projection="pca", path=run_dir / "built.html")


def _sections(doc: str) -> list[str]:
    return re.findall(r"<h2>([^<]+)</h2>", doc)


def test_report_is_self_contained_with_all_figures(report_path):
    doc = report_path.read_text()
    titles = _sections(doc)
    for name in EXPECTED:
        assert name in titles
    imgs = re.findall(r'<img alt="([^"]+)" src="([^"]+)"', doc)
    assert len(imgs) >= len(EXPECTED) - 1
    assert all(src.startswith("data:image/png;base64,") for _, src in imgs)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", doc)  # nothing fetched from a network
    assert "<script" not in doc
    optional = {"Verification ROC", "Risk-coverage", "Magnitude function", "Spectrum"}
    for name in optional:  # present when the module exists, else listed under "Skipped" with the reason
        module_missing = "Skipped" in titles and ("figures not importable" in doc)
        assert name in titles or module_missing


def test_report_cli_rebuilds(run_dir, capsys):
    from isometry.cli import main

    (run_dir / "report.html").unlink(missing_ok=True)
    assert main(["report", str(run_dir), "--projection", "pca"]) == 0
    assert (run_dir / "report.html").exists() and "wrote" in capsys.readouterr().out
    assert main(["report", str(run_dir / "nope")]) == 2
    assert "run directory not found" in capsys.readouterr().err


def test_report_needs_a_finished_run(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(InputError, match="missing metrics.jsonl"):
        write_report(tmp_path)


def test_per_class_map_and_table_rendering():
    x = np.array([[0.0], [0.1], [5.0], [5.2], [9.0], [9.1]])
    classes, values = plots.per_class_map_at_r(x, np.array([0, 0, 1, 1, 2, 2]))
    assert classes.tolist() == [0, 1, 2] and np.allclose(values, 1.0)
    doc = render("t", [table_section("scores", {"raw <b>": {"precision_at_1": 0.5}})])
    assert "raw &lt;b&gt;" in doc and "0.5000" in doc


def test_report_renders_in_headless_chromium(report_path, chromium, tmp_path):
    path = report_path
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", path.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    for name in EXPECTED:
        assert f"<h2>{name}</h2>" in rendered
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', rendered)) >= len(EXPECTED) - 1
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, *flags, "--window-size=1200,3000", f"--screenshot={shot}", path.as_uri()],
                   capture_output=True, timeout=120, check=True)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape[0] >= 1000 and pixels.std() > 10  # figures drawn, not a blank page

"""`isometry demo`: both protocols, raw baseline next to the learned metric, metrics.json shape, report."""

from __future__ import annotations

import json

from isometry.cli import main
from isometry.evaluate import RETRIEVAL_METRICS


def test_demo_reduced_run_writes_metrics_and_report(tmp_path, capsys):
    # the full demo (recipe epochs) is run by hand; its numbers are in README and benchmarks/RESULTS.md
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--epochs", "1", "--threads", "1"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"seen", "unseen"}
    for protocol in metrics.values():
        assert set(protocol) == {"raw", "learned"}
        for part in protocol.values():
            assert set(part) == set(RETRIEVAL_METRICS.names())
            assert all(0.0 <= v <= 1.0 for v in part.values())
    # raw pixels on digits: MAP@R about 0.53 (seen split) and 0.61 (digits 5-9)
    assert abs(metrics["seen"]["raw"]["mean_average_precision_at_r"] - 0.53) < 0.03
    assert abs(metrics["unseen"]["raw"]["mean_average_precision_at_r"] - 0.61) < 0.02
    doc = (out / "report.html").read_text()
    assert doc.count("data:image/png;base64,") >= 10 and "unseen classes" in doc
    for protocol in ("seen", "unseen"):
        assert (out / protocol / "report.html").exists() and (out / protocol / "checkpoints" / "last.pt").exists()
    printed = capsys.readouterr().out
    assert "unseen / raw" in printed and "metrics.json" in printed


def test_demo_bad_arguments(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--epochs", "0"]) == 2
    assert "--epochs must be >= 1" in capsys.readouterr().err

"""ROC and risk-coverage figures from result objects and their JSON dicts."""

from __future__ import annotations

import io

import numpy as np
import pytest

from isometry.errors import InputError
from isometry.evaluate.figures import risk_coverage_figure, roc_figure
from isometry.evaluate.selective import selective_metrics
from isometry.evaluate.verification import verification_metrics


@pytest.fixture
def results(rng):
    s = rng.normal(size=500)
    y = rng.random(500) < 0.3
    s = s + y
    return verification_metrics(s, y), selective_metrics(s, y)


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_figures_from_objects_and_dicts(results):
    v, sel = results
    for fig in (roc_figure(v), roc_figure(v.to_dict(), log_far=False), risk_coverage_figure(sel),
                risk_coverage_figure(sel.to_dict())):
        assert _png(fig).startswith(b"\x89PNG")
    ax = roc_figure(v.to_dict(), log_far=False).axes[0]
    line = ax.get_lines()[0]
    assert np.allclose(line.get_xdata(), v.to_dict()["roc"]["fpr"])
    assert "AUROC" in ax.get_legend().get_texts()[0].get_text()


def test_figures_reject_results_without_curves():
    with pytest.raises(InputError, match="roc"):
        roc_figure({"auroc": 0.9})
    with pytest.raises(InputError, match="risk_coverage"):
        risk_coverage_figure({"aurc": 0.1})
    with pytest.raises(InputError, match="coverage"):
        risk_coverage_figure(3)

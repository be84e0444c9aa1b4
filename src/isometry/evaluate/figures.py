"""Figures of verification and selective-classification results for the report.

Each function takes a result object (:class:`~isometry.evaluate.verification.VerificationResult`,
:class:`~isometry.evaluate.selective.SelectiveResult`) or its ``to_dict()`` form
(as stored in the evaluate JSON) and returns a ``matplotlib.figure.Figure`` drawn
with the Agg canvas. matplotlib is imported only when a figure is made, and
pyplot is never used, so no global backend or figure registry is touched.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import InputError

__all__ = ["roc_figure", "risk_coverage_figure"]


def _new_figure(size: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _curve(result: Any, key: str, xs: str, ys: str, attrs: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(result, Mapping):
        try:
            curve = result[key]
            return np.asarray(curve[xs], dtype=float), np.asarray(curve[ys], dtype=float)
        except (KeyError, TypeError):
            raise InputError(f"The result has no '{key}' curve with '{xs}' and '{ys}' lists.") from None
    try:
        return np.asarray(getattr(result, attrs[0]), dtype=float), np.asarray(getattr(result, attrs[1]), dtype=float)
    except AttributeError:
        raise InputError(f"Expected a result with {attrs[0]}/{attrs[1]} or a dict with '{key}'; "
                         f"got {type(result).__name__}.") from None


def roc_figure(result: Any, *, log_far: bool = True, title: str = "Verification ROC") -> Any:
    """ROC curve (TAR against FAR) of a verification result.

    Parameters
    ----------
    result : VerificationResult or dict
        The object from :func:`~isometry.evaluate.verification.verification_metrics`
        or its ``to_dict()`` (keys ``roc.fpr``, ``roc.tpr``, optional ``auroc``, ``eer``).
    log_far : bool, default=True
        Logarithmic FAR axis (points with FAR = 0 are not drawn on it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fpr, tpr = _curve(result, "roc", "fpr", "tpr", ("roc_fpr", "roc_tpr"))
    auroc = result.get("auroc") if isinstance(result, Mapping) else getattr(result, "auroc", None)
    fig = _new_figure((4.5, 3.6))
    ax = fig.add_subplot()
    label = f"AUROC = {auroc:.4f}" if isinstance(auroc, float) else None
    if log_far:
        keep = fpr > 0
        ax.plot(fpr[keep], tpr[keep], label=label)
        ax.set_xscale("log")
    else:
        ax.plot(fpr, tpr, label=label)
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=0.8)
    ax.set_xlabel("false accept rate (FAR)")
    ax.set_ylabel("true accept rate (TAR)")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    if label:
        ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def risk_coverage_figure(result: Any, *, title: str = "Risk-coverage") -> Any:
    """Selective risk against coverage of a selective-classification result.

    Parameters
    ----------
    result : SelectiveResult or dict
        From :func:`~isometry.evaluate.selective.selective_metrics` or its
        ``to_dict()`` (keys ``risk_coverage.coverage``, ``risk_coverage.risk``,
        optional ``aurc``, ``augrc``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    cov, risk = _curve(result, "risk_coverage", "coverage", "risk", ("coverage", "risk"))
    get = result.get if isinstance(result, Mapping) else (lambda k: getattr(result, k, None))
    aurc, augrc = get("aurc"), get("augrc")
    fig = _new_figure((4.5, 3.6))
    ax = fig.add_subplot()
    label = f"AURC = {aurc:.4f}, AUGRC = {augrc:.4f}" if isinstance(aurc, float) and isinstance(augrc, float) else None
    ax.step(cov, risk, where="pre", label=label)
    ax.set_xlabel("coverage")
    ax.set_ylabel("selective risk")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, max(0.05, float(np.max(risk)) * 1.05) if risk.size else 1)
    ax.set_title(title)
    if label:
        ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return fig

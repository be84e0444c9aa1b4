"""Small matplotlib figures of measures, for the HTML report (Agg backend, imported lazily)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .magnitude import magnitude_function
from .spectrum import singular_values

__all__ = ["magnitude_function_figure", "spectrum_figure"]


def magnitude_function_figure(X: Any, *, n_scales: int = 20, max_points: int = 2000, seed: int = 0) -> Any:
    """Magnitude function ``t -> |tX|`` (on a seeded subsample of ``max_points`` rows).

    Returns
    -------
    matplotlib.figure.Figure
    """
    x = _subsample(X, max_points, seed)
    fn = magnitude_function(x, n_scales=n_scales)
    fig, ax = _axes()
    ax.plot(fn.scales, fn.values, marker="o", markersize=3)
    ax.set_xlabel("scale t")
    ax.set_ylabel("magnitude |tX|")
    ax.set_title(f"Magnitude function ({x.shape[0]} points)")
    return fig


def spectrum_figure(X: Any) -> Any:
    """Normalized eigenvalues of the covariance (squared singular values), log scale.

    Returns
    -------
    matplotlib.figure.Figure
    """
    s = singular_values(X)
    ev = s**2 / max(float((s**2).sum()), 1e-300)
    fig, ax = _axes()
    ax.semilogy(np.arange(1, ev.size + 1), np.where(ev > 0, ev, np.nan), marker=".")
    ax.set_xlabel("component")
    ax.set_ylabel("share of variance")
    ax.set_title("Eigenvalue spectrum")
    return fig


def _axes() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.5, 3.2), layout="constrained")
    return fig, fig.add_subplot()


def _subsample(X: Any, max_points: int, seed: int) -> np.ndarray:
    from .._backend import to_numpy
    from .._validate import check_embeddings

    x = np.asarray(to_numpy(check_embeddings(X, name="X")), dtype=np.float64)
    if x.shape[0] > max_points:
        x = x[np.sort(np.random.default_rng(seed).choice(x.shape[0], max_points, replace=False))]
    return x

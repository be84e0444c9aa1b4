"""Figures of a training run: curves, Recall@K, per-class MAP@R, 2-D projection, pair distances.

Each function returns a ``matplotlib.figure.Figure`` on the Agg canvas; pyplot is never
used, so no global backend or figure registry is touched.
"""

from __future__ import annotations

import base64
import io
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["new_figure", "figure_to_base64", "training_curves", "recall_at_k_figure", "per_class_figure",
           "projection_figure", "pair_distance_figure", "per_class_map_at_r"]


def new_figure(size: tuple[float, float] = (5.0, 3.6)) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_to_base64(fig: Any, *, dpi: int = 96) -> str:
    """PNG bytes of ``fig`` as base64 text (for an ``<img src="data:image/png;base64,...">``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def training_curves(history: Sequence[Mapping[str, Any]], *, metrics: Sequence[str] = (
        "mean_average_precision_at_r", "precision_at_1", "r_precision")) -> Any:
    """Training loss (left) and held-out metrics (right) per epoch."""
    fig = new_figure((8.0, 3.4))
    left, right = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in history]
    left.plot(epochs, [r.get("loss", np.nan) for r in history], marker="o", ms=3)
    left.set_xlabel("epoch")
    left.set_ylabel("training loss")
    left.grid(alpha=0.3)
    for name in metrics:
        values = [r.get(name) for r in history]
        if any(v is not None for v in values):
            right.plot(epochs, [np.nan if v is None else v for v in values], marker="o", ms=3, label=name)
    right.set_xlabel("epoch")
    right.set_ylabel("held-out score")
    right.legend(fontsize=7)
    right.grid(alpha=0.3)
    return fig


def recall_at_k_figure(series: Mapping[str, Mapping[str, Any]]) -> Any:
    """Recall@K against K (log2 axis), one line per named metrics dict (e.g. raw vs learned)."""
    fig = new_figure()
    ax = fig.add_subplot()
    for name, metrics in series.items():
        ks = sorted(int(k.rsplit("_", 1)[1]) for k in metrics if k.startswith("recall_at_"))
        ax.plot(ks, [metrics[f"recall_at_{k}"] for k in ks], marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("K")
    ax.set_ylabel("Recall@K")
    ax.set_ylim(None, 1.01)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def per_class_map_at_r(embeddings: np.ndarray, labels: np.ndarray, *, distance: str = "euclidean"
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Distinct labels and the mean MAP@R of each class's queries (from isometry.evaluate)."""
    from ..evaluate import retrieval_per_query

    per = retrieval_per_query(embeddings, labels, distance=distance, metrics=["mean_average_precision_at_r"])
    values = per["mean_average_precision_at_r"]
    classes = np.unique(labels)
    means = np.array([np.nanmean(values[labels == c]) if np.isfinite(values[labels == c]).any() else np.nan
                      for c in classes])
    return classes, means


def per_class_figure(classes: np.ndarray, values: np.ndarray, *, name: str = "MAP@R") -> Any:
    """One bar per class (at most 60 shown: the 30 lowest and 30 highest)."""
    order = np.argsort(values)
    if len(order) > 60:
        order = np.concatenate([order[:30], order[-30:]])
    fig = new_figure((max(4.0, 0.25 * len(order) + 1.5), 3.4))
    ax = fig.add_subplot()
    ax.bar(np.arange(len(order)), values[order], color="tab:blue")
    ax.set_xticks(np.arange(len(order)), [str(c) for c in classes[order]], rotation=90 if len(order) > 12 else 0,
                  fontsize=7)
    ax.set_xlabel("class")
    ax.set_ylabel(f"{name} of its queries")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    return fig


def projection_figure(embeddings: np.ndarray, labels: np.ndarray, *, method: str = "auto", seed: int = 0,
                      max_points: int = 2000) -> Any:
    """2-D map of the embeddings: t-SNE ("Visualizing Data using t-SNE", van der Maaten & Hinton,
    2008) or PCA; "auto" = t-SNE up to 1,000 points, else PCA. At most ``max_points`` points
    are drawn (a seeded sample above it)."""
    from sklearn.decomposition import PCA

    x, y = np.asarray(embeddings, dtype=np.float64), np.asarray(labels)
    if len(x) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
        x, y = x[keep], y[keep]
    use = ("tsne" if len(x) <= 1000 else "pca") if method == "auto" else method
    if use == "tsne" and len(x) > 5:
        from sklearn.manifold import TSNE

        xy = TSNE(2, perplexity=min(30.0, (len(x) - 1) / 3), init="pca", random_state=seed,
                  max_iter=500).fit_transform(x)
    else:
        use = "pca"
        xy = PCA(2, random_state=seed).fit_transform(x) if x.shape[1] >= 2 else np.column_stack([x[:, 0], 0 * x[:, 0]])
    fig = new_figure((5.0, 4.4))
    ax = fig.add_subplot()
    classes, codes = np.unique(y, return_inverse=True)
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=codes, cmap="tab10" if len(classes) <= 10 else "turbo", s=6)
    if len(classes) <= 20:
        handles = [ax.scatter([], [], color=sc.cmap(sc.norm(i)), s=12, label=str(c)) for i, c in enumerate(classes)]
        ax.legend(handles=handles, fontsize=7, markerscale=1.5, loc="best", ncol=2)
    ax.set_title(f"{'t-SNE' if use == 'tsne' else 'PCA'} of {len(x)} embeddings")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def pair_distance_figure(distances: np.ndarray, is_positive: np.ndarray, *, distance: str = "euclidean") -> Any:
    """Histograms (densities) of same-class vs different-class pair distances."""
    fig = new_figure()
    ax = fig.add_subplot()
    bins = np.histogram_bin_edges(distances, bins=60)
    ax.hist(distances[is_positive], bins=bins, density=True, alpha=0.6, label=f"same class ({is_positive.sum()})")
    ax.hist(distances[~is_positive], bins=bins, density=True, alpha=0.6,
            label=f"different class ({(~is_positive).sum()})")
    ax.set_xlabel(f"{distance} distance")
    ax.set_ylabel("density")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig

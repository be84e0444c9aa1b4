"""One self-contained HTML report of a run: every figure an inline base64 PNG, no network.

:func:`write_report` reads a run directory (config.json, metrics.jsonl, results.json,
embeddings.npy, labels.npy) and writes ``report.html`` beside them. Figures of
:mod:`isometry.evaluate.figures` (ROC, risk-coverage) and :mod:`isometry.measure.figures`
(magnitude function, spectrum) are included when those modules can be imported; a figure
that cannot be drawn is listed under "Skipped" with the reason, never silently dropped.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .._atomic import write_text
from ..errors import InputError
from . import plots

__all__ = ["Section", "figure_section", "table_section", "run_sections", "render", "write_report",
           "METRIC_KEYS"]

METRIC_KEYS = ("precision_at_1", "r_precision", "mean_average_precision_at_r", "mean_average_precision",
               "mean_reciprocal_rank", "recall_at_1", "recall_at_2", "recall_at_4", "recall_at_8", "nmi", "ami")


@dataclass
class Section:
    """A titled block of the report; ``body`` is trusted HTML made by this module."""

    title: str
    body: str
    kind: str = "figure"


def figure_section(title: str, fig: Any, caption: str = "") -> Section:
    img = f'<img alt="{html.escape(title)}" src="data:image/png;base64,{plots.figure_to_base64(fig)}">'
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return Section(title, f"<figure>{img}{cap}</figure>")


def table_section(title: str, rows: Mapping[str, Mapping[str, Any]], keys: Sequence[str] = METRIC_KEYS) -> Section:
    """A table with one row per named metrics dict and one column per key."""
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = []
    for name, values in rows.items():
        cells = "".join(f"<td>{_fmt(values.get(k))}</td>" for k in keys)
        body.append(f"<tr><th>{html.escape(str(name))}</th>{cells}</tr>")
    return Section(title, f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>", kind="table")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if v != v else f"{v:.4f}"
    return "" if v is None else html.escape(str(v))


def _read_run(run_dir: Path) -> dict[str, Any]:
    need = ["config.json", "metrics.jsonl", "embeddings.npy", "labels.npy"]
    missing = [n for n in need if not (run_dir / n).exists()]
    if missing:
        raise InputError(f"{run_dir} is not a finished run directory: missing {', '.join(missing)}.")
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    results = json.loads((run_dir / "results.json").read_text()) if (run_dir / "results.json").exists() else {}
    return {
        "config": json.loads((run_dir / "config.json").read_text()),
        "history": history, "results": results,
        "embeddings": np.load(run_dir / "embeddings.npy", allow_pickle=False),
        "labels": np.load(run_dir / "labels.npy", allow_pickle=False),
    }


def run_sections(run_dir: str | os.PathLike, *, baselines: Mapping[str, Mapping[str, Any]] | None = None,
                 projection: str = "auto") -> tuple[list[Section], list[str]]:
    """The report's sections for a run directory, and the reasons of figures skipped.

    ``baselines`` adds named metric rows (e.g. ``{"raw pixels": {...}}``) to the table
    and the Recall@K curve.
    """
    run = _read_run(Path(run_dir))
    cfg, emb, labels = run["config"], run["embeddings"], run["labels"]
    distance = cfg.get("distance", "euclidean")
    results = run["results"]
    learned = results.get("exported") or (run["history"][-1] if run["history"] else {})
    which = f"learned ({results.get('export', 'best')} epoch, {learned.get('epoch', '?')})"
    rows = {**(baselines or {}), which: learned}
    sections = [table_section("Held-out retrieval", rows)]
    skipped: list[str] = []
    if run["history"]:
        sections.append(figure_section("Training curves", plots.training_curves(run["history"]),
                                       "Loss on the training split; retrieval scores on the held-out split."))
    sections.append(figure_section("Recall@K", plots.recall_at_k_figure(
        {k: v for k, v in rows.items() if any(m.startswith("recall_at_") for m in v)})))
    classes, per_class = plots.per_class_map_at_r(emb, labels, distance=distance)
    sections.append(figure_section("Per-class MAP@R", plots.per_class_figure(classes, per_class)))
    sections.append(figure_section("2-D projection", plots.projection_figure(emb, labels, method=projection,
                                                                              seed=cfg.get("seed", 0))))
    sections += _pair_sections(emb, labels, distance, cfg.get("seed", 0), skipped)
    sections += _measure_sections(emb, skipped)
    return sections, skipped


def _pair_sections(emb: np.ndarray, labels: np.ndarray, distance: str, seed: int, skipped: list[str]) -> list[Section]:
    from ..evaluate import knn_confidence, pair_scores, selective_metrics, verification_metrics

    pairs = pair_scores(emb, labels, distance=distance, max_pairs=200_000, seed=seed)
    out = [figure_section("Pair distances", plots.pair_distance_figure(-pairs.scores, pairs.is_positive,
                                                                        distance=distance),
                          "Same-class pairs should sit left of different-class pairs.")]
    try:
        from ..evaluate import figures as efig
    except ImportError as exc:
        skipped.append(f"ROC and risk-coverage figures: isometry.evaluate.figures not importable ({exc})")
        return out
    ver = verification_metrics(pairs.scores, pairs.is_positive, sampled=(pairs.positives_sampled,
                                                                          pairs.negatives_sampled))
    out.append(figure_section("Verification ROC", efig.roc_figure(ver),
                              "Same-class vs different-class pairs scored by their distance."))
    conf = knn_confidence(emb, labels, k=10, distance=distance)
    out.append(figure_section("Risk-coverage", efig.risk_coverage_figure(selective_metrics(conf.confidence,
                                                                                           conf.correct)),
                              "10-NN vote: error rate among the queries kept, most confident first."))
    return out


def _measure_sections(emb: np.ndarray, skipped: list[str]) -> list[Section]:
    """Figures of isometry.measure.figures (magnitude function, spectrum) when the module exists."""
    try:
        from ..measure import figures as mfig
    except ImportError as exc:
        skipped.append(f"magnitude-function and spectrum figures: isometry.measure.figures not importable ({exc})")
        return []
    out = []
    names = [n for n in getattr(mfig, "__all__", []) if n.endswith("_figure")]
    for name in names:
        fn: Callable[..., Any] = getattr(mfig, name)
        try:
            fig = fn(emb)
        except (InputError, TypeError) as exc:
            skipped.append(f"{name}: {exc}")
            continue
        out.append(figure_section(name.removesuffix("_figure").replace("_", " ").capitalize(), fig))
    return out


_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.8em;display:block;overflow-x:auto}td,th{padding:.25em .6em;border:1px solid #ddd;text-align:right}
figure{margin:.5em 0}img{max-width:100%}figcaption{font-size:.85em;color:#555}
pre{background:#f6f6f6;padding:.6em;font-size:.8em;overflow-x:auto}"""


def render(title: str, sections: Sequence[Section], *, config: Mapping[str, Any] | None = None,
           skipped: Sequence[str] = (), notes: str = "") -> str:
    """The whole HTML document (no external resource of any kind)."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if notes:
        parts.append(f"<p>{html.escape(notes)}</p>")
    for s in sections:
        parts.append(f"<section class='{s.kind}'><h2>{html.escape(s.title)}</h2>{s.body}</section>")
    if skipped:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in skipped)
        parts.append(f"<section class='skipped'><h2>Skipped</h2><ul>{items}</ul></section>")
    if config is not None:
        parts.append("<section><h2>Configuration</h2><pre>"
                     f"{html.escape(json.dumps(config, indent=2, default=str))}</pre></section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(run_dir: str | os.PathLike, *, path: str | os.PathLike | None = None,
                 baselines: Mapping[str, Mapping[str, Any]] | None = None, title: str | None = None,
                 projection: str = "auto") -> Path:
    """Build the report of ``run_dir`` and write it (atomically) to ``path`` or ``run_dir/report.html``.

    ``projection`` is "auto" (t-SNE up to 1,000 points, else PCA), "tsne" or "pca".

    Raises
    ------
    InputError
        ``run_dir`` lacks config.json, metrics.jsonl, embeddings.npy or labels.npy.
    """
    run_dir = Path(run_dir)
    sections, skipped = run_sections(run_dir, baselines=baselines, projection=projection)
    config = json.loads((run_dir / "config.json").read_text())
    doc = render(title or f"isometry run: {run_dir.name}", sections, config=config, skipped=skipped)
    return write_text(path or run_dir / "report.html", doc)

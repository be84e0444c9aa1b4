"""``isometry report RUN_DIR``: rebuild RUN_DIR/report.html from the run's files."""

from __future__ import annotations

import argparse

NAME = "report"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(NAME, help="rebuild the HTML report of a training run", description=__doc__)
    p.add_argument("run_dir", help="a run directory written by `isometry train`")
    p.add_argument("--out", default=None, help="where to write the HTML (default: RUN_DIR/report.html)")
    p.add_argument("--projection", choices=("auto", "tsne", "pca"), default="auto",
                   help="2-D projection: t-SNE up to 1,000 points, else PCA (auto)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import InputError
    from ..report.html import write_report

    if not Path(args.run_dir).is_dir():
        raise InputError(f"run directory not found: {args.run_dir}")
    path = write_report(args.run_dir, path=args.out, projection=args.projection)
    print(f"wrote {path}")
    return 0

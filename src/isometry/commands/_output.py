"""Shared output for commands: ``--json`` (file or ``-`` for stdout) or a readable table."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Mapping

from .._atomic import dumps_json, write_json

__all__ = ["add_json_option", "emit", "format_table"]


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="OUT", default=None,
                        help="write one JSON object to OUT ('-' for standard output) instead of a table")


def emit(result: Mapping[str, Any], json_dest: str | None, *, title: str = "") -> None:
    """Print ``result`` as JSON (to a file atomically, or stdout for '-') or as a table."""
    if json_dest == "-":
        sys.stdout.write(dumps_json(result, indent=None) + "\n")
        return
    if json_dest:
        write_json(json_dest, result)
    sys.stdout.write(format_table(result, title=title))
    if json_dest:
        sys.stdout.write(f"(written to {json_dest})\n")


def format_table(result: Mapping[str, Any], *, title: str = "", indent: int = 0) -> str:
    """Two aligned columns, nested dicts as indented sections."""
    lines = [title] if title else []
    flat = {k: v for k, v in result.items() if not isinstance(v, Mapping)}
    width = max((len(str(k)) for k in flat), default=0)
    pad = " " * indent
    for key, value in flat.items():
        lines.append(f"{pad}{str(key):<{width}}  {_fmt(value)}")
    for key, value in result.items():
        if isinstance(value, Mapping):
            lines.append(f"{pad}{key}:")
            lines.append(format_table(value, indent=indent + 2).rstrip("\n"))
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if value != value else f"{value:.4f}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)

"""The ``isometry`` command line: parse, make one library call, print a table or JSON.

Each command lives in ``isometry/commands/<name>.py`` and exposes
``add_parser(subparsers)``, which registers its parser and sets ``func`` to a
``run(args) -> int``. Heavy imports happen inside ``run``, so ``--help`` is fast.
An :class:`isometry.errors.InputError` becomes exit status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from . import __version__
from .errors import InputError

#: Commands in the order ``--help`` lists them.
COMMANDS = ("demo", "evaluate", "measure", "compare", "train", "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isometry",
        description="Learn, evaluate and measure metric spaces of embeddings.",
    )
    parser.add_argument("--version", action="version", version=f"isometry {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module_name = f"isometry.commands.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue  # a command not built yet is absent from --help, not a stub
        importlib.import_module(module_name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        message = " ".join(str(exc).split())
        print(f"isometry {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"isometry {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""One record per metric, measure and distance: name (= JSON key), direction, needs.

CLI choices, JSON keys, README tables and contract tests are built from these
records, so a name is written in exactly one place.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .errors import InputError

__all__ = ["Record", "Registry"]


@dataclass(frozen=True)
class Record:
    """A registered metric, measure or distance.

    Attributes
    ----------
    name : str
        Public name; also the JSON key.
    function : callable
        The plain function that computes it.
    higher_is_better : bool or None
        Direction for metrics; ``None`` where it has none (a distance).
    needs : frozenset of str
        What it needs: ``"knn"``, ``"clustering"``, ``"labels"``, ...
    description : str
        One line for tables and ``--help``.
    extra : dict
        Family-specific fields (for distances: ``is_similarity``).
    """

    name: str
    function: Callable[..., Any]
    higher_is_better: bool | None = None
    needs: frozenset = frozenset()
    description: str = ""
    extra: dict = field(default_factory=dict)


class Registry:
    """A name -> :class:`Record` table with lookups that fail with a clear InputError."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._records: dict[str, Record] = {}

    def register(self, record: Record) -> Record:
        if record.name in self._records:
            raise RuntimeError(f"{self.family} {record.name!r} is registered twice")
        self._records[record.name] = record
        return record

    def __getitem__(self, name: str) -> Record:
        try:
            return self._records[name]
        except (KeyError, TypeError):
            close = difflib.get_close_matches(str(name), list(self._records), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InputError(
                f"Unknown {self.family} {name!r}.{hint} Known: {', '.join(self._records)}."
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._records

    def __iter__(self) -> Iterator[Record]:
        return iter(self._records.values())

    def __len__(self) -> int:
        return len(self._records)

    def names(self) -> list[str]:
        return list(self._records)

"""The executor interface the runner drives."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol, Sequence

from evalharness.core.results import InstanceRecord
from evalharness.core.task import Task


@dataclass(frozen=True)
class Finished:
    """One instance's result as it reaches the driver: its record and its log files."""

    record: InstanceRecord
    # Log files still to be written under <run>/logs/<instance>/ (name -> bytes); empty when the
    # executor already wrote them in place (same machine).
    files: dict[str, bytes] = field(default_factory=dict)


class Executor(Protocol):
    def run(self, tasks: Sequence[Task], logs_root: Path) -> Iterator[Finished]:
        """Run every task, yielding each result as soon as it is done (any order)."""
        ...

    def stop(self) -> None:
        """Start nothing new and end what is in flight (its containers removed, no result kept)."""
        ...

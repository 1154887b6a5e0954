"""Progress reporting from the library to whoever is watching (the CLI's progress bar).

Library functions take an optional ``progress`` callback and call it with a
:class:`ProgressEvent`; they never print. ``None`` means nobody is watching.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProgressEvent:
    """``done`` of ``total`` units of ``task``; ``info`` carries live numbers (losses...)."""

    task: str
    done: int
    total: int | None = None
    info: Mapping[str, float | str] = field(default_factory=dict)


ProgressCallback = Callable[[ProgressEvent], None]


def report(
    progress: ProgressCallback | None,
    task: str,
    done: int,
    total: int | None = None,
    **info: float | str,
) -> None:
    """Call ``progress`` if there is one."""
    if progress is not None:
        progress(ProgressEvent(task, done, total, info))

"""The kept anchor: the pattern ``sample --vary last`` varies around, until another is chosen.

Varying must not drift. ``last.json`` is the last pattern sampled, variations included; if
``--vary last`` varied around that, every call would step further from the pattern the user
liked (the Max for Live device's "generate with last z" keeps its z instead). So the anchor
is kept apart, in ``anchor.json`` under the store root:

- a sample made without ``--vary`` (plain, ``--genre``, ``--interpolate``...) makes its last
  pattern the anchor;
- ``--vary FILE`` makes the (first) pattern in FILE the anchor;
- ``--vary last`` varies around the anchor and leaves it where it is.

``choose_anchor`` implements those rules for any command that varies; ``save_anchor`` and
``load_anchor`` are the storage, for commands that set an anchor some other way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from rhythmcan_cli.atomic import atomic_write
from rhythmcan_cli.errors import DataError
from rhythmcan_cli.sampling.patterns import (
    SampledPattern,
    first_pattern,
    last_path,
    read_patterns,
    store_root,
    to_json_line,
)

ANCHOR_FILE: Final = "anchor.json"
LAST: Final = "last"


def anchor_path() -> Path:
    """Where the anchor is kept."""
    return store_root() / ANCHOR_FILE


def save_anchor(pattern: SampledPattern) -> Path:
    """Make ``pattern`` the anchor (atomic write); returns the file."""
    path = anchor_path()
    atomic_write(path, (to_json_line(pattern) + "\n").encode("utf-8"))
    return path


def load_anchor() -> SampledPattern:
    """The anchor; before any anchor was kept (an older store), the last pattern sampled."""
    path = anchor_path()
    if not path.is_file():
        path = last_path()
    if not path.is_file():
        raise DataError("no pattern sampled yet: run 'rhythmcan sample' first, then use 'last'")
    return read_patterns(path)[-1]


def choose_anchor(vary: str | Path) -> tuple[SampledPattern, bool]:
    """The pattern ``--vary REF`` varies around, and whether it becomes the new anchor.

    ``last`` (or ``anchor``) is the kept anchor and keeps it; ``-`` (stdin) or a file gives its
    first pattern, which becomes the anchor for the next ``--vary last``.
    """
    if str(vary) in (LAST, "anchor"):
        return load_anchor(), False
    # the first pattern only: reading stops there (bounded, see patterns.first_pattern)
    return first_pattern(None if str(vary) == "-" else Path(vary)), True


__all__ = ["ANCHOR_FILE", "anchor_path", "choose_anchor", "load_anchor", "save_anchor"]

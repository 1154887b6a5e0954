"""The drum grid as rich text: 9 rows of drums, 32 steps with beat and bar marks.

::

    ╭──────────── default-can · ambiguous · seed 7 #1 ────────────╮
    │            1    2    3    4    │ 1    2    3    4            │
    │ Kick       X... .... o... .... │ X... .... O... ....          │
    ...

A cell at or below the threshold is ``.``; above it, the strength picks one of four
glyphs (``-`` ghost, ``o`` soft, ``O`` strong, ``X`` accent) and a colour, so the grid reads
the same in colour, without colour (``NO_COLOR``) and in a plain text log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from rhythmcan_cli.grid import STEPS, STEPS_PER_BAR, STEPS_PER_BEAT, VOCABULARY
from rhythmcan_cli.sampling.patterns import SampledPattern, genre_label

EMPTY: Final = "."
GLYPHS: Final[tuple[str, ...]] = ("-", "o", "O", "X")
"""Glyphs for the four strength bands between the threshold and 1 (weakest first)."""
STYLES: Final[tuple[str, ...]] = ("dim", "cyan", "yellow", "bold red")
LABEL_WIDTH: Final = 10


def _labels(class_names: Sequence[str]) -> list[str]:
    by_name = {c.name: c.label for c in VOCABULARY}
    return [by_name.get(name, name.replace("_", " ").title()) for name in class_names]


def levels(values: npt.ArrayLike, threshold: float) -> npt.NDArray[np.int64]:
    """-1 where there is no hit, else the strength band 0..3 of each cell.

    Hits are decided in float32 exactly as the MIDI writer decides them (``values >
    threshold``), so the grid never shows a note the MIDI file lacks or the reverse.
    """
    array = np.asarray(values, dtype=np.float32)
    hits = array > threshold
    span = max(1e-9, 1.0 - threshold)
    bands = np.floor((array.astype(np.float64) - threshold) / span * len(GLYPHS))
    bands = np.clip(bands, 0, len(GLYPHS) - 1).astype(np.int64)
    result: npt.NDArray[np.int64] = np.where(hits, bands, -1)
    return result


def _separator(step: int) -> str:
    """What goes before ``step``: a bar line, a beat gap or nothing."""
    if step == 0:
        return ""
    if step % STEPS_PER_BAR == 0:
        return " | "
    if step % STEPS_PER_BEAT == 0:
        return " "
    return ""


def _header() -> Text:
    text = Text(" " * LABEL_WIDTH, style="dim")
    for step in range(0, STEPS, STEPS_PER_BEAT):
        text.append(_separator(step), style="dim")
        beat = (step % STEPS_PER_BAR) // STEPS_PER_BEAT + 1
        text.append(f"{beat:<{STEPS_PER_BEAT}}", style="bold" if beat == 1 else "dim")
    return text


def grid_text(values: npt.ArrayLike, threshold: float, class_names: Sequence[str]) -> Group:
    """The header line and one line per drum for a (32, 9) pattern."""
    bands = levels(values, threshold)
    lines: list[Text] = [_header()]
    for row, label in enumerate(_labels(class_names)):
        line = Text(f"{label[: LABEL_WIDTH - 1]:<{LABEL_WIDTH}}", style="bold")
        for step in range(bands.shape[0]):
            line.append(_separator(step), style="dim")
            band = int(bands[step, row])
            if band < 0:
                line.append(EMPTY, style="dim")
            else:
                line.append(GLYPHS[band], style=STYLES[band])
        lines.append(line)
    return Group(*lines)


def title(pattern: SampledPattern) -> str:
    """Model, genre and seed (with the pattern's index in its batch)."""
    parts = [pattern.model or "pattern"]
    label = genre_label(pattern.genre)
    if label:
        parts.append(label)
    elif pattern.kind == "can":
        parts.append("genre-ambiguous")
    parts.append(f"seed {pattern.seed} #{pattern.index}")
    return " · ".join(parts)


def pattern_panel(pattern: SampledPattern) -> Panel:
    """One pattern as a titled panel (what ``rhythmcan sample`` prints on a terminal)."""
    hits = int((np.asarray(pattern.values, dtype=np.float32) > pattern.threshold).sum())
    return Panel(
        grid_text(pattern.values, pattern.threshold, pattern.class_names),
        title=title(pattern),
        subtitle=f"{hits} hits > {pattern.threshold:g}",
        expand=False,
        padding=(0, 1),
    )


__all__ = ["GLYPHS", "grid_text", "levels", "pattern_panel", "title"]

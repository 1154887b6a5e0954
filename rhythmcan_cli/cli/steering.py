"""`rhythmcan sample`'s steering options: --like, --keep, --density, --syncopation,
per-voice --threshold, --humanize and --accent, declared once (Annotated aliases).

The library parses them (``sampling.run.parse_steering``) and searches
(``sampling.steer``); this module only says how the command line spells them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    pass

VoiceThreshold = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--threshold",
        "-t",
        help="Cells above this strength become hits (0-1; default: the model's); per voice too:"
        " 0.2,kick=0.4,hats=0.1 (groups: hats, toms, cymbals).",
        show_default=False,
    ),
]
Like = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--like",
        help="Start from your groove: a MIDI file, a pattern JSON file or 'last'; the nearest"
        " pattern the model makes is found (and varied with -n/--noise).",
        show_default=False,
    ),
]
Bar = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        "--bar",
        help="With --like: the 2-bar window starting at this bar (default: the first with hits).",
        show_default=False,
    ),
]
Keep = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--keep",
        help="Lock voices (kick,snare; groups hats, toms, cymbals) from --vary or --like;"
        " the rest come from the candidate whose locked voices are nearest.",
        show_default=False,
    ),
]
Density = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--density",
        help="Hits per bar, a range such as 8-14 (or 10- for at least 10).",
        show_default=False,
    ),
]
Syncopation = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--syncopation",
        help="low, mid or high (thirds of real grooves), or a range of the Longuet-Higgins"
        " measure summed over voices, such as 20-30.",
        show_default=False,
    ),
]
Candidates = Annotated[
    int,
    typer.Option(
        "--candidates", min=1, max=100_000, help="Patterns drawn to choose from when steering."
    ),
]
HumanizeOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--humanize",
        help="Timing jitter in ms, optionally with velocity jitter: 10 or 10,8 (MIDI and sound).",
        show_default=False,
    ),
]
Accent = Annotated[
    float,
    typer.Option(
        "--accent",
        min=-1.0,
        max=2.0,
        help="Widen the model's own dynamics: loud hits louder, soft softer (0 = as generated).",
    ),
]

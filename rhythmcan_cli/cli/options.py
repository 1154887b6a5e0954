"""Options shared by several commands, declared once as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Optional

import typer

# Typer needs runtime-evaluable annotations, hence Optional[...] rather than ``X | None``
# on Python 3.10 inside Annotated aliases.

DataDir = Annotated[
    Path,
    typer.Argument(
        help="Folder of drum MIDI files: one sub-folder per genre, or any layout with --labels.",
        show_default=False,
    ),
]
Labels = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--labels",
        help="CSV that names each file's genre (e.g. the Groove MIDI Dataset's info.csv).",
        show_default=False,
    ),
]
PathColumn = Annotated[
    str, typer.Option("--path-column", help="CSV column holding each MIDI file's path.")
]
LabelColumn = Annotated[
    str, typer.Option("--label-column", help="CSV column holding each file's genre.")
]
FullLabel = Annotated[
    bool,
    typer.Option(
        "--full-label",
        help="Keep labels whole ('funk/groove1'); by default only the part before '/' counts.",
    ),
]
Where = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--where",
        help="Keep only CSV rows where COLUMN=VALUE (repeatable), e.g. --where beat_type=beat.",
        show_default=False,
    ),
]
Channel = Annotated[
    int,
    typer.Option(
        "--channel", min=1, max=16, help="MIDI channel the drums are on (1-16; GM drums use 10)."
    ),
]
Hop = Annotated[
    int,
    typer.Option("--hop", min=1, max=32, help="Steps between 2-bar windows (16 = one bar)."),
]
MinOnsets = Annotated[
    int,
    typer.Option("--min-onsets", min=0, max=288, help="Skip windows with fewer hits than this."),
]
Json = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but results and errors.")]
Seed = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        "--seed", help="Random seed: the same seed gives the same result.", show_default=False
    ),
]
Force = Annotated[bool, typer.Option("--force", help="Overwrite what is already there.")]
Model = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--model",
        "-m",
        help="Model name or folder (default: the Creative-GAN; with --genre, the conditional GAN).",
        show_default=False,
    ),
]
ModelName = Annotated[
    str, typer.Argument(help="A model name from 'rhythmcan models list', or a model folder.")
]
Threshold = Annotated[
    Optional[float],  # noqa: UP045
    typer.Option(
        "--threshold",
        "-t",
        help="Cells above this strength become hits (0-1; default: the model's).",
        show_default=False,
    ),
]
Bpm = Annotated[
    Optional[float],  # noqa: UP045
    typer.Option(
        "--bpm", min=20.0, max=400.0, help="Tempo in beats per minute.", show_default=False
    ),
]
Swing = Annotated[
    float,
    typer.Option(
        "--swing",
        min=0.0,
        max=0.75,
        help="Delay every second 16th by this share of a 16th (0-0.75).",
    ),
]
Loops = Annotated[
    int, typer.Option("--loops", min=1, max=64, help="Repeat each pattern this many times.")
]
NoCache = Annotated[
    bool,
    typer.Option(
        "--no-cache", help="Read every MIDI file again instead of using the cached dataset."
    ),
]
Genres = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--genres",
        help="Keep only these genres, comma-separated (e.g. rock,funk,jazz).",
        show_default=False,
    ),
]
MinGenreWindows = Annotated[
    int,
    typer.Option(
        "--min-genre-windows",
        min=0,
        help="Drop genres with fewer 2-bar windows than this (rare genres make poor classes).",
    ),
]


DATASET_OPTIONS: Final = (
    "labels",
    "path_column",
    "label_column",
    "full_label",
    "where",
    "channel",
    "hop",
    "min_onsets",
    "genres",
    "min_genre_windows",
)
"""The parameter names of the dataset options every command that reads a MIDI folder takes."""


def dataset_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``build_dataset`` keywords from a command's parameters (``DATASET_OPTIONS``)."""
    from rhythmcan_cli.dataset import parse_where

    genres = values["genres"]
    return {
        "labels_csv": values["labels"],
        "path_column": values["path_column"],
        "label_column": values["label_column"],
        "primary_label": not values["full_label"],
        "where": parse_where(values["where"] or ()),
        "channel": values["channel"],
        "hop": values["hop"],
        "min_onsets": values["min_onsets"],
        "genres": None if genres is None else [g for g in genres.split(",") if g.strip()],
        "min_genre_windows": values["min_genre_windows"],
    }

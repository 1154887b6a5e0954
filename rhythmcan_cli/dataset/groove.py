"""The Groove MIDI Dataset recipe of the bundled models: one source for the scripts, the
benchmarks and the docs that rebuild or measure them (docs/results.md says why each choice).

Beats only (fills are transitions, not the groove that defines a style); the 9 primary styles
with at least ~600 two-bar windows and 7+ files; a 1-bar hop; windows with 5+ onsets; 10 % of
each genre's files held out with seed 2020. ``python -m rhythmcan_cli.dataset.groove DIR``
prints the matching ``rhythmcan train``/``evaluate`` options, one per line, for shell scripts
(``mapfile -t DATA < <(python -m rhythmcan_cli.dataset.groove "$GROOVE")``); without ``DIR`` it
prints the default folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Final

SHARED_PATH: Final = Path("data") / "groove-v1.0.0" / "groove"
"""Where the dataset lies inside the shared folder beside the project (``../shared``)."""
LABELS: Final = "info.csv"
GENRES: Final = (
    "afrobeat",
    "afrocuban",
    "funk",
    "hiphop",
    "jazz",
    "latin",
    "neworleans",
    "rock",
    "soul",
)
WHERE: Final = (("beat_type", "beat"),)
HOP: Final = 16
"""One bar (the library's default too, ``vocabulary.HOP``)."""
MIN_ONSETS: Final = 5
SEED: Final = 2020
"""The bundled models' seed, also the seed of their held-out split."""
VALIDATION: Final = 0.1


def default_dir(project: Path) -> Path:
    """``$GROOVE_DIR``, else the dataset in the shared folder beside ``project``."""
    env = os.environ.get("GROOVE_DIR")
    return Path(env) if env else Path(project).resolve().parent / "shared" / SHARED_PATH


def dataset_options(groove: Path) -> dict[str, Any]:
    """``build_dataset`` keywords of the recipe (the labels CSV inside ``groove``)."""
    return {
        "labels_csv": Path(groove) / LABELS,
        "where": WHERE,
        "genres": list(GENRES),
        "hop": HOP,
        "min_onsets": MIN_ONSETS,
    }


def cli_options(groove: Path) -> list[str]:
    """The same recipe as ``rhythmcan train``/``evaluate`` options."""
    where = [f"{column}={value}" for column, value in WHERE]
    return [
        *("--labels", str(Path(groove) / LABELS)),
        *(arg for pair in where for arg in ("--where", pair)),
        *("--genres", ",".join(GENRES), "--hop", str(HOP), "--min-onsets", str(MIN_ONSETS)),
    ]


if __name__ == "__main__":  # for shell scripts
    if len(sys.argv) > 1:  # DIR: one option per line, for bash's mapfile
        print("\n".join(cli_options(Path(sys.argv[1]))))
    else:  # the default folder, seen from the current one (the project's root)
        print(default_dir(Path.cwd()))

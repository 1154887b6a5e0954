"""The tool's fixed vocabularies, one source each: model kinds, training modes and
strategies (Literals; their tuples derive from them), the General MIDI drum kits and the two
thresholds, and the defaults of reading drum MIDI into datasets. The drum classes and
pitch maps are the pattern's own vocabulary and live in grid.py.

A model's kind is also the training mode that makes it: ``gan`` (plain GAN), ``cgan``
(conditional on genre), ``can`` (Creative-GAN: the genre-ambiguity loss) and ``classifier``
(the independent genre judge). The first three are generators; the classifier is not.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

ModelKind = Literal["gan", "cgan", "can", "classifier"]
GeneratorKind = Literal["gan", "cgan", "can"]
Strategy = Literal["default", "mirrored"]
"""``default``: one device; ``mirrored``: data-parallel over GPUs or a TF_CONFIG cluster."""

KINDS: Final[tuple[ModelKind, ...]] = get_args(ModelKind)
GENERATOR_KINDS: Final[tuple[GeneratorKind, ...]] = get_args(GeneratorKind)
MODES: Final[tuple[ModelKind, ...]] = KINDS
"""Training modes: one per model kind."""
GENRE_MODES: Final[tuple[ModelKind, ...]] = ("cgan", "can", "classifier")
"""Modes that need at least two genres in the data."""
STRATEGIES: Final[tuple[Strategy, ...]] = get_args(Strategy)

DRUM_KITS: Final[dict[str, int]] = {
    "standard": 0,
    "room": 8,
    "power": 16,
    "electronic": 24,
    "tr-808": 25,
    "jazz": 32,
    "brush": 40,
    "orchestra": 48,
}
"""General MIDI (GS) drum kits by name: their preset numbers in bank 128."""
DEFAULT_KIT: Final = "standard"

DEFAULT_THRESHOLD: Final = 0.2
"""The Max for Live device's threshold dial default (method.md section 5)."""
EVAL_THRESHOLD: Final = 0.25
"""Binarisation threshold of the paper's evaluation protocol (method.md section 6)."""

DRUM_CHANNEL: Final = 10
"""The MIDI channel drums are read from, 1-based as musicians count (10: General MIDI drums)."""
HOP: Final = 16
"""Steps between the starts of two windows cut from one file (16: one bar)."""
MIN_ONSETS: Final = 5
"""Windows with fewer hits are dropped (near-silent windows teach nothing)."""
PATH_COLUMN: Final = "midi_filename"
LABEL_COLUMN: Final = "style"
"""The labels CSV's default columns: the Groove MIDI Dataset's ``info.csv`` works as it is."""

DEFAULT_BPM: Final = 120.0
"""Tempo of written MIDI and rendered audio unless --bpm says otherwise."""

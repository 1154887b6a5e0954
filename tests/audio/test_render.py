"""The drum grid: a snapshot of a known pattern, and agreement with the MIDI writer."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from rich.console import Console

from rhythmcan_cli.cli.render import levels, pattern_panel, title
from rhythmcan_cli.grid import CLASS_NAMES, OUTPUT_PITCHES
from rhythmcan_cli.sampling.patterns import SampledPattern


def known_pattern(**overrides: object) -> SampledPattern:
    values = np.zeros((32, 9), dtype=np.float32)
    values[::8, 0] = 1.0  # kick on beats 1 and 3
    values[4::8, 1] = 0.7  # backbeat snare
    values[::2, 2] = 0.3  # ghostly eighth hats
    values[14, 3] = 0.5
    values[30, 7] = 0.95
    values[31, 4] = 0.2  # exactly the threshold: no hit
    values[27, 6] = 0.45
    fields: dict[str, Any] = {
        "model": "default-can",
        "kind": "can",
        "genre": None,
        "seed": 7,
        "index": 1,
        "z": np.zeros(3),
        "threshold": 0.2,
        "class_names": CLASS_NAMES,
        "output_pitches": OUTPUT_PITCHES,
        "values": values,
    }
    fields.update(overrides)
    return SampledPattern(**fields)


EXPECTED = """\
╭───── default-can · genre-ambiguous · seed 7 #1 ─────╮
│           1    2    3    4    | 1    2    3    4    │
│ Kick      X... .... X... .... | X... .... X... .... │
│ Snare     .... O... .... O... | .... O... .... O... │
│ Closed HH -.-. -.-. -.-. -.-. | -.-. -.-. -.-. -.-. │
│ Open HH   .... .... .... ..o. | .... .... .... .... │
│ Low Tom   .... .... .... .... | .... .... .... .... │
│ Mid Tom   .... .... .... .... | .... .... .... .... │
│ High Tom  .... .... .... .... | .... .... ...o .... │
│ Crash     .... .... .... .... | .... .... .... ..X. │
│ Ride      .... .... .... .... | .... .... .... .... │
╰─────────────────── 27 hits > 0.2 ───────────────────╯
"""


def render(pattern: SampledPattern) -> str:
    buffer = io.StringIO()
    console = Console(width=80, no_color=True, file=buffer, force_terminal=False)
    console.print(pattern_panel(pattern))
    return buffer.getvalue()


def test_grid_snapshot_of_a_known_pattern() -> None:
    assert render(known_pattern()) == EXPECTED


def test_title_names_model_genre_and_seed() -> None:
    blend = known_pattern(kind="cgan", genre={"rock": 0.7, "funk": 0.3}, model="mine", seed=42)
    assert title(blend) == "mine · rock 70% + funk 30% · seed 42 #1"
    assert "rock 70% + funk 30%" in render(blend)


def test_grid_hits_agree_with_the_midi_writer() -> None:
    from rhythmcan_cli.midi import midi_bytes, read_midi_windows

    rng = np.random.default_rng(3)
    values = np.round(rng.random((32, 9)), 4).astype(np.float32)
    values[0, 0] = np.float32(0.2)  # the boundary case
    shown = levels(values, 0.2) >= 0
    written = read_midi_windows(midi_bytes(values, threshold=0.2), min_onsets=0).windows[0] > 0
    assert np.array_equal(shown, written)


def test_levels_rise_with_strength() -> None:
    bands = levels(np.array([[0.1, 0.21, 0.45, 0.7, 1.0]]), 0.2)
    assert bands.tolist() == [[-1, 0, 1, 2, 3]]

"""The groove a ``--like`` search starts from: a MIDI file's 2-bar window or a pattern."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from rhythmcan_cli.errors import DataError, MidiError, UsageError
from rhythmcan_cli.grid import STEPS_PER_BAR
from rhythmcan_cli.inputs import InputError, check_regular, open_regular
from rhythmcan_cli.sampling.shaping import BoolArray, FloatArray, hits_of
from rhythmcan_cli.vocabulary import DRUM_CHANNEL

MIDI_SUFFIXES: Final = (".mid", ".midi", ".smf", ".kar")


@dataclass(frozen=True)
class Target:
    """The groove to start from: its values, the threshold its hits are read at, a label.

    ``match_threshold`` is the threshold the search compares hits at: None for a MIDI
    groove (compare at the output's threshold, like with like: a ghost note too soft to
    pass it is not asked of the model), the pattern's own for pattern JSON.
    """

    values: FloatArray
    threshold: float
    label: str
    match_threshold: float | None = None

    @property
    def hits(self) -> BoolArray:
        return hits_of(self.values, self.threshold)

    def hits_at(self, threshold: float) -> BoolArray:
        """The hits compared in a search whose output is read at ``threshold``."""
        limit = threshold if self.match_threshold is None else self.match_threshold
        return hits_of(self.values, limit)


def load_target(ref: str, *, bar: int | None = None, channel: int = DRUM_CHANNEL) -> Target:
    """A --like target: ``last``, a pattern JSON file, or a MIDI file's 2-bar window.

    ``bar`` (1-based) picks the window starting at that bar of the file's 4/4 stretches
    (for pattern JSON: the pattern on that line); by default the first with any hit.
    A MIDI groove is read at threshold 0: every note played counts, ghost notes too.
    """
    from rhythmcan_cli.sampling import patterns as pj

    if bar is not None and bar < 1:
        raise UsageError(f"--bar counts from 1, got {bar}")
    path = Path(ref).expanduser()
    if ref != "last" and not path.exists():
        raise DataError(f"--like: no such file: {ref}")
    if ref != "last":  # stat only (never blocks): a FIFO, a device, a folder... says so
        try:
            check_regular(path, what=ref)
        except InputError as error:
            raise DataError(f"--like: {error}") from None
    if ref == "last" or not _looks_like_midi(path):
        try:
            found = pj.resolve_patterns(ref)
        except DataError as error:
            if ref == "last":
                raise
            raise DataError(
                f"--like: {path.name} is neither a MIDI file nor rhythmcan pattern JSON ({error})"
            ) from None
        index = (bar or 1) - 1
        if index >= len(found):
            raise UsageError(f"--bar {bar}: {ref} holds {len(found)} pattern(s)")
        chosen = found[index]
        label = "the last pattern" if ref == "last" else f"{path.name} pattern {index + 1}"
        values = np.asarray(chosen.values, dtype=np.float32)
        return Target(values, chosen.threshold, label, chosen.threshold)
    from rhythmcan_cli.midi import read_midi_windows

    try:
        windows = read_midi_windows(path, channel=channel, hop=STEPS_PER_BAR, min_onsets=0)
    except MidiError as error:
        raise DataError(f"--like: cannot read {path.name} as MIDI: {error}") from None
    with_hits = [i for i in range(len(windows.windows)) if windows.windows[i].any()]
    if not with_hits:
        raise DataError(
            f"--like: {path.name} has no 2-bar 4/4 drum window on channel {channel}"
            " (rhythmcan reads 4/4 drums, GM channel 10)"
        )
    if bar is None:
        index = with_hits[0]
    else:
        index = bar - 1
        if index >= len(windows.windows) or not windows.windows[index].any():
            raise UsageError(
                f"--bar {bar}: {path.name} has drum hits in 2-bar windows starting at bars "
                f"{_bars_text([i + 1 for i in with_hits])}"
            )
    values = np.asarray(windows.windows[index], dtype=np.float32)
    return Target(values, 0.0, f"{path.name} bar {index + 1}")


def _looks_like_midi(path: Path) -> bool:
    if path.suffix.lower() in MIDI_SUFFIXES:
        return True
    try:  # opened without blocking and checked again: a file swapped for a FIFO meanwhile
        with open_regular(path, what=str(path)) as handle:
            return handle.read(4) == b"MThd"
    except InputError as error:
        raise DataError(f"--like: {error}") from None
    except OSError as error:
        raise DataError(f"--like: cannot read {path}: {error.strerror or error}") from None


def _bars_text(bars: list[int]) -> str:
    if len(bars) > 8:
        return f"{bars[0]}-{bars[-1]} ({len(bars)} windows)"
    return ", ".join(str(b) for b in bars)

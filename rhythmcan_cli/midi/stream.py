"""One MIDI file of many patterns, encoded chunk by chunk (``sample -n N -o FILE.mid``).

:func:`rhythmcan_cli.midi.midi_bytes` encodes every pattern at once: its numpy event arrays
take about 100 bytes per note, on top of the patterns themselves. :class:`MidiFileBuilder`
takes the patterns a chunk at a time and keeps only the encoded track bytes (a few hundred
bytes a pattern), so a sampling run need not be held to be written as one file. The bytes
equal ``midi_bytes`` of all the patterns at once: the chunks follow each other in time, so
sorting each one alone sorts the whole track, and only the first delta time of each chunk
(relative to the previous chunk's last event) is re-encoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.midi.write import (
    _PATTERN_TICKS,
    _drum_track,
    _encode_events,
    _head,
    _note_events,
    _plan,
    _vlq,
    _WritePlan,
)
from rhythmcan_cli.vocabulary import DEFAULT_BPM

MAX_FILE_PATTERNS: Final = 100_000
"""Most patterns in one MIDI file: 111 hours at 120 bpm, about 30 MB (the track's bytes are
kept until the end, because a MIDI track starts with its length). More patterns go into a
folder (``-o DIR/``) or JSON lines, which stream any count."""


def _skip_vlq(data: npt.NDArray[np.uint8]) -> tuple[int, int]:
    """(value, byte length) of the variable-length quantity at the start of ``data``."""
    value = 0
    for i, byte in enumerate(data[:5].tolist()):
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i + 1
    raise ValueError("unterminated delta time")  # pragma: no cover - the encoder wrote it


class MidiFileBuilder:
    """Add patterns a chunk at a time; :meth:`finish` returns the MIDI file's bytes.

    The options are :func:`rhythmcan_cli.midi.midi_bytes`'s; thresholds and pitch maps may
    differ per pattern, bpm, swing, loops and the track name are the file's.
    """

    def __init__(
        self,
        *,
        bpm: float = DEFAULT_BPM,
        swing: float = 0.0,
        loops: int = 1,
        track_name: str = "rhythmcan",
    ) -> None:
        self._bpm, self._swing, self._loops, self._name = bpm, swing, loops, track_name
        self._parts: list[bytes] = []
        self._plan: _WritePlan | None = None
        self.count = 0
        self._last: int | None = None  # absolute tick of the last event so far

    def add(
        self,
        values: npt.ArrayLike,
        thresholds: Sequence[float],
        pitches: Sequence[Sequence[int]],
    ) -> None:
        """Append patterns ``values`` ``(N, 32, 9)`` with their thresholds and pitch maps."""
        plan = _plan(values, thresholds, self._bpm, self._swing, self._loops, pitches, self._name)
        if self.count + len(plan.values) > MAX_FILE_PATTERNS:
            raise ValueError(f"more than {MAX_FILE_PATTERNS:,} patterns in one MIDI file")
        self._plan = self._plan or plan
        base = self.count * plan.loops * _PATTERN_TICKS
        events, begin, last = _encode_events(*_note_events(plan, one_file=True))
        self.count += len(plan.values)
        if not begin[-1]:
            return
        if base:  # the chunk's first delta counted from its start: count it from the last event
            first, size = _skip_vlq(events)
            delta = base + first - (self._last or 0)
            events = np.concatenate([np.frombuffer(_vlq(delta), dtype=np.uint8), events[size:]])
        self._parts.append(events.tobytes())
        self._last = base + int(last[0])

    def finish(self) -> bytes:
        """The whole file (header, conductor track, drum track) of every pattern added."""
        if self._plan is None:
            raise ValueError("no patterns to write")
        end = self.count * self._plan.loops * _PATTERN_TICKS
        track = _drum_track(self._plan.name, b"".join(self._parts), self._last, end)
        self._parts = []
        return _head(self._plan, end) + track


__all__ = ["MAX_FILE_PATTERNS", "MidiFileBuilder"]

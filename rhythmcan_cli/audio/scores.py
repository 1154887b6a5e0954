"""What is heard: MIDI files and pattern JSON -> a :class:`Score` of timed drum notes,
bounded before anything is rendered (an hour of audio, 250,000 notes, 30 s of trailing
silence; inputs read with capped reads).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np

from rhythmcan_cli.errors import AudioError, DataError, MidiError, UsageError
from rhythmcan_cli.grid import STEPS
from rhythmcan_cli.inputs import megabytes, open_regular, read_stream
from rhythmcan_cli.midi import MAX_FILE_BYTES
from rhythmcan_cli.sampling.patterns import (
    MAX_INPUT_BYTES,
    SampledPattern,
    parse_line,
    stream_lines,
)
from rhythmcan_cli.vocabulary import DEFAULT_BPM as DEFAULT_BPM
from rhythmcan_cli.vocabulary import DRUM_CHANNEL

SAMPLE_RATE: Final = 44100


DRUM_CHANNEL_0: Final = DRUM_CHANNEL - 1
"""0-based MIDI channel of General MIDI drums (channel 10), as FluidSynth and mido count."""


TAIL_S: Final = 0.6
"""Seconds rendered after the last loop ends, so the last hits ring out."""


MAX_AUDIO_S: Final = 3600.0
"""Most audio rendered at once (one hour: 635 MB of 16-bit stereo); longer is refused."""


MAX_NOTES: Final = 250_000
"""Most note-ons rendered at once (70 a second for an hour)."""


MAX_SILENCE_S: Final = 30.0
"""Silence rendered after a file's last note-on at most: a late note-off or end of track
(a 37-byte file can hold a note-off 10 hours on) does not make hours of silence."""


@dataclass(frozen=True)
class Score:
    """Timed MIDI events ready to render: ``(seconds, kind, channel, a, b)`` and a length.

    ``kind`` is ``"on"`` (a = pitch, b = velocity), ``"off"`` (a = pitch) or ``"program"``
    (a = program). ``length_s`` is where the music ends (the file's end of track).
    """

    events: tuple[tuple[float, str, int, int, int], ...]
    length_s: float

    def hits(self, channel: int = DRUM_CHANNEL_0) -> list[tuple[float, int, int]]:
        """``(seconds, pitch, velocity)`` of the note-ons on ``channel``."""
        return [(t, a, b) for t, kind, ch, a, b in self.events if kind == "on" and ch == channel]


def check_size(
    seconds: float, notes: int, what: str = "the input", *, so_far: bool = False
) -> None:
    """AudioError when ``seconds`` of audio or ``notes`` note-ons are more than play renders
    at once (``so_far``: the figures of an input not read to its end)."""
    more = "more than " if so_far else ""
    if not seconds <= MAX_AUDIO_S:  # also NaN
        raise AudioError(
            f"{what} would make {more}{_duration(seconds)} of audio, more than the"
            f" {_duration(MAX_AUDIO_S)} rendered at once; play fewer patterns, loops or files"
        )
    if notes > MAX_NOTES:
        raise AudioError(
            f"{what} holds {more}{notes:,} notes, more than the {MAX_NOTES:,} rendered at once;"
            " play fewer patterns, loops or files"
        )


def _duration(seconds: float) -> str:
    if seconds >= 3600 * 48:
        return f"{seconds / (3600 * 24):,.0f} days"
    if seconds >= 5400:
        return f"{seconds / 3600:,.1f} hours"
    if seconds >= 90:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} s"


def concat(scores: Sequence[Score], loops: int = 1, *, what: str = "the input") -> Score:
    """Scores one after another, the whole sequence ``loops`` times.

    Refused (AudioError) before anything is built when the result would be longer than
    ``MAX_AUDIO_S`` or hold more than ``MAX_NOTES`` note-ons.
    """
    check_size(
        sum(score.length_s for score in scores) * loops,
        sum(sum(1 for event in score.events if event[1] == "on") for score in scores) * loops,
        what,
    )
    events: list[tuple[float, str, int, int, int]] = []
    offset = 0.0
    for _ in range(loops):
        for score in scores:
            events.extend((t + offset, k, ch, a, b) for t, k, ch, a, b in score.events)
            offset += score.length_s
    return Score(tuple(events), offset)


def midi_score(source: Path | bytes, *, bpm: float | None = None, name: str = "") -> Score:
    """Notes of a MIDI file (all channels), in seconds; ``bpm`` replaces the file's tempo map."""
    import mido

    from rhythmcan_cli.midi import parse_midi

    label = name or (str(source) if isinstance(source, Path) else "MIDI input")
    try:
        midi = parse_midi(source)
    except MidiError as error:
        raise MidiError(f"{label}: {error}") from None
    tpb = midi.ticks_per_beat
    tempo = mido.bpm2tempo(bpm) if bpm else 500_000
    seconds = 0.0
    events: list[tuple[float, str, int, int, int]] = []
    for message in mido.merge_tracks(midi.tracks):
        seconds += message.time * tempo / (tpb * 1_000_000)
        if message.type == "set_tempo" and not bpm:
            tempo = message.tempo
        elif message.type == "note_on" and message.velocity > 0:
            events.append((seconds, "on", message.channel, message.note, message.velocity))
        elif message.type in ("note_on", "note_off"):
            events.append((seconds, "off", message.channel, message.note, 0))
        elif message.type == "program_change":
            events.append((seconds, "program", message.channel, message.program, 0))
    last_on = max((t for t, kind, *_ in events if kind == "on"), default=None)
    if last_on is None:
        raise MidiError(f"{label}: the MIDI file has no notes to play")
    end = min(seconds, last_on + MAX_SILENCE_S)
    if end < seconds:  # a late note-off or end of track: clipped, not hours of silence
        events = [event for event in events if event[0] <= end]
    return Score(tuple(events), end)


def pattern_score(
    patterns: Sequence[SampledPattern],
    *,
    bpm: float | None = None,
    swing: float = 0.0,
    loops: int = 1,
) -> Score:
    """Notes of sampled patterns, written through the same MIDI writer as ``sample -o``."""
    from rhythmcan_cli.midi import midi_bytes

    scores = []
    for pattern in patterns:
        data = midi_bytes(
            pattern.values,
            threshold=pattern.threshold,
            bpm=bpm or DEFAULT_BPM,
            swing=swing,
            loops=loops,
            pitches=pattern.output_pitches,
        )
        scores.append(midi_score(data, name=f"pattern {pattern.index}"))
    return concat(scores)


def read_sources(
    sources: Sequence[str],
    *,
    bpm: float | None = None,
    loops: int = 1,
    stdin: bytes | None = None,
) -> Score:
    """MIDI files, pattern JSON files, or ``-`` (stdin: pattern JSON or MIDI bytes) -> one Score.

    Pattern JSON loops pattern by pattern (like ``sample --loops``); a MIDI file loops as a
    whole. Anything else is a MidiError or a DataError naming the source. Every input is
    read with bounds: files must be regular files (a FIFO or ``/dev/zero`` is refused before
    a byte is read), MIDI is read up to its 16 MB limit, pattern JSON line by line, and
    reading stops as soon as the audio would pass ``MAX_AUDIO_S`` or ``MAX_NOTES``.
    """
    if not sources:
        raise UsageError("nothing to play: name MIDI files, or pipe 'rhythmcan sample' into '-'")
    scores: list[Score] = []
    budget = _Budget()
    for source in sources:
        with _source_stream(source, stdin) as (stream, label):
            head = _read_head(stream, label)
            if head == b"MThd":
                _check_midi_size(stream, label)
                data = head + read_stream(
                    stream, limit=MAX_FILE_BYTES, what=label, kind=_MIDI_KIND, already=len(head)
                )
                score = concat([midi_score(data, bpm=bpm, name=label)], loops, what=label)
                budget.add(score.length_s, sum(1 for e in score.events if e[1] == "on"), label)
                scores.append(score)
                continue
            patterns = _pattern_lines(stream, head, label, bpm=bpm, loops=loops, budget=budget)
            scores.append(pattern_score(patterns, bpm=bpm, loops=loops))
    what = "the inputs" if len(sources) > 1 else "stdin" if sources[0] == "-" else sources[0]
    return concat(scores, what=what)


_MIDI_KIND: Final = "a drum MIDI file"


def _check_midi_size(stream: BinaryIO, label: str) -> None:
    """Refuse a MIDI file over ``MAX_FILE_BYTES`` from its size, before reading it."""
    try:
        size = os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return  # not a file (a pipe, a buffer): read_stream caps the read instead
    if size > MAX_FILE_BYTES:
        raise MidiError(
            f"{label} is {megabytes(size)}, larger than the {megabytes(MAX_FILE_BYTES)}"
            f" {_MIDI_KIND} may have"
        )


class _Budget:
    """Audio seconds and note-ons read so far, against ``MAX_AUDIO_S`` and ``MAX_NOTES``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.notes = 0

    def add(self, seconds: float, notes: int, label: str) -> None:
        self.seconds += seconds
        self.notes += notes
        check_size(self.seconds, self.notes, label, so_far=True)


@contextlib.contextmanager
def _source_stream(source: str, stdin: bytes | None) -> Iterator[tuple[BinaryIO, str]]:
    """A binary stream for one source: stdin for ``-``, else a regular file (never a FIFO
    or a device)."""
    if source == "-":
        yield (io.BytesIO(stdin) if stdin is not None else sys.stdin.buffer), "stdin"
        return
    if not os.path.lexists(source):
        raise DataError(f"no such file: {source}")
    kind = "a MIDI or pattern JSON file"
    with open_regular(Path(source), what=source, limit=MAX_INPUT_BYTES, kind=kind) as stream:
        yield stream, source


def _read_head(stream: BinaryIO, label: str) -> bytes:
    """Up to the first 4 bytes of ``stream`` (fewer only at its end)."""
    head = b""
    try:
        while len(head) < 4:
            more = stream.read(4 - len(head))
            if not more:
                break
            head += more
    except OSError as error:
        raise DataError(f"cannot read {label}: {error.strerror or error}") from None
    return head


def _pattern_lines(
    stream: BinaryIO,
    head: bytes,
    label: str,
    *,
    bpm: float | None,
    loops: int,
    budget: _Budget,
) -> list[SampledPattern]:
    """The patterns of a pattern JSON stream, read line by line, stopping at the budget."""
    start = head.lstrip()[:1]
    if start and start != b"{":
        raise MidiError(f"{label}: not a MIDI file (no 'MThd' header) and not pattern JSON")
    seconds = STEPS / 4 * 60.0 / (bpm or DEFAULT_BPM) * loops  # 2 bars of 16ths
    patterns: list[SampledPattern] = []
    lines = stream_lines(stream, where=label, prefix=head)
    for number, line in enumerate(lines, start=1):
        if not patterns and line.strip() and line.lstrip()[:1] != b"{":
            raise MidiError(f"{label}: not a MIDI file (no 'MThd' header) and not pattern JSON")
        pattern = parse_line(line, where=label, line=number)
        if pattern is not None:
            notes = int(np.count_nonzero(pattern.values > pattern.threshold)) * loops
            budget.add(seconds, notes, label)
            patterns.append(pattern)
    if not patterns:
        raise DataError(f"{label}: empty input; pipe 'rhythmcan sample --format json' into it")
    return patterns

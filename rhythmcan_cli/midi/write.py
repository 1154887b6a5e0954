"""Writing MIDI: patterns -> type-1 files that open in any DAW.

A conductor track (name, tempo, 4/4) and a drum track on channel 10 at the output pitches. One
vectorised byte-level encoder (numpy, no mido) writes single files (``midi_bytes``,
``write_midi``) and batches of one file per pattern (``midi_files``, ``write_midi_files``), with
per-pattern thresholds and pitch maps; its bytes are those mido wrote before (tests read them
back with mido and pretty_midi).
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, cast

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.atomic import atomic_write, numbered_names, write_batch
from rhythmcan_cli.errors import DataError, UsageError
from rhythmcan_cli.grid import (
    N_CLASSES,
    OUTPUT_PITCHES,
    STEPS,
    FloatArray,
    check_batch,
    check_pattern,
)
from rhythmcan_cli.vocabulary import DEFAULT_BPM

if TYPE_CHECKING:  # pragma: no cover
    pass


WRITE_PPQ: Final = 480
"""Ticks per quarter note of written files."""


_STEP_TICKS: Final = WRITE_PPQ // 4


_GATE_TICKS: Final = WRITE_PPQ // 8


MAX_SWING: Final = 0.75


MIN_BPM: Final = 4.0


MAX_BPM: Final = 1000.0


MAX_LOOPS: Final = 10_000


_END_OF_TRACK: Final = b"\xff\x2f\x00"


_PATTERN_TICKS: Final = STEPS * _STEP_TICKS


_NOTE_ON: Final = 0x99


_NOTE_OFF: Final = 0x89


_MAX_VLQ_BYTES: Final = 5  # deltas above 2**28 ticks (days of silence) take a 5th byte


def _vlq(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _meta(kind: int, data: bytes) -> bytes:
    """A meta event (without its delta time)."""
    return bytes((0xFF, kind)) + _vlq(len(data)) + data


def _chunk(name: bytes, data: bytes) -> bytes:
    return name + len(data).to_bytes(4, "big") + data


@dataclass(frozen=True)
class _WritePlan:
    """Checked patterns and options: everything the encoder needs, validated once."""

    values: FloatArray  # (N, 32, 9) in [0, 1]
    thresholds: npt.NDArray[np.floating[Any]]  # (N,): a cell strictly above it is a hit
    pitches: npt.NDArray[np.int64]  # (N, 9): output pitch per pattern and class
    loops: int
    delay: int  # swing delay of odd 16ths, in ticks
    gate_odd: int  # note length of odd 16ths (shorter under heavy swing)
    tempo: int  # microseconds per quarter note
    name: bytes  # the track-name meta event, delta time 0 included


def _as_patterns(patterns: Sequence[npt.ArrayLike] | npt.ArrayLike) -> FloatArray:
    array = np.asarray(patterns, dtype=np.float32)
    if array.ndim == 2:
        return check_pattern(array)[None]
    if isinstance(patterns, np.ndarray) or array.ndim == 3:
        batch = check_batch(array)
        if len(batch) == 0:
            raise DataError("no patterns to write")
        return batch
    raise DataError(f"expected one (32, 9) pattern or a list of them, got shape {array.shape}")


def _check_thresholds(
    threshold: float | Sequence[float] | npt.ArrayLike, count: int
) -> npt.NDArray[np.floating[Any]]:
    """One threshold per pattern: a number for all of them, or a sequence of ``count``."""
    if np.ndim(threshold) == 0:
        number = threshold.item() if isinstance(threshold, np.ndarray) else threshold
        if not isinstance(number, int | float | np.integer | np.floating) or not (
            math.isfinite(number) and 0.0 <= number <= 1.0
        ):
            raise UsageError("threshold must lie between 0 and 1, got " + str(threshold))
        # compare as ``values > threshold`` would: a Python float in float32, a numpy
        # float64 in float64 (the boundary cell 0.2 differs between the two)
        dtype = np.result_type(np.float32, number)
        return np.full(count, number, dtype=dtype)
    try:
        array = np.asarray(threshold, dtype=np.float32)
    except (TypeError, ValueError):
        raise UsageError("thresholds must be numbers between 0 and 1") from None
    if array.shape != (count,):
        raise UsageError(f"expected one threshold or {count} (one per pattern), got {array.size}")
    if not (np.all(np.isfinite(array)) and np.all((array >= 0.0) & (array <= 1.0))):
        raise UsageError("thresholds must lie between 0 and 1")
    return array


def _check_pitches(
    pitches: Sequence[int] | Sequence[Sequence[int]] | npt.ArrayLike, count: int
) -> npt.NDArray[np.int64]:
    """A ``(count, 9)`` pitch table from one pitch map or one map per pattern."""
    try:
        array = np.asarray(pitches)
    except (TypeError, ValueError):  # ragged: maps of different lengths
        raise UsageError(f"every pitch map needs {N_CLASSES} MIDI pitches") from None
    if array.ndim == 2:
        if array.shape != (count, N_CLASSES) or array.dtype.kind not in "iu":
            raise UsageError(
                f"per-pattern pitch maps must be {count} x {N_CLASSES} whole MIDI pitches,"
                f" got {array.dtype} of shape {array.shape}"
            )
        table = array.astype(np.int64)
        if table.size and (table.min() < 0 or table.max() > 127):
            raise UsageError("per-pattern pitch maps need MIDI pitches between 0 and 127")
        return table
    try:
        out = tuple(int(p) for p in cast("Sequence[Any]", pitches))
    except (TypeError, ValueError):
        raise UsageError(f"a pitch map needs {N_CLASSES} MIDI pitches, got {pitches!r}") from None
    if len(out) != N_CLASSES or any(not 0 <= p <= 127 for p in out):
        raise UsageError(f"a pitch map needs {N_CLASSES} MIDI pitches between 0 and 127, got {out}")
    return np.tile(np.asarray(out, dtype=np.int64), (count, 1))


def _plan(
    patterns: Sequence[npt.ArrayLike] | npt.ArrayLike,
    threshold: float | Sequence[float] | npt.ArrayLike,
    bpm: float,
    swing: float,
    loops: int,
    pitches: Sequence[int] | Sequence[Sequence[int]] | npt.ArrayLike,
    track_name: str,
) -> _WritePlan:
    """Check everything a writer takes (DataError for patterns, UsageError for options)."""
    values = _as_patterns(patterns)
    count = len(values)
    thresholds = _check_thresholds(threshold, count)
    if not (math.isfinite(bpm) and MIN_BPM <= bpm <= MAX_BPM):
        raise UsageError(f"bpm must lie between {MIN_BPM:g} and {MAX_BPM:g}, got {bpm}")
    if not (math.isfinite(swing) and 0.0 <= swing <= MAX_SWING):
        raise UsageError(f"swing must lie between 0 and {MAX_SWING}, got {swing}")
    if (
        isinstance(loops, bool)
        or not isinstance(loops, int | np.integer)
        or not (1 <= loops <= MAX_LOOPS)
    ):
        raise UsageError(f"loops must be a whole number between 1 and {MAX_LOOPS}, got {loops}")
    table = _check_pitches(pitches, count)
    try:
        name = str(track_name).encode("latin-1")
    except UnicodeEncodeError as error:
        raise UsageError(f"cannot write MIDI: {error}") from None
    delay = round(swing * _STEP_TICKS)
    gate_odd = min(_GATE_TICKS, _STEP_TICKS - delay) if delay else _GATE_TICKS
    tempo = round(60 * 1e6 / bpm)  # what mido.bpm2tempo gives
    return _WritePlan(
        values, thresholds, table, int(loops), delay, gate_odd, tempo, b"\x00" + _meta(0x03, name)
    )


def _note_events(plan: _WritePlan, *, one_file: bool) -> tuple[npt.NDArray[np.int64], ...]:
    """(file, tick, on, pitch, velocity) arrays of every note-on and note-off.

    ``one_file``: the patterns follow each other in file 0, each ``loops`` times; otherwise
    pattern ``i`` is file ``i``, starting at tick 0.
    """
    values, loops = plan.values, plan.loops
    pid, steps, cells = np.nonzero(values > plan.thresholds[:, None, None])
    pid = pid.astype(np.int64)
    velocity = np.minimum(
        127, np.maximum(1, np.floor(values[pid, steps, cells] * 127.0 + 0.5))
    ).astype(np.int64)
    odd = steps % 2 == 1
    on = steps.astype(np.int64) * _STEP_TICKS + np.where(odd, plan.delay, 0)
    off = on + np.where(odd, plan.gate_odd, _GATE_TICKS)
    if one_file:
        start = pid * (_PATTERN_TICKS * loops)
        on, off = on + start, off + start
        group = np.zeros(2 * loops * pid.size, dtype=np.int64)
    else:
        group = np.tile(pid, 2 * loops)
    loop_starts = _PATTERN_TICKS * np.arange(loops, dtype=np.int64)[:, None]
    hits = pid.size * loops
    tick = np.concatenate([(loop_starts + on).ravel(), (loop_starts + off).ravel()])
    is_on = np.concatenate([np.ones(hits, dtype=np.int64), np.zeros(hits, dtype=np.int64)])
    pitch = np.tile(plan.pitches[pid, cells], 2 * loops)
    vels = np.concatenate([np.tile(velocity, loops), np.zeros(hits, dtype=np.int64)])
    return group, tick, is_on, pitch, vels


def _encode_events(
    group: npt.NDArray[np.int64],
    tick: npt.NDArray[np.int64],
    is_on: npt.NDArray[np.int64],
    pitch: npt.NDArray[np.int64],
    velocity: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Encode the note events of many tracks at once (``group`` = track index).

    Returns the bytes of all tracks one after another (delta times, running status, note
    bytes; events sorted per track like (tick, on, pitch, velocity) tuples, so a note-off
    comes before a note-on at the same tick), the byte offset where each event starts (plus
    the total at the end), and the last event tick of each track.
    """
    # One int64 sort key (group, tick, on, pitch, velocity) sorts like the tuples, far
    # faster than a 5-key lexsort; the fields are read back from the sorted keys.
    tick_bits = int(tick.max(initial=0)).bit_length()
    group_shift = 15 + tick_bits
    if group_shift + int(group.max(initial=0)).bit_length() < 63:
        key = np.sort(
            (group << group_shift) | (tick << 15) | (is_on << 14) | (pitch << 7) | velocity
        )
        group = key >> group_shift
        tick = (key >> 15) & ((1 << tick_bits) - 1)
        is_on = (key >> 14) & 1
        pitch = (key >> 7) & 0x7F
        velocity = key & 0x7F
    else:  # pragma: no cover - years of music in one batch
        order = np.lexsort((velocity, pitch, is_on, tick, group))
        group, tick = group[order], tick[order]
        is_on, pitch, velocity = is_on[order], pitch[order], velocity[order]
    n = tick.size
    groups = int(group.max()) + 1 if n else 0
    last_tick = np.zeros(max(groups, 1), dtype=np.int64)
    if n == 0:
        return np.zeros(0, dtype=np.uint8), np.zeros(1, dtype=np.int64), last_tick
    starts_group = np.ones(n, dtype=bool)
    starts_group[1:] = group[1:] != group[:-1]
    delta = np.diff(tick, prepend=0)
    delta[starts_group] = tick[starts_group]
    length = np.ones(n, dtype=np.int64)
    for k in range(1, _MAX_VLQ_BYTES):
        length += delta >= 1 << (7 * k)
    status = np.where(is_on == 1, _NOTE_ON, _NOTE_OFF)
    new_status = starts_group.copy()  # running status: a status byte only when it changes
    new_status[1:] |= status[1:] != status[:-1]
    sizes = length + new_status + 2
    begin = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sizes, out=begin[1:])
    out = np.empty(int(begin[-1]), dtype=np.uint8)
    for k in range(_MAX_VLQ_BYTES):
        has = length > k
        if not has.any():
            break
        shift = 7 * (length[has] - 1 - k)
        more = np.where(k < length[has] - 1, 0x80, 0)
        out[begin[:-1][has] + k] = ((delta[has] >> shift) & 0x7F) | more
    at = begin[:-1] + length
    out[at[new_status]] = status[new_status]
    at = at + new_status
    out[at] = pitch
    out[at + 1] = velocity
    ends_group = np.ones(n, dtype=bool)
    ends_group[:-1] = group[:-1] != group[1:]
    last_tick[group[ends_group]] = tick[ends_group]
    return out, begin, last_tick


def _head(plan: _WritePlan, end: int) -> bytes:
    """The header chunk and the conductor track (name, tempo, 4/4, end at ``end``)."""
    header = _chunk(b"MThd", struct.pack(">HHH", 1, 2, WRITE_PPQ))
    conductor = (
        plan.name
        + b"\x00" + _meta(0x51, plan.tempo.to_bytes(3, "big"))
        + b"\x00" + _meta(0x58, bytes((4, 2, 24, 8)))
        + _vlq(end) + _END_OF_TRACK
    )  # fmt: skip
    return header + _chunk(b"MTrk", conductor)


def _drum_track(name: bytes, events: bytes, last: int | None, end: int) -> bytes:
    """The drum track chunk: name, note events, end of track at ``end`` (or the last note)."""
    tail = _vlq(end if last is None else max(0, end - last))
    return _chunk(b"MTrk", name + events + tail + _END_OF_TRACK)


def midi_bytes(
    patterns: Sequence[npt.ArrayLike] | npt.ArrayLike,
    *,
    threshold: float | Sequence[float] | npt.ArrayLike = 0.2,
    bpm: float = DEFAULT_BPM,
    swing: float = 0.0,
    loops: int = 1,
    pitches: Sequence[int] | Sequence[Sequence[int]] | npt.ArrayLike = OUTPUT_PITCHES,
    track_name: str = "rhythmcan",
) -> bytes:
    """One type-1 MIDI file (bytes) with ``patterns`` one after another, each ``loops`` times.

    Cells strictly above ``threshold`` become hits with ``velocity = max(1, round(v * 127))``
    and a 32nd-note gate (shortened under heavy swing so a note ends before the next 16th).
    ``swing`` delays every second 16th by that share of a 16th. ``threshold`` may be one
    number per pattern and ``pitches`` one 9-pitch map per pattern (``(N, 9)``).
    """
    plan = _plan(patterns, threshold, bpm, swing, loops, pitches, track_name)
    end = len(plan.values) * plan.loops * _PATTERN_TICKS
    events, begin, last = _encode_events(*_note_events(plan, one_file=True))
    last_tick = int(last[0]) if begin[-1] else None
    return _head(plan, end) + _drum_track(plan.name, events.tobytes(), last_tick, end)


def midi_files(
    patterns: Sequence[npt.ArrayLike] | npt.ArrayLike,
    *,
    threshold: float | Sequence[float] | npt.ArrayLike = 0.2,
    bpm: float = DEFAULT_BPM,
    swing: float = 0.0,
    loops: int = 1,
    pitches: Sequence[int] | Sequence[Sequence[int]] | npt.ArrayLike = OUTPUT_PITCHES,
    track_name: str = "rhythmcan",
) -> list[bytes]:
    """One MIDI file per pattern, each equal to :func:`midi_bytes` of that pattern alone.

    The options are those of :func:`midi_bytes` (per-pattern thresholds and pitch maps
    apply to file ``i``). The whole batch is encoded in a handful of numpy operations
    (about 20,000 files a second, against under 1,000 through mido).
    """
    plan = _plan(patterns, threshold, bpm, swing, loops, pitches, track_name)
    end = plan.loops * _PATTERN_TICKS
    group, *fields = _note_events(plan, one_file=False)
    events, begin, last = _encode_events(group, *fields)
    count = len(plan.values)
    first = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(group, minlength=count), out=first[1:])
    head = _head(plan, end)
    raw = events.tobytes()
    files: list[bytes] = []
    for i, (a, b) in enumerate(zip(first[:-1].tolist(), first[1:].tolist(), strict=True)):
        body = raw[int(begin[a]) : int(begin[b])]
        files.append(head + _drum_track(plan.name, body, int(last[i]) if b > a else None, end))
    return files


def write_midi(
    patterns: Sequence[npt.ArrayLike] | npt.ArrayLike,
    dest: Path | BinaryIO,
    *,
    threshold: float | Sequence[float] | npt.ArrayLike = 0.2,
    bpm: float = DEFAULT_BPM,
    swing: float = 0.0,
    loops: int = 1,
    pitches: Sequence[int] | Sequence[Sequence[int]] | npt.ArrayLike = OUTPUT_PITCHES,
    track_name: str = "rhythmcan",
) -> None:
    """Write :func:`midi_bytes` (same keyword options) to a path or a binary stream."""
    data = midi_bytes(
        patterns,
        threshold=threshold,
        bpm=bpm,
        swing=swing,
        loops=loops,
        pitches=pitches,
        track_name=track_name,
    )
    if isinstance(dest, str | os.PathLike):
        atomic_write(Path(dest), data)  # OutputError naming the path
    else:
        dest.write(data)


def write_midi_files(
    patterns: Sequence[npt.ArrayLike] | npt.ArrayLike,
    out_dir: Path,
    *,
    prefix: str = "pattern",
    force: bool = False,
    threshold: float | Sequence[float] | npt.ArrayLike = 0.2,
    bpm: float = DEFAULT_BPM,
    swing: float = 0.0,
    loops: int = 1,
    pitches: Sequence[int] | Sequence[Sequence[int]] | npt.ArrayLike = OUTPUT_PITCHES,
    track_name: str = "rhythmcan",
) -> list[Path]:
    """Write one numbered file per pattern (``prefix-001.mid``...) into ``out_dir``.

    Refuses (DataError naming the file) to overwrite an existing file unless ``force``;
    checks every name before writing any; all or nothing
    (:func:`rhythmcan_cli.atomic.write_batch`). Options are those of :func:`midi_files`.
    """
    batch = _as_patterns(patterns)
    if not prefix or any(sep in prefix for sep in ("/", "\\", "\0")):
        raise UsageError(f"file prefix must be a plain name, got {prefix!r}")
    names = numbered_names(len(batch), ".mid", prefix)
    blobs = midi_files(
        batch,
        threshold=threshold,
        bpm=bpm,
        swing=swing,
        loops=loops,
        pitches=pitches,
        track_name=track_name,
    )
    return list(write_batch(Path(out_dir), names, blobs, force=force))

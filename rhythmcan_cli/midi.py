"""MIDI files in and out: drum tracks -> 2-bar windows, patterns -> type-1 MIDI files.

Reading snaps every drum note-on to the file's own 16th grid (``ticks_per_beat / 4``), keeps
only 4/4 stretches (each time-signature meta starts a new stretch and a new bar grid) and cuts
32-step windows with a hop. Writing (mido) produces one type-1 file: a conductor track (name,
tempo, 4/4) and a drum track on channel 10 at the output pitches.

Windows are read by a byte-level walk of the Standard MIDI File grammar (``_scan_smf``) that
keeps only drum note-ons and time signatures: it agrees with mido event for event (tests check
it against mido on generated files and the Groove files) but runs about 8x faster and bounds
the work of hostile files to about a second. ``parse_midi`` (full mido messages) remains for
callers that need every event. Every parse failure becomes a :class:`MidiError`.
"""

from __future__ import annotations

import io
import math
import os
import struct
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

import mido
import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError, MidiError, UsageError
from rhythmcan_cli.grid import (
    N_CLASSES,
    OUTPUT_PITCHES,
    PITCH_TO_CLASS,
    STEPS,
    STEPS_PER_BAR,
    FloatArray,
    check_batch,
    check_pattern,
)

MAX_FILE_BYTES: Final = 16 * 1024 * 1024
"""Files larger than this are refused: no drum loop is that big, and parsing it would be slow."""
MAX_EVENTS: Final = 2_000_000
"""Parsing stops with a MidiError after this many events (all tracks together)."""
MAX_STEPS: Final = 1_000_000
"""Longest 4/4 stretch read, in 16ths (about 35 hours at 120 bpm): bounds the grid's memory."""
MAX_WINDOWS: Final = 200_000
"""Most windows one file may yield (about 230 MB of float32)."""

WRITE_PPQ: Final = 480
"""Ticks per quarter note of written files."""
_STEP_TICKS: Final = WRITE_PPQ // 4
_GATE_TICKS: Final = WRITE_PPQ // 8
MAX_SWING: Final = 0.75
MIN_BPM: Final = 4.0
MAX_BPM: Final = 1000.0
MAX_LOOPS: Final = 10_000

_INT_TO_CLASS: Final = np.full(128, -1, dtype=np.int64)
for _pitch, _cls in PITCH_TO_CLASS.items():
    _INT_TO_CLASS[_pitch] = _cls


@dataclass(frozen=True)
class MidiWindows:
    """What one MIDI file yields: its windows, its unmapped drum pitches and its note count.

    ``windows`` is ``(N, 32, 9)`` float32 (velocity / 127, the louder hit per cell);
    ``unmapped`` counts drum-channel hits per pitch outside the 9-class vocabulary;
    ``notes`` is the number of drum-channel note-ons in the whole file; ``steps_44`` and
    ``steps_other`` are the 16ths spent in 4/4 and in other time signatures.
    """

    windows: FloatArray
    unmapped: Counter[int] = field(default_factory=Counter)
    notes: int = 0
    steps_44: int = 0
    steps_other: int = 0


class _CountingReader:
    """A binary reader for mido that stops parsing after ``MAX_EVENTS`` events.

    mido's track reader asks ``tell()`` once per event, so counting those calls bounds the
    work without a second pass over the bytes. ``read`` is the C ``BytesIO.read`` itself.
    """

    def __init__(self, data: bytes, limit: int) -> None:
        self._buffer = io.BytesIO(data)
        self.read = self._buffer.read
        self._tell = self._buffer.tell
        self._calls = 0
        self._limit = limit

    def tell(self) -> int:
        self._calls += 1
        if self._calls > self._limit:
            raise MidiError(f"more than {self._limit:,} MIDI events: refused as too large")
        return self._tell()


def _load_bytes(source: Path | bytes) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise MidiError(
                    f"{path.name} is {size / 1e6:.1f} MB, larger than the"
                    f" {MAX_FILE_BYTES // (1024 * 1024)} MB a drum MIDI file may have"
                )
            data = path.read_bytes()
        except OSError as error:
            raise MidiError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise MidiError(
            f"MIDI data of {len(data) / 1e6:.1f} MB is larger than the"
            f" {MAX_FILE_BYTES // (1024 * 1024)} MB a drum MIDI file may have"
        )
    return data


def parse_midi(source: Path | bytes) -> mido.MidiFile:
    """Parse a MIDI file with mido, turning every failure into a one-line MidiError."""
    data = _load_bytes(source)
    if not data:
        raise MidiError("empty file (0 bytes), not a MIDI file")
    if not data.startswith(b"MThd"):
        raise MidiError("not a MIDI file (no 'MThd' header)")
    data = _without_alien_chunks(data)
    try:
        midi = mido.MidiFile(file=_CountingReader(data, MAX_EVENTS))
    except MidiError:
        raise
    except EOFError:
        raise MidiError("truncated MIDI file (ends in the middle of a track)") from None
    except RecursionError:  # pragma: no cover - mido does not recurse, kept for safety
        raise MidiError("MIDI file is malformed") from None
    except Exception as error:  # mido raises OSError, ValueError, KeyError...
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MidiError(f"corrupt MIDI file: {detail}") from None
    if midi.type == 2:
        raise MidiError("type-2 MIDI files (independent sequences) are not supported")
    if not isinstance(midi.ticks_per_beat, int) or midi.ticks_per_beat <= 0:
        raise MidiError("MIDI files timed in SMPTE frames are not supported (need ticks per beat)")
    return midi


_PAST_END: Final = "corrupt MIDI file: an event runs past the end of its track"
_SYSTEM_LENGTHS: Final = {
    0xF1: 1,
    0xF2: 2,
    0xF3: 1,
    0xF6: 0,
    0xF8: 0,
    0xFA: 0,
    0xFB: 0,
    0xFC: 0,
    0xFE: 0,
}


@dataclass
class _Scan:
    """What reading needs from a Standard MIDI File, without building message objects."""

    ticks_per_beat: int
    notes: list[tuple[int, int, int]]  # (absolute tick, pitch, velocity) on the drum channel
    signatures: list[tuple[int, int, int, int]]  # (tick, order, numerator, denominator)
    end: int  # the last tick of the longest track


def _next_track(data: bytes, pos: int) -> int:
    """Offset of the first 'MTrk' chunk at or after ``pos``, skipping other chunks.

    SMF 1.0: readers must skip chunks of unknown type ('alien' chunks, e.g. vendor data).
    Each skipped chunk must fit in the file, so the walk is bounded by its size.
    """
    size = len(data)
    while True:
        if pos + 8 > size:
            raise MidiError("truncated MIDI file (fewer tracks than its header announces)")
        if data[pos : pos + 4] == b"MTrk":
            return pos
        end = pos + 8 + int.from_bytes(data[pos + 4 : pos + 8], "big")
        if end > size:
            raise MidiError("corrupt MIDI file: a chunk that is not a track runs past the end")
        pos = end


def _without_alien_chunks(data: bytes) -> bytes:
    """``data`` with chunks other than the header and tracks dropped (mido refuses them).

    Returned unchanged when it holds none or its chunk structure is broken (mido then reports
    the damage as before).
    """
    if len(data) < 8 or not data.startswith(b"MThd"):
        return data
    pos = 8 + int.from_bytes(data[4:8], "big")
    kept = [data[:pos]]
    dropped = False
    while pos + 8 <= len(data):
        tag = data[pos : pos + 4]
        end = pos + 8 + int.from_bytes(data[pos + 4 : pos + 8], "big")
        if end > len(data):
            break
        if tag == b"MTrk":
            kept.append(data[pos:end])
        else:
            dropped = True
        pos = end
    if not dropped:
        return data
    kept.append(data[pos:])
    return b"".join(kept)


def _scan_smf(data: bytes, channel0: int) -> _Scan:
    """Walk a Standard MIDI File's bytes and keep drum note-ons and time signatures.

    The same grammar mido parses (chunks, variable-length deltas, running status, meta and
    sysex events), strictly checked, but about ten times faster because only the events the
    reader needs become Python objects. Bounded by ``MAX_EVENTS``; raises MidiError.
    """
    size = len(data)
    if size == 0:
        raise MidiError("empty file (0 bytes), not a MIDI file")
    if not data.startswith(b"MThd"):
        raise MidiError("not a MIDI file (no 'MThd' header)")
    if size < 14:
        raise MidiError("truncated MIDI file (the header is incomplete)")
    header_length = int.from_bytes(data[4:8], "big")
    if header_length < 6 or 8 + header_length > size:
        raise MidiError("corrupt MIDI file: bad header length")
    kind, tracks, division = struct.unpack(">HHh", data[8:14])
    if kind == 2:
        raise MidiError("type-2 MIDI files (independent sequences) are not supported")
    if kind > 2:
        raise MidiError(f"corrupt MIDI file: unknown MIDI file type {kind}")
    if division <= 0:
        raise MidiError("MIDI files timed in SMPTE frames are not supported (need ticks per beat)")

    limit = MAX_EVENTS
    notes: list[tuple[int, int, int]] = []
    signatures: list[tuple[int, int, int, int]] = []
    events = 0
    end_tick = 0
    pos = 8 + header_length
    note_on = 0x90 | channel0
    for _ in range(tracks):
        pos = _next_track(data, pos)
        length = int.from_bytes(data[pos + 4 : pos + 8], "big")
        p = pos + 8
        end = p + length
        if end > size:
            raise MidiError("truncated MIDI file (ends in the middle of a track)")
        tick = 0
        running = -1
        while p < end:
            events += 1
            if events > limit:
                raise MidiError(f"more than {limit:,} MIDI events: refused as too large")
            value = 0
            while True:  # the delta time: a variable-length quantity of at most 4 bytes
                if p >= end:
                    raise MidiError(_PAST_END)
                byte = data[p]
                p += 1
                value = (value << 7) | (byte & 0x7F)
                if byte < 0x80:
                    break
            if value > 0x0FFFFFFF:
                raise MidiError("corrupt MIDI file: a delta time longer than 4 bytes")
            tick += value
            if p >= end:
                raise MidiError(_PAST_END)
            status = data[p]
            if status < 0x80:
                if running < 0:
                    raise MidiError("corrupt MIDI file: running status without a status byte")
                status = running
            else:
                p += 1
            if status < 0xF0:
                running = status
                count = 1 if 0xC0 <= status < 0xE0 else 2
                if p + count > end:
                    raise MidiError(_PAST_END)
                first = data[p]
                second = data[p + 1] if count == 2 else 0
                if first > 0x7F or second > 0x7F:
                    raise MidiError("corrupt MIDI file: a data byte is above 127")
                if status == note_on and second:
                    notes.append((tick, first, second))
                p += count
            elif status == 0xFF or status == 0xF0 or status == 0xF7:
                if status == 0xFF:
                    if p >= end:
                        raise MidiError(_PAST_END)
                    meta = data[p]
                    p += 1
                else:
                    meta = -1
                    running = -1
                value = 0
                while True:
                    if p >= end:
                        raise MidiError(_PAST_END)
                    byte = data[p]
                    p += 1
                    value = (value << 7) | (byte & 0x7F)
                    if byte < 0x80:
                        break
                if p + value > end:
                    raise MidiError(_PAST_END)
                if meta == 0x58:
                    if value < 2:
                        raise MidiError("corrupt MIDI file: a time signature is too short")
                    exponent = data[p + 1]
                    denominator = 1 << exponent if exponent < 32 else 0
                    signatures.append((tick, len(signatures), data[p], denominator))
                p += value
            elif status in _SYSTEM_LENGTHS:
                running = -1
                count = _SYSTEM_LENGTHS[status]
                if p + count > end or any(b > 0x7F for b in data[p : p + count]):
                    raise MidiError("corrupt MIDI file: a system message is malformed")
                p += count
            else:
                raise MidiError(f"corrupt MIDI file: undefined status byte 0x{status:02x}")
        end_tick = max(end_tick, tick)
        pos = end
    return _Scan(division, notes, signatures, end_tick)


def _stretches(
    signatures: list[tuple[int, int, int, int]], end: int, bar_ticks: float
) -> list[tuple[int, int | None, bool]]:
    """(start, end or None for open, is_4_4) stretches of the file, in tick order."""
    changes: dict[int, bool] = {0: True}  # files without a signature are 4/4
    for tick, _order, numerator, denominator in sorted(signatures):
        changes[tick] = numerator == 4 and denominator == 4  # the last meta at a tick wins
    starts = sorted(changes)
    result: list[tuple[int, int | None, bool]] = []
    for index, start in enumerate(starts):
        is44 = changes[start]
        stop = starts[index + 1] if index + 1 < len(starts) else None
        if result and result[-1][2] and is44 and (start - result[-1][0]) % bar_ticks == 0:
            # a repeated 4/4 meta on the running bar grid does not break the grid
            result[-1] = (result[-1][0], stop, True)
            continue
        result.append((start, stop, is44))
    return result


def read_midi_windows(
    source: Path | bytes, *, channel: int = 10, hop: int = 16, min_onsets: int = 5
) -> MidiWindows:
    """Cut a drum MIDI file into 2-bar windows of 16ths (only its 4/4 stretches).

    ``channel`` is 1-based (10 = GM drums). A window starts every ``hop`` 16ths from the start
    of each 4/4 stretch and is kept when it holds at least ``min_onsets`` hits. Raises
    MidiError when the file cannot be parsed or is absurdly large.
    """
    if not 1 <= channel <= 16:
        raise UsageError(f"MIDI channel must be between 1 and 16, got {channel}")
    if not 1 <= hop <= STEPS:
        raise UsageError(f"hop must be between 1 and {STEPS} steps, got {hop}")
    if not 0 <= min_onsets <= STEPS * N_CLASSES:
        raise UsageError(f"min_onsets must be between 0 and {STEPS * N_CLASSES}, got {min_onsets}")
    scan = _scan_smf(_load_bytes(source), channel - 1)
    step = scan.ticks_per_beat / 4
    notes, signatures, end = scan.notes, scan.signatures, scan.end

    unmapped: Counter[int] = Counter()
    if notes:
        note_array = np.asarray(notes, dtype=np.int64)
        note_array = note_array[np.argsort(note_array[:, 0], kind="stable")]
        ticks, pitches, velocities = note_array[:, 0], note_array[:, 1], note_array[:, 2]
        classes = _INT_TO_CLASS[pitches]
        outside = classes < 0
        if outside.any():
            found, counts = np.unique(pitches[outside], return_counts=True)
            unmapped.update(dict(zip(found.tolist(), counts.tolist(), strict=True)))
        mapped = ~outside
        ticks, classes = ticks[mapped], classes[mapped]
        values = (velocities[mapped] / 127.0).astype(np.float32)
    else:
        ticks = np.zeros(0, dtype=np.int64)
        classes = np.zeros(0, dtype=np.int64)
        values = np.zeros(0, dtype=np.float32)

    pieces: list[FloatArray] = []
    total_windows = 0
    steps_44 = 0
    steps_other = 0
    half = step / 2
    tick_keys = ticks.astype(np.float64)  # float keys: searchsorted without a cast per call
    for start, stop, is44 in _stretches(signatures, end, STEPS_PER_BAR * step):
        stop_tick = end if stop is None else stop
        length = max(0, math.floor((stop_tick - start) / step + 0.5))
        if not is44:
            steps_other += length
            continue
        if stop is not None and length < STEPS:
            steps_44 += length  # too short for a window: no need to look at its notes
            continue
        # notes snap to the nearest 16th: a stretch owns [start - step/2, stop - step/2)
        lo = int(np.searchsorted(tick_keys, start - half, side="left"))
        hi = (
            len(ticks)
            if stop is None
            else int(np.searchsorted(tick_keys, stop - half, side="left"))
        )
        index = np.floor((ticks[lo:hi] - start) / step + 0.5).astype(np.int64)
        last = int(index.max()) + 1 if len(index) else 0
        last_bar_end = -(-last // STEPS_PER_BAR) * STEPS_PER_BAR
        # silence after the last hit counts up to one window's length (a pattern may end
        # with an empty bar) but no further: windows of pure silence are never needed
        reach = last_bar_end + STEPS if last else 0
        if stop is None:
            # the file's last stretch runs to its end-of-track in whole bars, and always to
            # the end of the bar holding the last hit (a file may stop mid-bar)
            whole_bars = length // STEPS_PER_BAR * STEPS_PER_BAR
            steps_44 += max(last_bar_end, whole_bars)
            length = max(last_bar_end, min(whole_bars, reach))
        else:
            steps_44 += length
            length = min(length, reach)
        if length < STEPS:
            continue
        if length > MAX_STEPS:
            raise MidiError(
                f"a 4/4 stretch of {length:,} 16ths is longer than the {MAX_STEPS:,} read per file"
            )
        inside = (index >= 0) & (index < length)
        grid = np.zeros((length, N_CLASSES), dtype=np.float32)
        np.maximum.at(grid, (index[inside], classes[lo:hi][inside]), values[lo:hi][inside])
        starts = np.arange(0, length - STEPS + 1, hop)
        per_step = np.concatenate(([0], np.cumsum((grid > 0).sum(axis=1))))
        onsets = per_step[starts + STEPS] - per_step[starts]
        starts = starts[onsets >= min_onsets]
        total_windows += len(starts)
        if total_windows > MAX_WINDOWS:
            raise MidiError(f"more than {MAX_WINDOWS:,} windows in one file: refused as too large")
        if len(starts):
            pieces.append(grid[starts[:, None] + np.arange(STEPS)])
    windows = (
        np.concatenate(pieces).astype(np.float32, copy=False)
        if pieces
        else np.zeros((0, STEPS, N_CLASSES), dtype=np.float32)
    )
    return MidiWindows(windows, unmapped, len(notes), steps_44, steps_other)


# ----------------------------------------------------------------------------------------
# Writing


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


def _check_write_options(
    threshold: float, bpm: float, swing: float, loops: int, pitches: Sequence[int]
) -> tuple[int, ...]:
    if not (math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
        raise UsageError(f"threshold must lie between 0 and 1, got {threshold}")
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
    out = tuple(int(p) for p in pitches)
    if len(out) != N_CLASSES or any(not 0 <= p <= 127 for p in out):
        raise UsageError(f"a pitch map needs {N_CLASSES} MIDI pitches between 0 and 127, got {out}")
    return out


def midi_bytes(
    patterns: Sequence[npt.ArrayLike] | npt.ArrayLike,
    *,
    threshold: float = 0.2,
    bpm: float = 120.0,
    swing: float = 0.0,
    loops: int = 1,
    pitches: Sequence[int] = OUTPUT_PITCHES,
    track_name: str = "rhythmcan",
) -> bytes:
    """One type-1 MIDI file (bytes) with ``patterns`` one after another, each ``loops`` times.

    Cells strictly above ``threshold`` become hits with ``velocity = max(1, round(v * 127))``
    and a 32nd-note gate (shortened under heavy swing so a note ends before the next 16th).
    ``swing`` delays every second 16th by that share of a 16th.
    """
    batch = _as_patterns(patterns)
    out_pitches = _check_write_options(threshold, bpm, swing, loops, pitches)
    delay = round(swing * _STEP_TICKS)
    gate_odd = min(_GATE_TICKS, _STEP_TICKS - delay) if delay else _GATE_TICKS

    # (tick, 0 = off / 1 = on, pitch, velocity): offs sort before ons at the same tick
    events: list[tuple[int, int, int, int]] = []
    pattern_ticks = STEPS * _STEP_TICKS
    offset = 0
    for pattern in batch:
        steps, cells = np.nonzero(pattern > threshold)
        velocities = np.maximum(1, np.floor(pattern[steps, cells] * 127.0 + 0.5)).astype(int)
        for _ in range(loops):
            for s, c, v in zip(steps.tolist(), cells.tolist(), velocities.tolist(), strict=True):
                odd = s % 2 == 1
                on = offset + s * _STEP_TICKS + (delay if odd else 0)
                gate = gate_odd if odd else _GATE_TICKS
                events.append((on, 1, out_pitches[c], min(127, v)))
                events.append((on + gate, 0, out_pitches[c], 0))
            offset += pattern_ticks
    events.sort()

    name = str(track_name)
    conductor = mido.MidiTrack(
        [
            mido.MetaMessage("track_name", name=name, time=0),
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0),
            mido.MetaMessage(
                "time_signature",
                numerator=4,
                denominator=4,
                clocks_per_click=24,
                notated_32nd_notes_per_beat=8,
                time=0,
            ),
            mido.MetaMessage("end_of_track", time=offset),
        ]
    )
    drums = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
    now = 0
    for tick, is_on, pitch, velocity in events:
        kind = "note_on" if is_on else "note_off"
        drums.append(
            mido.Message(
                kind, channel=9, note=pitch, velocity=velocity if is_on else 0, time=tick - now
            )
        )
        now = tick
    drums.append(mido.MetaMessage("end_of_track", time=max(0, offset - now)))

    midi = mido.MidiFile(type=1, ticks_per_beat=WRITE_PPQ, tracks=[conductor, drums])
    buffer = io.BytesIO()
    try:
        midi.save(file=buffer)
    except (ValueError, UnicodeEncodeError) as error:
        raise UsageError(f"cannot write MIDI: {error}") from None
    return buffer.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_midi(
    patterns: Sequence[npt.ArrayLike] | npt.ArrayLike,
    dest: Path | BinaryIO,
    *,
    threshold: float = 0.2,
    bpm: float = 120.0,
    swing: float = 0.0,
    loops: int = 1,
    pitches: Sequence[int] = OUTPUT_PITCHES,
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
        path = Path(dest)
        try:
            _atomic_write(path, data)
        except OSError as error:
            raise DataError(f"cannot write {path}: {error.strerror or error}") from None
    else:
        dest.write(data)


def write_midi_files(
    patterns: Sequence[npt.ArrayLike] | npt.ArrayLike,
    out_dir: Path,
    *,
    prefix: str = "pattern",
    force: bool = False,
    threshold: float = 0.2,
    bpm: float = 120.0,
    swing: float = 0.0,
    loops: int = 1,
    pitches: Sequence[int] = OUTPUT_PITCHES,
    track_name: str = "rhythmcan",
) -> list[Path]:
    """Write one numbered file per pattern (``prefix-001.mid``...) into ``out_dir``.

    Refuses (DataError naming the file) to overwrite an existing file unless ``force``;
    checks every name before writing any. Options are those of :func:`midi_bytes`.
    """
    batch = _as_patterns(patterns)
    if not prefix or any(sep in prefix for sep in ("/", "\\", "\0")):
        raise UsageError(f"file prefix must be a plain name, got {prefix!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir} exists and is not a folder")
    width = max(3, len(str(len(batch))))
    paths = [out_dir / f"{prefix}-{i + 1:0{width}d}.mid" for i in range(len(batch))]
    if not force:
        for path in paths:
            if path.exists():
                raise DataError(f"{path} already exists; use --force to overwrite it")
    blobs = [
        midi_bytes(
            pattern,
            threshold=threshold,
            bpm=bpm,
            swing=swing,
            loops=loops,
            pitches=pitches,
            track_name=track_name,
        )
        for pattern in batch
    ]
    for path, data in zip(paths, blobs, strict=True):
        try:
            _atomic_write(path, data)
        except OSError as error:
            raise DataError(f"cannot write {path}: {error.strerror or error}") from None
    return paths

"""Reading MIDI: drum tracks -> 2-bar windows, and full parsing for playback.

Reading snaps every drum note-on to the file's own 16th grid (``ticks_per_beat / 4``), keeps
only 4/4 stretches (each time-signature meta starts a new stretch and a new bar grid) and cuts
32-step windows with a hop.

Windows are read by a byte-level walk of the Standard MIDI File grammar (``_scan_smf``) that
keeps only drum note-ons and time signatures: it agrees with mido event for event (tests check
it against mido on generated files and the Groove files) but runs about 8x faster and bounds
the work of hostile files to about a second. ``parse_midi`` (full mido messages) remains for
callers that need every event; it is the only part that imports mido (on first call), so
importing this module stays light. Every parse failure becomes a :class:`MidiError`.
"""

from __future__ import annotations

import io
import math
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

from rhythmcan_cli.errors import MidiError, UsageError
from rhythmcan_cli.grid import (
    N_CLASSES,
    PITCH_TO_CLASS,
    STEPS,
    STEPS_PER_BAR,
    FloatArray,
)
from rhythmcan_cli.inputs import InputError, read_file
from rhythmcan_cli.vocabulary import DRUM_CHANNEL, HOP, MIN_ONSETS

if TYPE_CHECKING:  # pragma: no cover
    import mido


MAX_FILE_BYTES: Final = 16 * 1024 * 1024
"""Files larger than this are refused: no drum loop is that big, and parsing it would be slow."""


_MIDI_KIND: Final = "a drum MIDI file"


_MIDO_MAX_TRACKS: Final = 0x7FFF


MAX_EVENTS: Final = 2_000_000
"""Parsing stops with a MidiError after this many events (all tracks together)."""


MAX_STEPS: Final = 1_000_000
"""Longest 4/4 stretch read, in 16ths (about 35 hours at 120 bpm): bounds the grid's memory."""


MAX_WINDOWS: Final = 200_000
"""Most windows one file may yield (about 230 MB of float32)."""


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
    """The bytes of a MIDI file or buffer, refused (MidiError) past ``MAX_FILE_BYTES``.

    A path must be a regular file (not a FIFO or a device such as ``/dev/zero``); its size
    is checked before a byte is read, and the read itself is capped (see ``inputs``).
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            data = read_file(path, limit=MAX_FILE_BYTES, what=path.name, kind=_MIDI_KIND)
        except InputError as error:
            raise MidiError(str(error)) from None
    if len(data) > MAX_FILE_BYTES:
        raise MidiError(
            f"MIDI data of {len(data) / 1e6:.1f} MB is larger than the"
            f" {MAX_FILE_BYTES // (1024 * 1024)} MB {_MIDI_KIND} may have"
        )
    return data


def parse_midi(source: Path | bytes) -> mido.MidiFile:
    """Parse a MIDI file with mido, turning every failure into a one-line MidiError."""
    import mido  # only here: reading every message needs mido, writing and windows do not

    data = _load_bytes(source)
    if not data:
        raise MidiError("empty file (0 bytes), not a MIDI file")
    if not data.startswith(b"MThd"):
        raise MidiError("not a MIDI file (no 'MThd' header)")
    declared = int.from_bytes(data[10:12], "big") if len(data) >= 12 else 0
    if declared > _MIDO_MAX_TRACKS:  # mido reads the count as signed: it would read none
        raise MidiError(
            f"corrupt MIDI file: its header announces {declared:,} tracks"
            f" (at most {_MIDO_MAX_TRACKS:,} can be read)"
        )
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
    source: Path | bytes,
    *,
    channel: int = DRUM_CHANNEL,
    hop: int = HOP,
    min_onsets: int = MIN_ONSETS,
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

"""Feel: accents from the model's own values, and seeded humanizing of written MIDI.

Velocities come straight from the generator's values (``velocity = round(value * 127)``):
a pattern's dynamics are the model's. Two optional touches on top:

- :func:`accent` widens (or narrows) those dynamics around the pattern's median hit: loud
  hits louder, soft hits softer, no hit added or removed.
- :func:`humanize_midi` moves each note a little in time (a normal jitter of ``timing_ms``,
  clipped to under a quarter of a 16th either way, so a note never leaves its own step and
  never overlaps the next note of its drum)
  and in velocity, with its own seeded generator, so the same seed humanizes the same way.
  It works on MIDI bytes, so files, stdout and what ``--play`` renders all get it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

import numpy as np

from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.sampling.patterns import SampledPattern

MAX_TIMING_MS: Final = 60.0
MAX_VELOCITY_JITTER: Final = 64
MAX_ACCENT: Final = 2.0
DEFAULT_VELOCITY_JITTER: Final = 8


@dataclass(frozen=True)
class Humanize:
    """Timing jitter (standard deviation, ms) and velocity jitter (std, MIDI units)."""

    timing_ms: float
    velocity: int = DEFAULT_VELOCITY_JITTER


def parse_humanize(text: str) -> Humanize:
    """``10`` (ms; velocity jitter 8) or ``10,12`` (ms, velocity), or UsageError."""
    timing_text, _, velocity_text = text.partition(",")
    try:
        timing = float(timing_text)
        velocity = int(velocity_text) if velocity_text.strip() else DEFAULT_VELOCITY_JITTER
    except ValueError:
        raise UsageError(f"bad --humanize {text!r}: write MS or MS,VELOCITY, e.g. 10,8") from None
    if not (math.isfinite(timing) and 0 <= timing <= MAX_TIMING_MS):
        raise UsageError(f"--humanize timing must lie between 0 and {MAX_TIMING_MS:g} ms")
    if not 0 <= velocity <= MAX_VELOCITY_JITTER:
        raise UsageError(f"--humanize velocity jitter must lie between 0 and {MAX_VELOCITY_JITTER}")
    return Humanize(timing, velocity)


def accent(patterns: Sequence[SampledPattern], amount: float) -> list[SampledPattern]:
    """Scale each pattern's hit values away from their median by ``1 + amount``.

    ``amount`` 0 changes nothing, 1 doubles the spread, negative values (down to -1)
    flatten it. Hits stay hits (never pushed under the threshold) and stay <= 1.
    """
    if not (math.isfinite(amount) and -1.0 <= amount <= MAX_ACCENT):
        raise UsageError(f"--accent must lie between -1 and {MAX_ACCENT:g}, got {amount}")
    out = []
    for pattern in patterns:
        values = np.array(pattern.values, dtype=np.float32)
        hit = values > pattern.threshold
        if hit.any() and amount:
            middle = float(np.median(values[hit]))
            floor = np.nextafter(np.float32(pattern.threshold), np.float32(1.0))
            moved = middle + (values[hit] - middle) * (1.0 + amount)
            values[hit] = np.clip(np.round(moved, 4), floor, 1.0)
        values.setflags(write=False)
        out.append(replace(pattern, values=values))
    return out


def humanize_midi(data: bytes, humanize: Humanize, *, seed: int, bpm: float) -> bytes:
    """MIDI bytes with every note moved by a seeded jitter (see the module docstring).

    A note-off moves with its note-on, so note lengths stay; a note moves by less than a
    quarter of a 16th, so it stays inside its own step. The end of track stays last.
    """
    import mido

    midi = mido.MidiFile(file=io.BytesIO(data))
    rng = np.random.default_rng(seed)
    tpb = midi.ticks_per_beat
    step = tpb / 4
    ms_per_tick = 60_000.0 / (bpm * tpb)
    limit = max(0, math.ceil(step / 4) - 1)
    for track in midi.tracks:
        absolute = np.cumsum([m.time for m in track]) if len(track) else np.zeros(0)
        events: list[tuple[int, int, mido.Message]] = []
        shift_of: dict[tuple[int, int], int] = {}
        for order, (tick, message) in enumerate(zip(absolute.tolist(), track, strict=True)):
            tick = int(tick)
            if message.type == "note_on" and message.velocity > 0:
                shift = int(
                    np.clip(round(rng.normal(0, humanize.timing_ms) / ms_per_tick), -limit, limit)
                )
                shift = max(shift, -tick)
                shift_of[(message.channel, message.note)] = shift
                velocity = int(
                    np.clip(round(message.velocity + rng.normal(0, humanize.velocity)), 1, 127)
                )
                message = message.copy(velocity=velocity)
                tick += shift
            elif message.type in ("note_on", "note_off"):
                tick += shift_of.pop((message.channel, message.note), 0)
            events.append((tick, order, message))
        last = max((tick for tick, _, m in events if m.type != "end_of_track"), default=0)
        events = [
            (max(tick, last), order, m) if m.type == "end_of_track" else (tick, order, m)
            for tick, order, m in events
        ]
        events.sort(key=lambda item: (item[2].type == "end_of_track", item[0], item[1]))
        previous = 0
        track.clear()
        for tick, _, message in events:
            track.append(message.copy(time=tick - previous))
            previous = tick
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


__all__ = ["Humanize", "accent", "humanize_midi", "parse_humanize"]

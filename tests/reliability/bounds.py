"""A per-call wall-clock bound for hang checks (SIGALRM; main thread, POSIX only)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

PER_FILE_SECONDS = 2.0
"""The most one MIDI file may take to read (the issue's 'never hang' bound)."""


class Overtime(BaseException):
    """Raised by the timer. A BaseException, so the code under test cannot swallow it
    into its own error type (midi.parse_midi turns every Exception from mido into MidiError)."""


@contextmanager
def time_limit(seconds: float = PER_FILE_SECONDS) -> Iterator[None]:
    """Interrupt the block with Overtime after ``seconds`` of wall-clock time."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Overtime(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < seconds

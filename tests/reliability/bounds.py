"""A per-call bound for hang checks (main thread, POSIX only).

The bound is on the process's CPU time, so a loaded machine (CI neighbours, other test runs)
cannot make a fast read look slow; a wall-clock alarm at ``WALL_SLACK`` times the bound still
ends a block that hangs without spending CPU (a blocking read of a FIFO, say).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

PER_FILE_SECONDS = 2.0
"""The most CPU time one MIDI file may take to read (the issue's 'never hang' bound)."""

WALL_SLACK = 10.0
"""How many times the bound a block may run by the wall clock before the alarm stops it."""


class Overtime(BaseException):
    """Raised by the timer. A BaseException, so the code under test cannot swallow it
    into its own error type (midi.parse_midi turns every Exception from mido into MidiError)."""


@contextmanager
def time_limit(seconds: float = PER_FILE_SECONDS) -> Iterator[None]:
    """Fail when the block spends ``seconds`` of CPU time; stop it after ``WALL_SLACK`` times
    that by the wall clock (a hang that sleeps)."""
    wall = seconds * WALL_SLACK

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Overtime(f"still running after {wall} s")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, wall)
    started = time.process_time()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    spent = time.process_time() - started
    assert spent < seconds, f"spent {spent:.2f} s of CPU time (bound {seconds} s)"

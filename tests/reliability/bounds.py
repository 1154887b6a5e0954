"""Bounds for hang and memory checks: a per-call CPU-time bound (main thread, POSIX only),
and the peak address space of a CLI run (Linux), which RLIMIT_AS caps are set from.

The bound is on the process's CPU time, so a loaded machine (CI neighbours, other test runs)
cannot make a fast read look slow; a wall-clock alarm at ``WALL_SLACK`` times the bound still
ends a block that hangs without spending CPU (a blocking read of a FIFO, say).
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
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


PEAK_HOOK = (
    "import atexit, os, runpy, sys\n"
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmPeak'):\n"
    "            open(os.environ['PEAK_FILE'], 'w').write(line.split()[1])\n"
    "atexit.register(peak)\n"
    "sys.argv = ['rhythmcan', *sys.argv[1:]]\n"
    "runpy.run_module('rhythmcan_cli', run_name='__main__')\n"
)
"""Runs the CLI and writes its peak address space (KiB, Linux ``VmPeak``) to $PEAK_FILE."""


def fixed_threads_env(**extra: str) -> dict[str, str]:
    """The test environment with one BLAS thread and two malloc arenas: a child's address
    space then depends on its work, not on the machine's CPU count."""
    from tests.conftest import subprocess_env

    return {**subprocess_env(), "OPENBLAS_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2", **extra}


def peak_address_space(
    args: Sequence[str], peak_file: Path, *, stdin: bytes | None = None, **env: str
) -> int:
    """Peak address space (bytes) of ``rhythmcan ARGS`` run to the end without a cap: the
    base an ``RLIMIT_AS`` cap is set from (what the same command needs for a small input)."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_HOOK, *args],
        env=fixed_threads_env(PEAK_FILE=str(peak_file), **env),
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return int(peak_file.read_text()) * 1024


def address_cap(limit: int) -> Callable[[], None]:
    """A ``preexec_fn`` capping the child's address space at ``limit`` bytes."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return cap

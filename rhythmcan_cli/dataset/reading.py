"""Reading a dataset's MIDI files into windows, in parallel for large sets: a process pool
whose workers die with their parent and stop soon on SIGTERM; a file that cannot be used is
skipped with its reason.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from rhythmcan_cli.dataset.records import (
    REASON_CORRUPT,
    REASON_EMPTY,
    REASON_FEW_ONSETS,
    REASON_NO_44,
    REASON_NO_DRUMS,
    REASON_NOT_REGULAR,
    REASON_ONLY_UNMAPPED,
    REASON_TOO_LARGE,
    REASON_UNREADABLE,
)
from rhythmcan_cli.errors import MidiError
from rhythmcan_cli.grid import STEPS, FloatArray
from rhythmcan_cli.inputs import InputError, check_regular
from rhythmcan_cli.midi import MAX_FILE_BYTES, read_midi_windows
from rhythmcan_cli.progress import ProgressCallback, report

SERIAL_BELOW: Final = 48
"""Fewer files than this are parsed in this process: starting workers would cost more."""


@dataclass(frozen=True)
class _FileResult:
    windows: FloatArray | None
    unmapped: dict[int, int]
    notes: int
    reason: str = ""
    detail: str = ""


def _read_one(job: tuple[str, int, int, int]) -> _FileResult:
    """Read one file in a worker; every failure becomes a skip reason, never an exception."""
    path_text, channel, hop, min_onsets = job
    path = Path(path_text)
    if _stopping:
        return _FileResult(None, {}, 0, REASON_UNREADABLE, "interrupted")
    try:
        size = os.stat(path).st_size
    except OSError as error:
        return _FileResult(None, {}, 0, REASON_UNREADABLE, error.strerror or str(error))
    try:
        check_regular(path)  # a FIFO would hang the read, a device never end
    except InputError as error:
        return _FileResult(None, {}, 0, REASON_NOT_REGULAR, str(error))
    if size == 0:
        return _FileResult(None, {}, 0, REASON_EMPTY)
    if size > MAX_FILE_BYTES:
        return _FileResult(None, {}, 0, REASON_TOO_LARGE, f"{size / 1e6:.1f} MB")
    try:
        found = read_midi_windows(path, channel=channel, hop=hop, min_onsets=min_onsets)
    except MidiError as error:
        reason = REASON_TOO_LARGE if "too large" in str(error) else REASON_CORRUPT
        return _FileResult(None, {}, 0, reason, str(error))
    except (MemoryError, RecursionError) as error:
        return _FileResult(None, {}, 0, REASON_CORRUPT, type(error).__name__)
    unmapped = dict(found.unmapped)
    if len(found.windows):
        return _FileResult(found.windows, unmapped, found.notes)
    if found.notes == 0:
        reason, detail = REASON_NO_DRUMS, f"channel {channel}"
    elif sum(unmapped.values()) == found.notes:
        pitches = ", ".join(str(p) for p in sorted(unmapped)[:8])
        reason, detail = REASON_ONLY_UNMAPPED, f"pitches {pitches}"
    elif found.steps_44 < STEPS:
        reason, detail = REASON_NO_44, f"{found.steps_44 / 16:g} bars of 4/4"
    else:
        reason, detail = REASON_FEW_ONSETS, f"fewer than {min_onsets} hits in every window"
    return _FileResult(None, unmapped, found.notes, reason, detail)


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork on Linux (fast, no re-import of the caller's script); spawn elsewhere.

    The forked workers only parse MIDI with mido and numpy; they never touch TensorFlow,
    the console or locks the parent may hold.
    """
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows
        return os.cpu_count() or 1


_stopping = False  # set in a pool worker by SIGTERM: skip the rest of its chunk


def _stop_soon(signum: int, frame: object) -> None:
    """SIGTERM in a pool worker: finish the current chunk at once (remaining files skipped).

    Ending a worker outright could cut a result message in half and leave the executor's
    manager thread (which the interpreter joins at exit) waiting on the pipe forever.
    """
    global _stopping
    _stopping = True


_PR_SET_PDEATHSIG: Final = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Make this pool worker end when ``parent`` dies, even by SIGKILL (best effort).

    A forked worker holds its own end of the call-queue pipe, so it never sees EOF and would
    otherwise wait forever. On Linux the kernel sends SIGKILL (prctl PR_SET_PDEATHSIG);
    elsewhere, or if that fails, a daemon thread watches ``os.getppid()``.
    """
    armed = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError, TypeError):
            armed = False
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
    if armed:
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="rhythmcan-parent-watch", daemon=True).start()


def _worker_init(parent: int | None = None) -> None:
    """Pool worker start: die with the parent (``parent``: its pid), ignore Ctrl-C (SIGINT
    goes to the whole process group; the parent alone handles it and stops the workers), then
    take back the signals the parent blocked while forking."""
    if parent is not None:
        _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_soon)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _end_pool(pool: concurrent.futures.ProcessPoolExecutor, grace: float = 2.0) -> None:
    """Stop ``pool`` now (on Ctrl-C or any error) without waiting for its queued work.

    Queued chunks are cancelled and the workers get SIGTERM (they skip the rest of their
    chunk and exit); any still running after ``grace`` seconds are killed.
    ``shutdown(wait=True)`` (what ``with`` does) would read every queued file first.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError, AttributeError):
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()  # SIGKILL cannot be ignored: wait for it to land, even loaded
                process.join(timeout=30)


def read_all(
    jobs: list[tuple[str, int, int, int]],
    workers: int | None,
    progress: ProgressCallback | None,
) -> list[_FileResult]:
    total = len(jobs)
    count = _available_cores() if workers is None else workers
    count = max(1, min(count, total))
    results: list[_FileResult] = []
    if count == 1 or total < SERIAL_BELOW:
        for done, job in enumerate(jobs, 1):
            results.append(_read_one(job))
            report(progress, "reading MIDI", done, total)
        return results
    chunksize = max(1, min(32, total // (count * 8)))
    masking = hasattr(signal, "pthread_sigmask")
    pool: concurrent.futures.ProcessPoolExecutor | None = None
    try:
        pool = concurrent.futures.ProcessPoolExecutor(
            count,
            mp_context=_pool_context(),
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )
        # the workers are forked here: with SIGINT blocked, a Ctrl-C that lands before their
        # initializer ran waits (then is ignored) instead of killing them with a traceback
        if masking:
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            mapped = pool.map(_read_one, jobs, chunksize=chunksize)
        finally:
            if masking:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        for done, result in enumerate(mapped, 1):
            results.append(result)
            report(progress, "reading MIDI", done, total)
        pool.shutdown(wait=True)
    except (concurrent.futures.process.BrokenProcessPool, OSError):
        if pool is not None:
            _end_pool(pool)
        # workers could not start or died (no /dev/shm, an unguarded __main__ under spawn,
        # a killed worker): finish the remaining files in this process
        for done, job in enumerate(jobs[len(results) :], len(results) + 1):
            results.append(_read_one(job))
            report(progress, "reading MIDI", done, total)
    except BaseException:  # Ctrl-C and the rest: end the workers now, never wait on them
        if pool is not None:
            _end_pool(pool)
        raise
    return results

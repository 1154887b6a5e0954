"""Stopping on Ctrl-C, SIGTERM and SIGHUP the same way: clean up, then exit 128 + signal.

Python turns SIGINT into ``KeyboardInterrupt``, so ``finally`` blocks remove temp files and
rich restores the cursor; SIGTERM and SIGHUP (``kill``, a closed terminal, a scheduler's
timeout) killed the process outright and left half-written files and a hidden cursor.
:func:`install_termination_handlers` makes them raise :class:`Terminated`, a
``KeyboardInterrupt``, so every cleanup path written for Ctrl-C serves them too.

An exception can land between any two bytecodes, including inside a lock of
``concurrent.futures`` or ``queue`` (a held lock then hangs the exit). Code that must not be
torn mid-way (writing a batch of files, renaming a temp file into place) runs inside
:func:`deferred_interrupts`: a signal only sets an event there, the code stops at a point of
its choosing, cleans up, and the signal is delivered again when the block ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Final

STOP_SIGNALS: Final = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""The signals that mean "stop": Ctrl-C, ``kill``, the terminal closing."""

_received: list[int] = []
_announced: list[bool] = []


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C's ``KeyboardInterrupt`` so cleanups run."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    raise Terminated(signum)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    raise KeyboardInterrupt


def install_termination_handlers() -> None:
    """SIGTERM and SIGHUP raise :class:`Terminated`, SIGINT ``KeyboardInterrupt`` as ever
    (but recorded); CLI start-up, main thread only.

    A signal the parent set to be ignored stays ignored (``nohup`` ignores SIGHUP).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if signum == signal.SIGINT:
            if handler is signal.default_int_handler:
                signal.signal(signum, _interrupt)
        elif handler is signal.SIG_DFL:
            signal.signal(signum, _terminate)


def unannounced_stop() -> bool:
    """True when a stop signal arrived and no :func:`stop_message` was printed for it."""
    return bool(_received) and not _announced


def exit_code(interrupt: BaseException | None = None) -> int:
    """128 + the signal that stopped the process: 130 for Ctrl-C, 143 for SIGTERM, 129 SIGHUP.

    Without ``interrupt``: the last stop signal this process received (130 if none).
    """
    if isinstance(interrupt, Terminated):
        return 128 + interrupt.signum
    if isinstance(interrupt, KeyboardInterrupt):
        return 128 + signal.SIGINT
    if _received:
        return 128 + _received[-1]
    return 128 + signal.SIGINT


def stop_message(interrupt: BaseException | None = None) -> str:
    """What the CLI prints when stopped: 'interrupted' (Ctrl-C) or 'terminated (SIGTERM)'."""
    _announced.append(True)
    code = exit_code(interrupt)
    if code == 128 + signal.SIGINT:
        return "interrupted"
    return f"terminated ({signal.Signals(code - 128).name})"


class Deferred:
    """What :func:`deferred_interrupts` yields: ``stop`` is set when a signal arrived."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.signals: list[int] = []

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT:
            _received.append(signum)  # Python's own handler does not record it
        self.signals.append(signum)
        self.stop.set()


@contextmanager
def deferred_interrupts() -> Iterator[Deferred]:
    """Within the block, stop signals set ``stop`` instead of raising; delivered at the end.

    The block checks ``stop`` where stopping is safe, cleans up and returns or raises; on
    leaving, the handlers are restored and the first signal is raised again, so the caller
    sees the ``KeyboardInterrupt`` (or the default action: a signal the process ignored
    stays ignored). Outside the main thread signals cannot be caught: ``stop`` never fires.
    """
    deferred = Deferred()
    if threading.current_thread() is not threading.main_thread():
        yield deferred
        return
    previous = {}
    for signum in STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if handler in (signal.SIG_IGN, None):
            continue
        previous[signum] = handler
        signal.signal(signum, deferred._note)
    try:
        yield deferred
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if deferred.signals:
            signal.raise_signal(deferred.signals[0])


__all__ = [
    "STOP_SIGNALS",
    "Deferred",
    "Terminated",
    "deferred_interrupts",
    "exit_code",
    "install_termination_handlers",
    "stop_message",
    "unannounced_stop",
]

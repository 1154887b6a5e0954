"""Consoles, error rendering and the progress bar shared by every command."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, TypeVar

import typer
from rich.console import Console

from rhythmcan_cli.cli.printable import printable
from rhythmcan_cli.errors import RhythmcanError
from rhythmcan_cli.progress import ProgressEvent

T = TypeVar("T")

# Diagnostics, progress and decoration go to stderr; stdout carries only results
# (tables a user asked for, JSON, MIDI bytes), so pipelines stay clean.
err = Console(stderr=True, no_color="NO_COLOR" in os.environ or None)
out = Console(no_color="NO_COLOR" in os.environ or None)


def fail(error: RhythmcanError) -> NoReturn:
    """Print one line for ``error`` on stderr and exit with its code."""
    from rich.markup import escape  # messages may hold brackets: 'rhythmcan[plot]'

    err.print(
        f"[bold red]error:[/] {escape(printable(error))}",
        highlight=False,
        markup=True,
        soft_wrap=True,
    )
    raise typer.Exit(error.exit_code)


def run(action: Callable[[], T]) -> T:
    """Run a library call, turning a RhythmcanError into one line and a non-zero exit.

    Ctrl-C exits 130 with "interrupted", SIGTERM 143 with "terminated (SIGTERM)".
    """
    try:
        return action()
    except RhythmcanError as error:
        fail(error)
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM/SIGHUP (signals.Terminated)
        from rhythmcan_cli import signals

        err.show_cursor(True)  # a progress bar stopped mid-start never showed it again
        err.print(signals.stop_message(interrupt), highlight=False, markup=False)
        raise typer.Exit(signals.exit_code(interrupt)) from None
    except OSError as error:  # a writer that did not say which path: still one line
        from rhythmcan_cli.cli.guard import stray_os_error

        fail(RhythmcanError(stray_os_error(error)))


def stdout_is_terminal() -> bool:
    """True when stdout is an interactive terminal (decoration allowed)."""
    return sys.stdout.isatty()


@contextmanager
def progress_bar(
    description: str, *, quiet: bool = False
) -> Iterator[Callable[[ProgressEvent], None]]:
    """Progress on stderr; yields the callback the library reports through.

    A live line fitted to the terminal's width, or plain periodic lines when stderr is not a
    terminal (a log file, CI): see rhythmcan_cli.cli.progress_display.
    """
    if quiet:
        yield lambda event: None
        return
    from rhythmcan_cli.cli.progress_display import PlainProgress, live_progress

    if not err.is_terminal:
        yield PlainProgress(description)
        return
    with live_progress(err, description) as callback:
        yield callback

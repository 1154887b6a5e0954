"""`rhythmcan play`: Play MIDI files or sampled patterns through a General MIDI drum kit."""

from __future__ import annotations

from rhythmcan_cli.cli.console import run
from rhythmcan_cli.errors import NotAvailableError


def play() -> None:
    """Play MIDI files or sampled patterns through a General MIDI drum kit."""

    def action() -> None:
        raise NotAvailableError("'rhythmcan play' is not available yet in this version")

    run(action)

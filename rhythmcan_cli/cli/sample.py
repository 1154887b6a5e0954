"""`rhythmcan sample`: Generate drum patterns with a trained model: grid, MIDI, JSON or sound."""

from __future__ import annotations

from rhythmcan_cli.cli.console import run
from rhythmcan_cli.errors import NotAvailableError


def sample() -> None:
    """Generate drum patterns with a trained model: grid, MIDI, JSON or sound."""

    def action() -> None:
        raise NotAvailableError("'rhythmcan sample' is not available yet in this version")

    run(action)

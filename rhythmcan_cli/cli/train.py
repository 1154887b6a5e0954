"""`rhythmcan train`: Train a drum-pattern GAN (gan, cgan, can) or a genre classifier on a MIDI folder."""

from __future__ import annotations

from rhythmcan_cli.cli.console import run
from rhythmcan_cli.errors import NotAvailableError


def train() -> None:
    """Train a drum-pattern GAN (gan, cgan, can) or a genre classifier on a MIDI folder."""

    def action() -> None:
        raise NotAvailableError("'rhythmcan train' is not available yet in this version")

    run(action)

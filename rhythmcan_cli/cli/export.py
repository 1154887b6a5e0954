"""`rhythmcan export-tfjs`: Export a model for TF.js (the Max for Live device and web pages)."""

from __future__ import annotations

from rhythmcan_cli.cli.console import run
from rhythmcan_cli.errors import NotAvailableError


def export_tfjs() -> None:
    """Export a model for TF.js (the Max for Live device and web pages)."""

    def action() -> None:
        raise NotAvailableError("'rhythmcan export-tfjs' is not available yet in this version")

    run(action)

"""`rhythmcan evaluate`: Measure how novel and how plausible a model's patterns are."""

from __future__ import annotations

from rhythmcan_cli.cli.console import run
from rhythmcan_cli.errors import NotAvailableError


def evaluate() -> None:
    """Measure how novel and how plausible a model's patterns are."""

    def action() -> None:
        raise NotAvailableError("'rhythmcan evaluate' is not available yet in this version")

    run(action)

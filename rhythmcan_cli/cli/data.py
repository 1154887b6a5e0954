"""`rhythmcan data`: look at a MIDI folder the way training will see it."""

from __future__ import annotations

import typer

from rhythmcan_cli.cli.console import run
from rhythmcan_cli.errors import NotAvailableError

app = typer.Typer(help="Look at a MIDI folder the way training will see it.", no_args_is_help=True)


@app.command("inspect")
def inspect() -> None:
    """Summarise a dataset: files read and skipped, windows per genre, unmapped pitches."""

    def action() -> None:
        raise NotAvailableError("'rhythmcan data inspect' is not available yet in this version")

    run(action)

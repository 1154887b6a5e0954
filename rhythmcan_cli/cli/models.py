"""`rhythmcan models`: list, inspect, remove and import stored models."""

from __future__ import annotations

import typer

from rhythmcan_cli.cli.console import run
from rhythmcan_cli.errors import NotAvailableError

app = typer.Typer(help="List, inspect, remove and import stored models.", no_args_is_help=True)


@app.command("list")
def list_models() -> None:
    """List the models in the store."""

    def action() -> None:
        raise NotAvailableError("'rhythmcan models list' is not available yet in this version")

    run(action)

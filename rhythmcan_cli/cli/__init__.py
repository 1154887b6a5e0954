"""The command-line interface: Typer parses, one library call per command, rich renders.

Only typer and rich are imported at module level so that ``rhythmcan --help`` is instant;
each command imports the library module it needs inside its own function.
"""

from __future__ import annotations


def main() -> None:
    """Entry point of the ``rhythmcan`` script."""
    from rhythmcan_cli.training.backend import quiet_environment

    quiet_environment()  # before anything could import TensorFlow
    from rhythmcan_cli.cli.guard import run_guarded

    def app() -> None:  # imported inside the guard: a SIGTERM during start-up is one line too
        from rhythmcan_cli.cli.app import app as typer_app

        typer_app()

    run_guarded(app)


__all__ = ["main"]

"""The Typer application: global options and the command table.

Commands are named here and imported only when run (``COMMANDS``: name -> module:attribute),
so ``rhythmcan sample`` never loads the training, evaluation or export modules.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from rhythmcan_cli.cli.usage import lazy_group

COMMANDS = {
    "train": "rhythmcan_cli.cli.train:train",
    "sample": "rhythmcan_cli.cli.sample:sample",
    "play": "rhythmcan_cli.cli.play:play",
    "jam": "rhythmcan_cli.cli.jam:jam",
    "export-tfjs": "rhythmcan_cli.cli.export:export_tfjs",
    "evaluate": "rhythmcan_cli.cli.evaluate:evaluate",
    "models": "rhythmcan_cli.cli.models:app",
    "data": "rhythmcan_cli.cli.data:app",
}

app = typer.Typer(
    name="rhythmcan",
    cls=lazy_group(COMMANDS),
    help=(
        "Train GANs on drum patterns and generate new rhythms.\n\n"
        "Start with 'rhythmcan sample --genre-ambiguous --play': a 2-bar drum pattern that "
        "belongs to no genre the model was trained on, shown as a grid and played."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from rhythmcan_cli import __version__
        from rhythmcan_cli.cli.console import out

        out.print(f"rhythmcan {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version."),
    ] = None,
) -> None:
    """Train GANs on drum patterns and generate new rhythms."""
    from rhythmcan_cli.training.backend import quiet_environment

    quiet_environment()  # every command: TensorFlow's C++ log lines stay off the terminal

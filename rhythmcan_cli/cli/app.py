"""The Typer application: global options and the command table."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from rhythmcan_cli.cli import data, evaluate, export, jam, models, play, sample, train
from rhythmcan_cli.cli.console import out
from rhythmcan_cli.cli.usage import RhythmcanGroup

app = typer.Typer(
    name="rhythmcan",
    cls=RhythmcanGroup,
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
    from rhythmcan_cli.backend import quiet_environment

    quiet_environment()  # every command: TensorFlow's C++ log lines stay off the terminal


app.command("train")(train.train)
app.command("sample")(sample.sample)
app.command("play")(play.play)
app.command("jam")(jam.jam)
app.command("export-tfjs")(export.export_tfjs)
app.command("evaluate")(evaluate.evaluate)
app.add_typer(models.app, name="models")
app.add_typer(data.app, name="data")

"""`rhythmcan train`: train a drum-pattern GAN (gan, cgan, can) or a genre classifier."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Final, Optional

import typer

from rhythmcan_cli.cli import options as opt
from rhythmcan_cli.cli.console import err, out, progress_bar, run
from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.progress import ProgressEvent
from rhythmcan_cli.training.config import TrainConfig
from rhythmcan_cli.vocabulary import (
    DRUM_CHANNEL,
    HOP,
    LABEL_COLUMN,
    MIN_ONSETS,
    PATH_COLUMN,
    ModelKind,
    Strategy,
)

if TYPE_CHECKING:
    from rhythmcan_cli.training.config import TrainResult

SIZES = "Model sizes"
LOOP = "Training loop"


DEFAULTS: Final = TrainConfig()
"""Every option's default comes from here (the paper's configuration), not from copies."""


def _parse_dense(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(
            f"--dense takes comma-separated sizes like 512,1024, got {text!r}"
        ) from None
    if not sizes:
        raise UsageError("--dense needs at least one size, e.g. 512,1024")
    return sizes


@contextmanager
def _ctrl_c(stop: threading.Event, training: threading.Event) -> Iterator[None]:
    """First Ctrl-C in training: finish the step, checkpoint, stop. Earlier or twice: abort."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if not training.is_set() or stop.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        stop.set()
        err.print("stopping after this step and saving a checkpoint (Ctrl-C again to abort)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _summary(result: TrainResult, as_json: bool) -> None:
    if as_json:
        data: dict[str, Any] = {
            "name": result.name,
            "mode": result.mode,
            "epochs": result.epochs,
            "steps": result.steps,
            "interrupted": result.interrupted,
            "model_path": str(result.model_path) if result.model_path else None,
            "run_dir": str(result.run_dir),
            "resumed_from_epoch": result.resumed_from_epoch,
            "final_losses": result.final_losses,
            "device": result.device,
        }
        out.print_json(json.dumps(data))
        return
    from rich.table import Table

    table = Table(title=f"{result.mode} '{result.name}'", show_header=False)
    table.add_row("epochs", str(result.epochs))
    table.add_row("steps", str(result.steps))
    table.add_row("device", result.device)
    for key, value in result.final_losses.items():
        table.add_row(key, f"{value:.4g}")
    table.add_row("run folder", str(result.run_dir))
    if result.model_path:
        table.add_row("model", str(result.model_path))
    out.print(table)


def train(
    ctx: typer.Context,
    data_dir: opt.DataDir,
    name: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--name",
            help="Name of the model (and its run); default: the data folder's name and the "
            "mode, e.g. groove-can.",
            show_default=False,
        ),
    ] = None,
    mode: Annotated[ModelKind, typer.Option("--mode", help="What to train.")] = "can",
    epochs: Annotated[
        int,
        typer.Option(
            "--epochs",
            "-e",
            min=1,
            help="Epochs to reach. With --resume: the run's own unless given (then it extends).",
        ),
    ] = 50,
    labels: opt.Labels = None,
    path_column: opt.PathColumn = PATH_COLUMN,
    label_column: opt.LabelColumn = LABEL_COLUMN,
    full_label: opt.FullLabel = False,
    where: opt.Where = None,
    channel: opt.Channel = DRUM_CHANNEL,
    hop: opt.Hop = HOP,
    min_onsets: opt.MinOnsets = MIN_ONSETS,
    genres: opt.Genres = None,
    min_genre_windows: opt.MinGenreWindows = 0,
    no_cache: opt.NoCache = False,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size", min=1, max=65536, help="Patterns per step.", rich_help_panel=LOOP
        ),
    ] = DEFAULTS.batch_size,
    validation: Annotated[
        float,
        typer.Option(
            "--validation",
            min=0.0,
            max=0.9,
            help="Share of files held out for validation.",
            rich_help_panel=LOOP,
        ),
    ] = DEFAULTS.validation,
    checkpoint_every: Annotated[
        int,
        typer.Option(
            "--checkpoint-every",
            min=0,
            help="Epochs between checkpoints (0: only at the end).",
            rich_help_panel=LOOP,
        ),
    ] = DEFAULTS.checkpoint_every,
    d_steps: Annotated[
        int | None,
        typer.Option(
            "--d-steps",
            min=1,
            max=100,
            help="Discriminator steps per generator step (default: the recipe's; paper 3).",
            show_default=False,
            rich_help_panel=LOOP,
        ),
    ] = None,
    recipe: Annotated[
        str,
        typer.Option(
            "--recipe",
            help="paper: the ICCC 2020 configuration; tuned: AC conditioning, balanced genre "
            "head, ramps, TTUR, smoothing, instance noise, minibatch std (docs/training.md).",
            rich_help_panel=LOOP,
        ),
    ] = DEFAULTS.recipe,
    recipe_options: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            help="KEY=VALUE on top of the recipe, repeatable (e.g. minibatch_std=false, "
            "lr_d=2e-5); recorded on the card.",
            show_default=False,
            rich_help_panel=LOOP,
        ),
    ] = None,
    z_sigma_sample: Annotated[
        float | None,
        typer.Option(
            "--z-sigma-sample",
            min=0.01,
            max=10.0,
            help="z sigma recorded for sampling (default: the training sigma, 0.5).",
            show_default=False,
            rich_help_panel=LOOP,
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the run NAME from its last checkpoint, with the options it was "
            "started with.",
        ),
    ] = False,
    force: opt.Force = False,
    seed: opt.Seed = None,
    tensorboard: Annotated[
        bool, typer.Option("--tensorboard", help="Write TensorBoard logs into the run folder.")
    ] = False,
    strategy: Annotated[
        Strategy,
        typer.Option("--strategy", help="mirrored: all visible GPUs, or a TF_CONFIG cluster."),
    ] = "default",
    lstm_units: Annotated[
        int,
        typer.Option(
            "--lstm-units", min=1, max=4096, help="Generator LSTM units.", rich_help_panel=SIZES
        ),
    ] = DEFAULTS.lstm_units,
    dense: Annotated[
        str,
        typer.Option(
            "--dense",
            help="Generator dense sizes, the last a multiple of 32.",
            rich_help_panel=SIZES,
        ),
    ] = ",".join(map(str, DEFAULTS.dense)),
    d_lstm_units: Annotated[
        int,
        typer.Option(
            "--d-lstm-units",
            min=1,
            max=4096,
            help="Real/fake branch BiLSTM units.",
            rich_help_panel=SIZES,
        ),
    ] = DEFAULTS.d_lstm_units,
    d_dense: Annotated[
        int,
        typer.Option(
            "--d-dense",
            min=1,
            max=65536,
            help="Real/fake branch dense units.",
            rich_help_panel=SIZES,
        ),
    ] = DEFAULTS.d_dense_units,
    genre_lstm_units: Annotated[
        int,
        typer.Option(
            "--genre-lstm-units",
            min=1,
            max=4096,
            help="Genre branch (and classifier) BiLSTM units.",
            rich_help_panel=SIZES,
        ),
    ] = DEFAULTS.genre_lstm_units,
    genre_dense: Annotated[
        int,
        typer.Option(
            "--genre-dense",
            min=1,
            max=65536,
            help="Genre branch (and classifier) dense units.",
            rich_help_panel=SIZES,
        ),
    ] = DEFAULTS.genre_dense_units,
    description: Annotated[
        str, typer.Option("--description", help="One line about the model, stored on its card.")
    ] = DEFAULTS.description,
    attribution: Annotated[
        str,
        typer.Option(
            "--attribution",
            help="Credit for the training data, stored on the card (e.g. the dataset's licence).",
        ),
    ] = DEFAULTS.attribution,
    as_json: opt.Json = False,
    quiet: opt.Quiet = False,
) -> None:
    """Train a drum-pattern GAN (gan, cgan, can) or a genre classifier on a MIDI folder.

    Ctrl-C finishes the current step, saves a checkpoint, prints the command that continues
    the run (DATA_DIR --name NAME --resume: the run keeps the options it was started with)
    and exits 130. The model lands in the store as NAME.
    """
    values = {key: value for key, value in locals().items() if key in ctx.params}
    stop = threading.Event()
    training = threading.Event()
    run_name = name or ""

    def action() -> TrainResult:
        nonlocal run_name
        from rhythmcan_cli.cli import run_options as ro
        from rhythmcan_cli.training.recipes import parse_options
        from rhythmcan_cli.training.runs import read_run
        from rhythmcan_cli.training.train import train_from_folder

        run_name = name or ro.default_name(data_dir, mode, reuse=resume or force)
        if name is None and not quiet:
            err.print(f"no --name given: the model is named '{run_name}'", highlight=False)
        record = read_run(run_name) if resume else None
        p = ro.continue_as_started(ctx, values, run_name, record.get("command") if record else None)
        overrides = parse_options(p["recipe_options"])
        if p["d_steps"] is not None:
            overrides["d_steps"] = p["d_steps"]
        config = TrainConfig.for_recipe(
            p["recipe"],
            **overrides,
            batch_size=p["batch_size"],
            z_sigma_sample=p["z_sigma_sample"],
            dense=_parse_dense(p["dense"]),
            lstm_units=p["lstm_units"],
            d_lstm_units=p["d_lstm_units"],
            d_dense_units=p["d_dense"],
            genre_lstm_units=p["genre_lstm_units"],
            genre_dense_units=p["genre_dense"],
            validation=p["validation"],
            checkpoint_every=p["checkpoint_every"],
            seed=p["seed"],
            tensorboard=p["tensorboard"],
            description=p["description"],
            attribution=p["attribution"],
        )
        dataset_options = opt.dataset_options(p)
        if p["no_cache"]:
            dataset_options["cache_dir"] = False
        # a resumed run keeps the epochs it was started for, unless --epochs extends it
        target = epochs if not resume or "epochs" in ro.given(ctx) else None
        with progress_bar("training", quiet=quiet) as bar, _ctrl_c(stop, training):

            def callback(event: ProgressEvent) -> None:
                if event.task == "train":
                    training.set()
                bar(event)

            return train_from_folder(
                data_dir,
                dataset_options=dataset_options,
                mode=p["mode"],
                name=run_name,
                epochs=target,
                config=config,
                resume=resume,
                force=force,
                strategy=p["strategy"],
                progress=callback,
                stop=stop,
                command=ro.command_record(p),
            )

    result = run(action)
    if result.interrupted:
        from rhythmcan_cli.cli.run_options import continue_command

        _summary(result, as_json)
        err.print(
            f"interrupted in epoch {result.epochs + 1} after step {result.steps}; checkpoint "
            f"saved in {result.run_dir}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        err.print(
            f"continue with: {continue_command(data_dir, run_name)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(130)
    _summary(result, as_json)

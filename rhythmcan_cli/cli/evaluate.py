"""`rhythmcan evaluate`: measure how novel and how plausible a model's patterns are."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from rhythmcan_cli.cli.console import err, out, progress_bar, run
from rhythmcan_cli.cli.options import (
    Channel,
    DataDir,
    FullLabel,
    Genres,
    Hop,
    LabelColumn,
    Labels,
    MinGenreWindows,
    MinOnsets,
    PathColumn,
    Quiet,
    Seed,
    Where,
    dataset_options,
)
from rhythmcan_cli.vocabulary import DRUM_CHANNEL, HOP, LABEL_COLUMN, MIN_ONSETS, PATH_COLUMN

if TYPE_CHECKING:
    from rhythmcan_cli.evaluation.report import EvaluationReport


def _render(report: EvaluationReport) -> None:
    """Rich tables of the report on stdout."""
    from rich.table import Table

    from rhythmcan_cli.cli.evaluate_tables import render_judge, render_texture
    from rhythmcan_cli.evaluation.report import BASELINE_INSTRUMENT, BASELINE_TOTAL, GENERATED

    genres = report.genres
    rows = {row.name: row for row in report.table}
    references = [row for row in report.table if row.name.startswith("real: ")]
    table = Table(
        title=f"Mean OSA distance to each training genre's patterns (0-288; n={report.n}, up "
        f"to {report.per_genre} per genre; lower = closer)",
        title_justify="left",
        caption=f"held out: {report.held_out}; "
        + (
            f"{report.held_out_copies:.1%} of its windows are exact copies of training windows"
            if report.held_out_copies
            else "none of its windows is an exact copy of a training window"
        ),
        caption_justify="left",
    )
    table.add_column("training genre")
    columns = [
        ("generated", GENERATED),
        ("random: instr.", BASELINE_INSTRUMENT),
        ("random: total", BASELINE_TOTAL),
    ]
    for header, _ in columns:
        table.add_column(header, justify="right")
    table.add_column("real: same genre", justify="right")
    table.add_column("real: other genres", justify="right")
    for genre in genres:
        own = rows.get(f"real: {genre} (held-out)")
        others = [r.to_genre[genre] for r in references if r is not own]
        table.add_row(
            genre,
            *(f"{rows[key].to_genre[genre]:.1f}" for _, key in columns),
            f"{own.to_genre[genre]:.1f}" if own is not None else "-",
            f"{sum(others) / len(others):.1f}" if others else "-",
        )
    diversity = [f"{rows[key].diversity:.1f}" for _, key in columns]
    real_div = [r.diversity for r in references]
    table.add_section()
    table.add_row(
        "[italic]diversity[/]",
        *diversity,
        f"{sum(real_div) / len(real_div):.1f}" if real_div else "-",
        "",
    )
    out.print(table)

    nov = report.novelty
    novelty = Table(
        title=f"Novelty: nearest-neighbour distance to {nov.training_size} training patterns",
        title_justify="left",
    )
    for column in (
        "patterns",
        "mean",
        "median",
        "min",
        "exact copies",
        f"within {nov.near_distance}",
    ):
        novelty.add_column(column, justify="left" if column == "patterns" else "right")
    for name, stats in (
        ("generated", nov.generated),
        ("held-out real", nov.real),
        ("random: per-instrument counts", nov.random),
    ):
        novelty.add_row(
            name,
            f"{stats.mean:.1f}",
            f"{stats.median:.1f}",
            str(stats.min),
            f"{stats.copy_rate:.1%}",
            f"{stats.near_rate:.1%}",
        )
    out.print(novelty)
    render_texture(report)

    render_judge(report)

    plaus = report.plausibility
    descriptors = Table(
        title=f"Plausibility: rhythm descriptors, generated vs held-out real (mean overlap "
        f"{plaus.mean_overlap:.2f}; held-out vs training {plaus.reference_mean_overlap:.2f})",
        title_justify="left",
    )
    for column in ("descriptor", "generated", "real", "overlap"):
        descriptors.add_column(column, justify="left" if column == "descriptor" else "right")
    for descriptor, values in plaus.descriptors.items():
        descriptors.add_row(
            descriptor,
            f"{values['generated_mean']:.3f} ± {values['generated_std']:.3f}",
            f"{values['real_mean']:.3f} ± {values['real_std']:.3f}",
            f"{values['overlap']:.2f}",
        )
    out.print(descriptors)
    for note in report.notes:
        err.print(f"note: {note}", highlight=False)


def _write_json(data: dict[str, Any], dest: str) -> None:
    text = json.dumps(data, indent=2, allow_nan=False)
    if dest == "-":
        sys.stdout.write(text + "\n")
        return
    from rhythmcan_cli.atomic import atomic_write

    atomic_write(Path(dest), text + "\n")  # whole or absent; OutputError naming the path


def evaluate(
    source: Annotated[
        str,
        typer.Argument(
            metavar="MODEL_OR_PATTERNS",
            help="A model name or folder, or generated patterns: a MIDI folder or file, the "
            "JSON lines of 'rhythmcan sample --format json', or '-' for those on stdin.",
            show_default=False,
        ),
    ],
    data_dir: DataDir,
    labels: Labels = None,
    path_column: PathColumn = PATH_COLUMN,
    label_column: LabelColumn = LABEL_COLUMN,
    full_label: FullLabel = False,
    where: Where = None,
    channel: Channel = DRUM_CHANNEL,
    hop: Hop = HOP,
    min_onsets: MinOnsets = MIN_ONSETS,
    genres: Genres = None,
    min_genre_windows: MinGenreWindows = 0,
    n: Annotated[int, typer.Option("-n", min=2, help="Patterns to sample from a model.")] = 1000,
    seed: Seed = None,
    classifier: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--classifier",
            help="Genre classifier for ambiguity (from 'train --mode classifier'); default: "
            "the bundled one if its genres match, else one trained on the data and cached.",
            show_default=False,
        ),
    ] = None,
    no_classifier: Annotated[
        bool, typer.Option("--no-classifier", help="Skip genre ambiguity (no TensorFlow).")
    ] = False,
    validation: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            "--validation",
            min=0.01,
            max=0.9,
            help="Share of files held out, drawn with --seed. Default: the model's own "
            "validation files when it was trained on this data, else 0.1.",
            show_default=False,
        ),
    ] = None,
    split_by: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--split-by",
            metavar="COLUMN",
            help="Hold out whole groups of a labels-CSV column (session, a style-file group) "
            "instead of files; a ready split column (train/validation/test) holds out all but "
            "train.",
            show_default=False,
        ),
    ] = None,
    dedupe: Annotated[
        bool,
        typer.Option(
            "--dedupe",
            help="Drop held-out windows that are exact copies of training windows from the "
            "references.",
        ),
    ] = False,
    json_out: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--json",
            metavar="OUT|-",
            help="Write the report as JSON ('-': stdout).",
            show_default=False,
        ),
    ] = None,
    plot: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--plot",
            metavar="OUT.png",
            help="Save a PNG: distance heatmap and descriptor histograms.",
            show_default=False,
        ),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Measure how novel and how plausible a model's patterns are (the paper's protocol)."""
    given = dict(locals())  # the parameters, for the dataset options

    def action() -> None:
        from rhythmcan_cli.errors import UsageError
        from rhythmcan_cli.evaluation.protocol import evaluate_source
        from rhythmcan_cli.evaluation.report import plot_report

        if classifier is not None and no_classifier:
            raise UsageError("use either --classifier or --no-classifier, not both")
        with progress_bar("evaluating", quiet=quiet or json_out == "-") as progress:
            options = dataset_options(given)
            report = evaluate_source(
                source,
                data_dir,
                dataset_options=options,
                channel=channel,
                n=n,
                seed=0 if seed is None else seed,
                classifier=False if no_classifier else classifier,
                validation=validation,
                split_by=split_by,
                dedupe=dedupe,
                progress=progress,
            )
        if json_out is not None:
            _write_json(report.to_dict(), json_out)
        if json_out != "-":
            _render(report)
        if plot is not None:
            path = plot_report(report, plot)
            if not quiet:
                err.print(f"plot written to {path}", highlight=False)

    run(action)

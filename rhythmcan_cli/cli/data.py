"""`rhythmcan data`: look at a MIDI folder the way training will see it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from rhythmcan_cli.cli.console import err, out, progress_bar, run
from rhythmcan_cli.cli.options import (
    Channel,
    DataDir,
    FullLabel,
    Genres,
    Hop,
    Json,
    LabelColumn,
    Labels,
    MinGenreWindows,
    MinOnsets,
    NoCache,
    PathColumn,
    Quiet,
    Where,
    dataset_options,
)
from rhythmcan_cli.vocabulary import DRUM_CHANNEL, HOP, LABEL_COLUMN, MIN_ONSETS, PATH_COLUMN

if TYPE_CHECKING:
    from rhythmcan_cli.dataset import DatasetReport

app = typer.Typer(help="Look at a MIDI folder the way training will see it.", no_args_is_help=True)

MAX_SKIPPED_SHOWN = 20


@app.command("inspect")
def inspect(
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
    as_json: Json = False,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Summarise a dataset: files read and skipped (and why), 2-bar windows per genre, and
    drum sounds (MIDI pitches) that fall outside the 9 drum classes.

    Examples: 'rhythmcan data inspect my-drums/' (one sub-folder per genre) or
    'rhythmcan data inspect groove/ --labels groove/info.csv --where beat_type=beat'.
    """
    given = dict(locals())  # the parameters, for the dataset options

    def action() -> DatasetReport:
        from rhythmcan_cli.dataset import build_dataset

        options = dataset_options(given)
        with progress_bar("reading MIDI", quiet=quiet or as_json) as callback:
            dataset = build_dataset(
                data_dir, cache_dir=False if no_cache else None, progress=callback, **options
            )
        return dataset.report

    result = run(action)
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
        return
    _render(result)


def _render(report: DatasetReport) -> None:
    """Rich tables on stdout: totals, windows per genre, skip reasons, unmapped pitches."""
    from rich.table import Table

    cache = "loaded from cache" if report.from_cache else "read now"
    summary = Table(title="Dataset", show_header=False, title_justify="left")
    summary.add_column("what")
    summary.add_column("value", justify="right", overflow="fold")
    summary.add_row("folder", report.data_dir)
    if report.labels_csv:
        summary.add_row("labels", report.labels_csv)
    rows: list[tuple[str, Any]] = [
        ("MIDI files found", report.files_found),
        ("files read", report.files_read),
        ("files skipped", report.files_skipped),
        ("2-bar windows", report.windows),
        ("genres", len(report.windows_per_genre)),
        ("drum notes", report.notes),
        ("time", f"{report.seconds:.2f} s ({cache})"),
        ("fingerprint", report.fingerprint),
    ]
    for name, value in rows:
        summary.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    out.print(summary)

    genres = Table(title="Windows per genre", title_justify="left")
    genres.add_column("genre")
    genres.add_column("files", justify="right")
    genres.add_column("windows", justify="right")
    genres.add_column("share", justify="right")
    total = max(1, report.windows)
    for genre, count in sorted(report.windows_per_genre.items(), key=lambda kv: (-kv[1], kv[0])):
        genres.add_row(
            genre,
            f"{report.files_per_genre.get(genre, 0):,}",
            f"{count:,}",
            f"{100 * count / total:.1f} %",
        )
    out.print(genres)

    if report.skipped:
        reasons = Table(title="Skipped files", title_justify="left")
        reasons.add_column("reason")
        reasons.add_column("files", justify="right")
        reasons.add_column("for example")
        for reason, count in report.skip_reasons().items():
            example = next(s for s in report.skipped if s.reason == reason)
            detail = f" ({example.detail})" if example.detail else ""
            reasons.add_row(reason, f"{count:,}", f"{example.path}{detail}")
        out.print(reasons)

    if report.unmapped:
        unmapped = Table(
            title="Pitches outside the 9 drum classes (not used)", title_justify="left"
        )
        unmapped.add_column("MIDI pitch", justify="right")
        unmapped.add_column("hits", justify="right")
        for pitch, count in sorted(report.unmapped.items(), key=lambda kv: (-kv[1], kv[0])):
            unmapped.add_row(str(pitch), f"{count:,}")
        out.print(unmapped)
    else:
        out.print("Every drum note maps to one of the 9 drum classes.")
    if report.files_skipped > MAX_SKIPPED_SHOWN:
        err.print("use --json to list every skipped file", highlight=False)

"""`rhythmcan models`: list, inspect, remove, import and average stored models.

Every command here reads JSON cards and hashes files; none imports TensorFlow.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from rhythmcan_cli.cli.console import err, out, run
from rhythmcan_cli.cli.options import Force, Json
from rhythmcan_cli.cli.printable import printable
from rhythmcan_cli.errors import RhythmcanError, UsageError
from rhythmcan_cli.vocabulary import GENERATOR_KINDS

if TYPE_CHECKING:
    from rhythmcan_cli.store import BrokenModel, StoredModel

app = typer.Typer(
    help="List, inspect, remove, import and average stored models.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(help="The model's name (see 'rhythmcan models list').")]


def _cell(text: object) -> Text:
    """A table cell of text from a card or a folder: one line, no escapes, no markup."""
    return Text(printable(text))


def _size(n_bytes: int) -> str:
    """Human-readable size: 812 B, 3.1 MB."""
    size = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover - loop always returns


def _when(created: str) -> str:
    """ISO timestamp shortened to 'YYYY-MM-DD HH:MM'."""
    return created.replace("T", " ")[:16] if created else "-"


def _model_dict(model: StoredModel) -> dict[str, Any]:
    data = model.card.to_dict()
    data["path"] = str(model.path)
    data["bundled"] = model.bundled
    data["size_bytes"] = model.size_bytes()
    return data


def _broken_dict(broken: BrokenModel) -> dict[str, Any]:
    return {
        "name": broken.name,
        "path": str(broken.path),
        "bundled": broken.bundled,
        "error": broken.error,
    }


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False, default=str)


def _clean_json(data: Any) -> Any:
    """Non-finite floats (a diverged loss) become null so the output is strict JSON."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {k: _clean_json(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_clean_json(v) for v in data]
    return data


# Classifiers 'rhythmcan evaluate' trains on the fly are cached under this name pattern
# (rhythmcan_cli.evaluation.protocol.classifier_name); they are a cache, not the user's models.
_EVALUATE_CACHE = re.compile(r"classifier-[0-9a-f]{12}")
_SHORT_KIND = {"classifier": "clf"}


def cached_by_evaluate(model: StoredModel) -> bool:
    """Whether ``model`` is a genre classifier ``rhythmcan evaluate`` trained and cached."""
    return model.card.kind == "classifier" and bool(_EVALUATE_CACHE.fullmatch(model.name))


Wide = Annotated[
    bool,
    typer.Option("--wide", "-w", help="Full genre lists and creation times (wider than 80)."),
]
All = Annotated[
    bool,
    typer.Option("--all", "-a", help="Also list the classifiers 'rhythmcan evaluate' cached."),
]


@app.command("list")
def list_models(json_output: Json = False, wide: Wide = False, show_all: All = False) -> None:
    """List the models in the store and the bundled defaults (broken ones are flagged).

    Fits 80 columns: kinds are short (clf: genre classifier) and genres are counted; --wide
    shows them in full, as does 'rhythmcan models show NAME'.
    """
    from rhythmcan_cli import store

    listing = run(store.scan_models)
    if json_output:
        data = {
            "models": [
                {**_model_dict(m), "cached_by_evaluate": cached_by_evaluate(m)}
                for m in listing.models
            ],
            "broken": [_broken_dict(b) for b in listing.broken],
        }
        out.print(_dumps(_clean_json(data)), highlight=False, markup=False, soft_wrap=True)
        return
    cached = [m for m in listing.models if cached_by_evaluate(m)]
    models = listing.models if show_all else [m for m in listing.models if m not in cached]
    if not models and not listing.broken:
        err.print(
            f"no models in {store.models_dir()} yet: train one with "
            "'rhythmcan train DATA_DIR --mode can --name NAME' or import one with "
            "'rhythmcan models import PATH/model.json --name NAME'",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    else:
        _print_table(models, listing.broken, wide=wide, cached=cached)
    if cached and not show_all:
        err.print(
            f"{len(cached)} classifier{'s' if len(cached) != 1 else ''} cached by "
            "'rhythmcan evaluate' not shown (--all lists them)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    for broken in listing.broken:
        err.print(
            f"[yellow]warning:[/] {escape(printable(broken.error))}",
            highlight=False,
            soft_wrap=True,
        )


def _print_table(
    models: list[StoredModel],
    broken_models: list[BrokenModel],
    *,
    wide: bool,
    cached: list[StoredModel],
) -> None:
    """The model table: 80 columns unless ``wide``; names and words never break."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", padding=(0, 1, 0, 0))
    for column in ("name", "kind", "genres", "epochs", "created", "size", "source"):
        table.add_column(
            column,
            justify="right"
            if column in ("epochs", "size") or (column, wide) == ("genres", False)
            else "left",
            # the genre list is the one column that may wrap (--wide), between genres
            no_wrap=not (wide and column == "genres"),
            overflow="fold" if wide and column == "genres" else "ellipsis",
        )
    for model in models:
        card = model.card
        if wide:
            genres = ", ".join(card.genres) if card.genres else "-"
        else:
            genres = str(len(card.genres)) if card.genres else "-"
        source = "bundled" if model.bundled else "evaluate" if model in cached else "user"
        table.add_row(
            _cell(model.name),
            _cell(card.kind if wide else _SHORT_KIND.get(card.kind, card.kind)),
            _cell(genres),
            "?" if card.epochs is None else str(card.epochs),
            _when(card.created) if wide else _when(card.created)[:10],
            _size(model.size_bytes()),
            source,
        )
    for broken in broken_models:
        table.add_row(
            _cell(broken.name),
            "[red]broken[/]",
            "-",
            "-",
            "-",
            "-",
            "bundled" if broken.bundled else "user",
        )
    if not wide:
        out.print(table)
        return
    from rich.measure import Measurement

    # as wide as the rows need (the genre lists fold beyond 200 columns)
    needed = Measurement.get(out, out.options.update(max_width=200), table).maximum
    width = out.width
    out.width = max(width, needed)
    try:
        out.print(table, crop=False)
    finally:
        out.width = width


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="A model name, or a model folder.")],
    json_output: Json = False,
) -> None:
    """Show a model's card: kind, genres, grid, sampling defaults, provenance, checksums."""
    from rhythmcan_cli import store

    model = run(lambda: store.open_model(name))
    data = _clean_json(_model_dict(model))
    if json_output:
        out.print(_dumps(data), highlight=False, markup=False, soft_wrap=True)
        return
    from rich.table import Table

    table = Table(show_header=False, show_edge=False, box=None, pad_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    card = model.card
    rows: list[tuple[str, str]] = [
        ("name", card.name),
        ("kind", card.kind),
        ("source", "bundled" if model.bundled else "user"),
        ("path", str(model.path)),
        ("genres", ", ".join(f"{i}:{g}" for i, g in enumerate(card.genres)) or "-"),
        ("drums", ", ".join(card.class_names)),
        ("output pitches", ", ".join(str(p) for p in card.output_pitches)),
        ("steps", str(card.steps)),
        (
            "z",
            f"dim {card.z_dim}, sigma "
            + ("unknown" if card.z_sigma_train is None else f"{card.z_sigma_train:g}")
            + " in training, "
            f"{card.z_sigma_sample:g} when sampling",
        ),
        ("threshold", f"{card.threshold:g}"),
        ("epochs", "unknown" if card.epochs is None else str(card.epochs)),
        ("final losses", ", ".join(f"{k} {v:.4g}" for k, v in card.final_losses.items()) or "-"),
        ("data", card.data_fingerprint or "-"),
        ("created", card.created or "-"),
        ("versions", ", ".join(f"{k} {v}" for k, v in card.versions.items()) or "-"),
        ("size", _size(model.size_bytes())),
    ]
    if card.description:
        rows.append(("description", card.description))
    if card.attribution:
        rows.append(("attribution", card.attribution))
    rows.extend((f"sha256 {rel}", digest) for rel, digest in sorted(card.files.items()))
    for key, value in card.extra.items():
        rows.append((key, json.dumps(value, default=str)))
    for key, value in rows:  # card text comes from a file: no escapes, no markup
        table.add_row(_cell(key), _cell(value))
    out.print(table, highlight=False, markup=False)


@app.command("path")
def path(name: Name) -> None:
    """Print the folder a model lives in (for scripts: cd "$(rhythmcan models path NAME)")."""
    from rhythmcan_cli import store

    folder = run(lambda: store.model_path(name))
    out.print(str(folder), highlight=False, markup=False, soft_wrap=True)


@app.command("rm")
def rm(
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove without asking.")] = False,
) -> None:
    """Remove a model from the store (bundled defaults cannot be removed)."""
    from rhythmcan_cli import store
    from rhythmcan_cli.store import paths as store_paths

    folder = run(lambda: store.model_path(name))
    if folder.parent == store_paths.BUNDLED_DIR:
        run(lambda: store.remove_model(name))  # refuses: bundled defaults stay
    if not yes:
        if not _stdin_is_terminal():
            run(
                _raise(
                    UsageError(
                        f"refusing to remove {name!r} without confirmation: pass --yes "
                        "(stdin is not a terminal)"
                    )
                )
            )
        if not typer.confirm(f"Remove model {name!r} ({folder})?", default=False, err=True):
            err.print("kept", highlight=False)
            raise typer.Exit(1)
    run(lambda: store.remove_model(name))
    err.print(f"removed {name}", highlight=False, markup=False)


@app.command("import")
def import_model(
    model_json: Annotated[
        Path,
        typer.Argument(
            help="A TF.js layers model.json (its weight files beside it).", show_default=False
        ),
    ],
    name: Annotated[
        str, typer.Option("--name", help="Name to store the model under.", show_default=False)
    ],
    genres: Annotated[
        str | None,
        typer.Option(
            "--genres",
            help="Comma-separated genre names in the model's order, e.g. funk,rock.",
            show_default=False,
        ),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="can, cgan or gan (default: guessed from the model's inputs).",
            show_default=False,
        ),
    ] = None,
    force: Force = False,
) -> None:
    """Import a TF.js generator (e.g. from the Max for Live device) into the store."""

    def action() -> StoredModel:
        from rhythmcan_cli.store import validate_name

        validate_name(name)
        if kind is not None and kind not in GENERATOR_KINDS:
            raise UsageError(f"--kind must be one of {', '.join(GENERATOR_KINDS)}, not {kind!r}")
        genre_list = None
        if genres is not None:
            genre_list = [g.strip() for g in genres.split(",") if g.strip()]
            if not genre_list:
                raise UsageError("--genres needs at least one name, e.g. --genres funk,rock")
        from rhythmcan_cli.tfjs.exchange import import_model

        return import_model(model_json, name=name, genres=genre_list, kind=kind, force=force)

    model = run(action)
    genres_text = ", ".join(model.card.genres) or "no genres"
    err.print(
        printable(f"imported {model.name} ({model.kind}; {genres_text}) into {model.path}"),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@app.command("average")
def average(
    name: Annotated[str, typer.Argument(help="Name to store the averaged model under.")],
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Two or more epochs of one training run (names or model folders).",
            show_default=False,
        ),
    ],
    force: Force = False,
) -> None:
    """Store the mean generator of several epochs of one training run (smooths GAN swings)."""
    from rhythmcan_cli.store.averaging import AVERAGE_KEY, average_models

    model = run(lambda: average_models(name, sources, force=force))
    epochs = model.card.training[AVERAGE_KEY]["epochs"]
    err.print(
        printable(
            f"averaged {len(epochs)} epochs ({', '.join(map(str, epochs))}) into "
            f"{model.name} ({model.path})"
        ),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@app.command("default")
def default(
    name: Annotated[
        str | None,
        typer.Argument(help="Model to use when a command is given no --model.", show_default=False),
    ] = None,
    clear: Annotated[
        str | None,
        typer.Option(
            "--clear",
            help="Go back to the bundled default for this kind (can, cgan, classifier).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Make a model the default for its kind, or show the current defaults."""
    from rhythmcan_cli import store

    if name is not None and clear is not None:
        run(_raise(UsageError("give a model name or --clear KIND, not both")))
    if clear is not None:
        run(lambda: store.set_default_model(clear, None))
        err.print(f"default {clear} model: the bundled one", highlight=False, markup=False)
        return
    if name is not None:
        model = run(lambda: store.open_model(name))
        run(lambda: store.set_default_model(model.kind, model.name))
        err.print(f"default {model.kind} model: {model.name}", highlight=False, markup=False)
        return
    for kind in store.DEFAULT_NAMES:
        try:
            current = store.default_model(kind).name
        except RhythmcanError:
            current = "(none)"
        out.print(f"{kind}: {current}", highlight=False, markup=False)


def _stdin_is_terminal() -> bool:
    """True when a person can answer a question on stdin."""
    return sys.stdin.isatty()


def _raise(error: RhythmcanError) -> Any:
    """A callable that raises ``error``, so usage errors go through ``run`` like the rest."""

    def action() -> None:
        raise error

    return action

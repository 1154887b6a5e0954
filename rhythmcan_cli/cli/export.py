"""`rhythmcan export-tfjs`: Export a model for TF.js (the Max for Live device and web pages)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from rhythmcan_cli.cli.console import err, out, run
from rhythmcan_cli.cli.options import Force, ModelName, Quiet


def export_tfjs(
    model: ModelName,
    out_dir: Annotated[
        Path,
        typer.Argument(help="Folder to write model.json and its weights into."),
    ],
    device_genres: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--device-genres",
            help="Conditional models: up to 7 genres, comma-separated, for the Max for Live "
            "device's menu items Old Skool, DnB, Jungle, House, Breakbeat, Garage, Techno "
            "(in that order), e.g. rock,funk,hiphop.",
            show_default=False,
        ),
    ] = None,
    web: Annotated[
        bool,
        typer.Option(
            "--web", help="Also write index.html: a page that generates, plays and saves MIDI."
        ),
    ] = False,
    tfjs_url: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--tfjs-url",
            help="Where the --web page loads TF.js from (a URL, or e.g. tf.min.js for a copy "
            "beside the page, to work offline). Default: the CDN copy of TF.js 4.22.0.",
            show_default=False,
        ),
    ] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Export a model for TF.js (the Max for Live device and web pages).

    Writes model.json (a TF.js layers model that TF.js 1.5 and 4.x load, with rhythmcan's
    metadata inside: kind, genres, drum classes, z size, threshold) and
    group1-shard1of1.bin. For a conditional model it prints which genre each item of the
    Max for Live device's genre menu plays. Example:
    'rhythmcan export-tfjs default-cgan web/ --web --device-genres rock,funk,hiphop'.
    """

    def action() -> tuple[list[Path], dict[str, Any] | None, list[str]]:
        from rhythmcan_cli.store import open_model
        from rhythmcan_cli.tfjs.exchange import write_export

        chosen = None if device_genres is None else device_genres.split(",")
        stored = open_model(model)
        exported = write_export(
            stored,
            out_dir,
            force=force,
            device_genres=chosen,
            web=web,
            tfjs_url=tfjs_url,
        )
        # the menu comes from the metadata written, not from re-reading model.json (another
        # export into the folder may have replaced it meanwhile)
        return exported.paths, exported.meta, list(stored.card.genres)

    written, meta, model_genres = run(action)
    for path in written:
        out.print(str(path), highlight=False, soft_wrap=True)
    if quiet:
        return
    from rhythmcan_cli.tfjs.exchange import menu_lines

    for line in menu_lines(meta or {}, model_genres):
        err.print(line, highlight=False, markup=False, soft_wrap=True)
    err.print(f"exported {model} for TF.js into {out_dir}", highlight=False)
    if web:
        import shlex

        err.print(
            "open the page: python3 -m http.server 8000 --bind 127.0.0.1 --directory "
            f"{shlex.quote(str(out_dir))}, then http://127.0.0.1:8000/",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )

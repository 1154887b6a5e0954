"""`rhythmcan export-tfjs`: Export a model for TF.js (the Max for Live device and web pages)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rhythmcan_cli.cli.console import err, out, run
from rhythmcan_cli.cli.options import Force, ModelName, Quiet


def export_tfjs(
    model: ModelName,
    out_dir: Annotated[
        Path,
        typer.Argument(help="Folder to write model.json, its weights and rhythmcan.json into."),
    ],
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Export a model for TF.js (the Max for Live device and web pages).

    Writes model.json + group1-shard1of1.bin (a TF.js layers model that TF.js 1.5 and 4.x
    load) and rhythmcan.json (kind, genres, drum classes, z size, threshold).
    """

    def action() -> list[Path]:
        from rhythmcan_cli.store import open_model
        from rhythmcan_cli.tfjs import export_tfjs as export

        return export(open_model(model), out_dir, force=force)

    written = run(action)
    for path in written:
        out.print(str(path), highlight=False, soft_wrap=True)
    if not quiet:
        err.print(f"exported {model} for TF.js into {out_dir}", highlight=False)

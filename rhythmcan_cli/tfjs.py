"""``export-tfjs`` and ``models import``: stored generators <-> TF.js layers models.

A stored generator already is a TF.js layers model in the Keras 2.3.1 dialect (see
``layers.py``), so exporting rewrites it canonically (one float32 shard) next to a
``rhythmcan.json`` that tells a player everything it needs (kind, genres in order, drum
classes and pitches, z size and sigma, threshold). Importing reads a 2020 release model or
one of our exports, checks that the numpy engine can run it, and saves it in the store.
No TensorFlow here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from rhythmcan_cli.engine import Generator
from rhythmcan_cli.errors import DataError, ModelError, UsageError
from rhythmcan_cli.grid import CLASS_NAMES, DEFAULT_THRESHOLD, N_CLASSES, OUTPUT_PITCHES, STEPS
from rhythmcan_cli.layers import MODEL_JSON, SHARD_NAME, LayersModel, read_layers_model
from rhythmcan_cli.store import GENERATOR_JSON, ModelCard, StoredModel, open_model, save_model

METADATA_FILE: Final = "rhythmcan.json"
METADATA_FORMAT: Final = "rhythmcan-generator"
GENERATOR_KINDS: Final = ("gan", "cgan", "can")


def _generator_of(model: StoredModel) -> tuple[LayersModel, Generator]:
    """The stored model's generator files and compiled engine, or ModelError."""
    if GENERATOR_JSON not in model.card.files:
        raise ModelError(
            f"model {model.name!r} ({model.kind}) has no generator, so there is nothing to export"
        )
    lm = read_layers_model(model.path / GENERATOR_JSON)
    return lm, Generator.from_layers_model(lm)


def metadata(model: StoredModel, generator: Generator) -> dict[str, Any]:
    """What a TF.js player needs to know about an exported generator (``rhythmcan.json``)."""
    from rhythmcan_cli import __version__

    card = model.card
    return {
        "format": METADATA_FORMAT,
        "format_version": 1,
        "name": card.name,
        "kind": card.kind,
        "inputs": ["z", "genre"] if generator.n_genres is not None else ["z"],
        "genres": list(card.genres),
        "n_genres": generator.n_genres,
        "class_names": list(card.class_names),
        "output_pitches": list(card.output_pitches),
        "steps": card.steps,
        "z_dim": generator.z_dim,
        "z_sigma": card.z_sigma_sample,
        "z_sigma_train": card.z_sigma_train,
        "threshold": card.threshold,
        "output_shape": [card.steps, len(card.class_names)],
        "description": card.description,
        "attribution": card.attribution,
        "rhythmcan_version": __version__,
    }


def export_tfjs(model: StoredModel, out_dir: Path, *, force: bool = False) -> list[Path]:
    """Write ``model.json``, the weight shard and ``rhythmcan.json`` into ``out_dir``.

    Refuses (DataError naming the file) to overwrite existing files unless ``force``.
    Returns the written paths.
    """
    out_dir = Path(out_dir)
    lm, generator = _generator_of(model)
    files = lm.to_files()
    meta = json.dumps(metadata(model, generator), indent=2, ensure_ascii=False) + "\n"
    files[METADATA_FILE] = meta.encode("utf-8")
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir} exists and is not a folder; choose another output folder")
    if not force:
        for name in files:
            if (out_dir / name).exists():
                raise DataError(f"{out_dir / name} already exists; use --force to overwrite it")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        # Shard first, model.json last: a reader never sees a model.json without its weights.
        for name in (SHARD_NAME, METADATA_FILE, MODEL_JSON):
            path = out_dir / name
            tmp = path.with_name(f".{name}.tmp")
            tmp.write_bytes(files[name])
            tmp.replace(path)
            written.append(path)
    except OSError as error:
        reason = error.strerror or error
        raise DataError(f"cannot write the export to {out_dir}: {reason}") from None
    return written


def _read_metadata(folder: Path) -> dict[str, Any] | None:
    """``rhythmcan.json`` beside an imported model.json, if there is a valid one."""
    path = folder / METADATA_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict) or data.get("format") != METADATA_FORMAT:
        raise ModelError(f"{path} is not rhythmcan export metadata")
    return data


def import_model(
    model_json: Path,
    *,
    name: str,
    genres: Sequence[str] | None = None,
    kind: str | None = None,
    force: bool = False,
) -> StoredModel:
    """Check a TF.js layers model, rewrite it canonically and add it to the store as ``name``.

    ``kind`` defaults to ``cgan`` when the model has a genre input, else ``can``. Genres come
    from a ``rhythmcan.json`` beside the file, else ``genres``, else ``genre_0..`` for
    conditional models. Nothing is added to the store when any check fails.
    """
    from rhythmcan_cli.store import validate_name

    validate_name(name)
    model_json = Path(model_json)
    if model_json.is_dir():
        model_json = model_json / MODEL_JSON
    lm = read_layers_model(model_json)
    generator = Generator.from_layers_model(lm)
    if generator.output_shape != (STEPS, N_CLASSES):
        raise ModelError(
            f"{model_json} outputs shape {list(generator.output_shape)}, a drum generator "
            f"outputs [{STEPS}, {N_CLASSES}]"
        )
    meta = _read_metadata(model_json.parent) or {}
    conditional = generator.n_genres is not None
    if kind is None:
        kind = str(meta.get("kind") or ("cgan" if conditional else "can"))
    if kind not in GENERATOR_KINDS:
        raise UsageError(f"kind must be one of {', '.join(GENERATOR_KINDS)}, got {kind!r}")
    if (kind == "cgan") != conditional:
        raise UsageError(
            f"--kind {kind} does not fit {model_json}: it "
            + ("has a genre input (use --kind cgan)" if conditional else "has no genre input")
        )
    genre_list = list(genres) if genres else [str(g) for g in meta.get("genres", [])]
    if conditional:
        k = int(generator.n_genres or 0)
        if not genre_list:
            genre_list = [f"genre_{i}" for i in range(k)]
        if len(genre_list) != k:
            raise UsageError(
                f"{model_json} has {k} genres but {len(genre_list)} genre names were given"
            )
    if len(set(genre_list)) != len(genre_list) or any(not g.strip() for g in genre_list):
        raise UsageError(f"genre names must be distinct and non-empty, got {genre_list}")
    card = ModelCard(
        name=name,
        kind=kind,
        genres=genre_list,
        class_names=list(meta.get("class_names", CLASS_NAMES)),
        output_pitches=[int(p) for p in meta.get("output_pitches", OUTPUT_PITCHES)],
        steps=STEPS,
        z_dim=generator.z_dim,
        z_sigma_train=float(meta.get("z_sigma_train", 0.5)),
        z_sigma_sample=float(meta.get("z_sigma", 1.0)),
        threshold=float(meta.get("threshold", DEFAULT_THRESHOLD)),
        description=str(
            meta.get("description") or f"imported from {model_json.parent.name}/{model_json.name}"
        ),
        attribution=str(meta.get("attribution", "")),
    )
    files = {f"generator/{rel}": payload for rel, payload in lm.to_files().items()}
    save_model(name, card, files, force=force)
    return open_model(name)

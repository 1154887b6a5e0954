"""``export-tfjs`` and ``models import``: stored generators <-> TF.js layers models.

A stored generator already is a TF.js layers model in the Keras 2.3.1 dialect (see
``layers.py``), so exporting rewrites it canonically (one float32 shard) with what a player
needs to know (kind, genres in id order, drum classes and pitches, z size and sigma,
threshold, the Max for Live menu's genre slots) inside ``model.json`` itself, as
``userDefinedMetadata.rhythmcan``: one JSON per folder, so the device's Load dialog can only
pick the model. Older exports kept it in a ``rhythmcan.json`` beside; importing still reads
that. Importing reads a 2020 release model or one of our exports, checks that the numpy
engine can run it, and saves it in the store. No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from rhythmcan_cli.atomic import output_error, write_batch
from rhythmcan_cli.engine import Generator
from rhythmcan_cli.errors import DataError, ModelError, UsageError
from rhythmcan_cli.formats.card_schema import check_field, check_metadata
from rhythmcan_cli.formats.layers_model import MODEL_JSON, LayersModel, read_layers_model
from rhythmcan_cli.formats.model_folder import (
    MAX_JSON_BYTES,
    open_given,
    parse_json,
    read_fd,
    read_inside,
)
from rhythmcan_cli.grid import CLASS_NAMES, DEFAULT_THRESHOLD, N_CLASSES, OUTPUT_PITCHES, STEPS
from rhythmcan_cli.store import GENERATOR_JSON, ModelCard, StoredModel, open_model, save_model
from rhythmcan_cli.tfjs.device import (
    DEVICE_NONE,
    DEVICE_Z_DIM,
    device_menu,
    device_slots,
    select_genres,
)
from rhythmcan_cli.vocabulary import GENERATOR_KINDS

METADATA_KEY: Final = "rhythmcan"
"""Key of rhythmcan's metadata in model.json's ``userDefinedMetadata``."""
METADATA_FILE: Final = "rhythmcan.json"
"""Where exports before format_version 2 kept the metadata (still read on import)."""
METADATA_FORMAT: Final = "rhythmcan-generator"


def _generator_of(model: StoredModel) -> tuple[LayersModel, Generator]:
    """The stored model's generator files and compiled engine, or ModelError."""
    if GENERATOR_JSON not in model.card.files:
        raise ModelError(
            f"model {model.name!r} ({model.kind}) has no generator, so there is nothing to export"
        )
    lm = model.layers_model()
    return lm, Generator.from_layers_model(lm)


def metadata(
    model: StoredModel, generator: Generator, genres: Sequence[str] | None = None
) -> dict[str, Any]:
    """What a TF.js player needs to know about an exported generator.

    ``genres`` are the exported model's genres in id order (default: the card's); for a
    conditional model ``device_menu`` says which genre each Max for Live menu item plays.
    """
    from rhythmcan_cli import __version__

    card = model.card
    genre_list = list(card.genres if genres is None else genres)
    conditional = generator.n_genres is not None
    meta: dict[str, Any] = {
        "format": METADATA_FORMAT,
        "format_version": 2,
        "name": card.name,
        "kind": card.kind,
        "inputs": ["z", "genre"] if conditional else ["z"],
        "genres": genre_list,
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
    if conditional:
        meta["device_menu"] = device_menu(genre_list)
    return meta


def export_files(
    model: StoredModel, device_genres: Sequence[str] | None = None
) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The export's files (``model.json`` with the metadata inside, the weight shard) and
    the metadata.

    ``device_genres`` (conditional models only; at most 7 of the model's genres) become
    genre ids 0, 1, ... of the export, i.e. the Max for Live menu items Old Skool, DnB, ...
    Without it a conditional export keeps the model's genre order.
    """
    lm, generator = _generator_of(model)
    genres = list(model.card.genres)
    if generator.n_genres is None:
        if device_genres is not None:
            raise UsageError(
                f"--device-genres needs a conditional (cgan) model; {model.name!r} is "
                f"{model.kind} and takes no genre"
            )
    elif device_genres is not None:
        slots = device_slots(genres, device_genres)
        lm = select_genres(lm, slots)
        genres = [genres[i] for i in slots]
        generator = Generator.from_layers_model(lm)
    meta = metadata(model, generator, genres)
    exported = LayersModel(
        topology=lm.topology, weights=lm.weights, user_metadata={METADATA_KEY: meta}
    )
    return exported.to_files(), meta


def menu_lines(meta: dict[str, Any], model_genres: Sequence[str] | None = None) -> list[str]:
    """What a Max for Live user must know about an export, as text lines: a note when the
    device cannot run it (z size), the menu item -> genre table of a conditional model, and
    the genres of ``model_genres`` (default: the export's) that no menu item plays."""
    lines = []
    z_dim = meta.get("z_dim")
    if isinstance(z_dim, int) and z_dim != DEVICE_Z_DIM:
        lines.append(
            f"note: the Max for Live device draws z of size {DEVICE_Z_DIM}; this model takes "
            f"{z_dim}, so it runs in web pages but not in the device"
        )
    rows = meta.get("device_menu")
    if not isinstance(rows, list):
        return lines
    width = max(len(str(row["item"])) for row in rows)
    lines.append("Max for Live genre menu -> genre of this export:")
    for row in rows:
        if row["item"] == DEVICE_NONE:
            what = "stops the released device with a conditional model: do not pick it"
        elif row["genre"] is None:
            what = "(no genre: do not pick it)"
        else:
            what = str(row["genre"])
        lines.append(f"  {str(row['item']).ljust(width)}  id {row['id']:>2}  {what}")
    reached = {row["genre"] for row in rows}
    genres = meta.get("genres", []) if model_genres is None else model_genres
    missing = [g for g in genres if g not in reached]
    if missing:
        lines.append(
            f"  not on the menu: {', '.join(missing)} (choose up to 7 with --device-genres)"
        )
    return lines


@dataclass(frozen=True)
class Exported:
    """What :func:`write_export` wrote: the paths, and the metadata inside its model.json,
    so that nobody re-reads a file another export into the folder may have replaced."""

    paths: list[Path]
    meta: dict[str, Any]


def export_tfjs(
    model: StoredModel,
    out_dir: Path,
    *,
    force: bool = False,
    device_genres: Sequence[str] | None = None,
    web: bool = False,
    tfjs_url: str | None = None,
) -> list[Path]:
    """:func:`write_export`, returning only the written paths."""
    return write_export(
        model, out_dir, force=force, device_genres=device_genres, web=web, tfjs_url=tfjs_url
    ).paths


def write_export(
    model: StoredModel,
    out_dir: Path,
    *,
    force: bool = False,
    device_genres: Sequence[str] | None = None,
    web: bool = False,
    tfjs_url: str | None = None,
) -> Exported:
    """Write ``model.json`` (metadata inside) and its weight shard into ``out_dir``, and with
    ``web`` a page ``index.html`` beside them that loads TF.js from ``tfjs_url`` (default:
    the CDN copy of the TF.js version the page is tested with).

    ``device_genres``: see :func:`export_files`. Refuses (DataError naming the file) to
    overwrite existing files, or to leave an older export's ``rhythmcan.json`` beside the
    new model, unless ``force`` (which then removes it). Concurrent exports into one folder
    are serialised and each leaves one model's complete files. Returns the written paths
    and the metadata written (what the device menu is printed from).
    """
    out_dir = Path(out_dir)
    files, meta = export_files(model, device_genres)
    if web:
        from rhythmcan_cli.tfjs.webpage import PAGE_NAME, web_page

        files[PAGE_NAME] = web_page(meta, tfjs_url=tfjs_url)
    elif tfjs_url is not None:
        raise UsageError("--tfjs-url only matters with --web (the page loads TF.js from it)")
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir} exists and is not a folder; choose another output folder")
    if not force:  # the friendly check (model.json named first); write_batch's is the rule
        for name in sorted((*files, METADATA_FILE), key=lambda name: name != MODEL_JSON):
            if (out_dir / name).exists():
                raise DataError(f"{out_dir / name} already exists; use --force to overwrite it")
    # All or nothing, under a lock on the folder (atomic.write_batch): the files are written
    # into a unique hidden folder and moved in only when all are whole, so two exports into
    # one folder never mix their files, and without --force only one of them succeeds.
    # model.json moves in last: a reader never sees it without its weights.
    names = sorted(files, key=lambda name: name == MODEL_JSON)
    written = list(write_batch(out_dir, names, (files[name] for name in names), force=force))
    if written:
        # A stale rhythmcan.json would show in the device's Load dialog next to model.json.
        try:
            (out_dir / METADATA_FILE).unlink(missing_ok=True)
        except OSError as error:
            raise output_error(out_dir / METADATA_FILE, error) from None
    return Exported(written, meta)


def export_metadata(model_json: Path) -> dict[str, Any] | None:
    """rhythmcan's metadata inside an exported ``model.json`` (None when it has none)."""
    model_json = Path(model_json)
    try:
        with open_given(model_json) as fd:
            raw = read_fd(fd, MAX_JSON_BYTES, str(model_json))
    except OSError as error:
        raise ModelError(f"cannot read {model_json}: {error.strerror or error}") from None
    data = parse_json(raw, str(model_json))
    user = data.get("userDefinedMetadata") if isinstance(data, dict) else None
    meta = user.get(METADATA_KEY) if isinstance(user, dict) else None
    return meta if isinstance(meta, dict) else None


def _read_metadata(lm: LayersModel, folder: Path) -> dict[str, Any] | None:
    """rhythmcan's metadata of an imported model: inside model.json
    (``userDefinedMetadata.rhythmcan``), else an older export's ``rhythmcan.json`` beside it."""
    inside = lm.user_metadata.get(METADATA_KEY)
    if inside is not None:
        if not isinstance(inside, dict) or inside.get("format") != METADATA_FORMAT:
            raise ModelError(
                f"{folder / MODEL_JSON}: userDefinedMetadata.{METADATA_KEY} is not rhythmcan "
                "export metadata"
            )
        return inside
    path = folder / METADATA_FILE
    try:  # beside model.json: a regular file, no link, bounded
        raw = read_inside(folder, METADATA_FILE, MAX_JSON_BYTES, str(path))
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ModelError(f"cannot read {path}: {error.strerror or error}") from None
    data = parse_json(raw, str(path))
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
    from the metadata in model.json (or an older export's ``rhythmcan.json`` beside it), else
    ``genres``, else ``genre_0..`` for conditional models. Nothing is added to the store
    when any check fails.
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
    # Every fact the file states is checked against the one card schema before use.
    facts = check_metadata(_read_metadata(lm, model_json.parent) or {}, f"{model_json} metadata")
    conditional = generator.n_genres is not None
    if kind is None:
        kind = str(facts.get("kind") or ("cgan" if conditional else "can"))
    if kind not in GENERATOR_KINDS:
        raise UsageError(f"kind must be one of {', '.join(GENERATOR_KINDS)}, got {kind!r}")
    if (kind == "cgan") != conditional:
        raise UsageError(
            f"--kind {kind} does not fit {model_json}: it "
            + ("has a genre input (use --kind cgan)" if conditional else "has no genre input")
        )
    if facts.get("z_dim", generator.z_dim) != generator.z_dim:
        raise ModelError(
            f"{model_json} metadata says z_dim {facts['z_dim']}, the model takes {generator.z_dim}"
        )
    genre_list = list(genres) if genres else list(facts.get("genres", []))
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
        genres=check_field("genres", genre_list, "genre names"),
        class_names=facts.get("class_names", list(CLASS_NAMES)),
        output_pitches=facts.get("output_pitches", list(OUTPUT_PITCHES)),
        steps=STEPS,
        z_dim=generator.z_dim,
        # Facts the file does not hold stay unknown (None), never a default: the 2020
        # release files record neither the training z spread nor the epochs.
        z_sigma_train=facts.get("z_sigma_train"),
        epochs=facts.get("epochs"),
        z_sigma_sample=facts.get("z_sigma_sample", 1.0),
        threshold=facts.get("threshold", DEFAULT_THRESHOLD),
        description=str(
            facts.get("description") or f"imported from {model_json.parent.name}/{model_json.name}"
        ),
        attribution=str(facts.get("attribution", "")),
    )
    # The store keeps the bare model: its metadata lives in the card.
    bare = LayersModel(topology=lm.topology, weights=lm.weights)
    files = {f"generator/{rel}": payload for rel, payload in bare.to_files().items()}
    save_model(name, card, files, force=force)
    return open_model(name)

"""Default models per kind: the user's choice (``defaults.json``), else the bundled
``default-<kind>``; a broken choice is named, never silently replaced.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Final

from rhythmcan_cli.atomic import (
    atomic_write,
)
from rhythmcan_cli.errors import ModelError, StoreError
from rhythmcan_cli.formats.model_folder import (
    parse_json,
    read_inside,
)
from rhythmcan_cli.vocabulary import KINDS

if TYPE_CHECKING:
    pass
from rhythmcan_cli.store import paths
from rhythmcan_cli.store.paths import bundled_folder, store_folder, store_root, validate_name
from rhythmcan_cli.store.stored import StoredModel, load_folder, open_model

DEFAULT_NAMES: Final[dict[str, str]] = {
    "can": "default-can",
    "cgan": "default-cgan",
    "classifier": "default-classifier",
}
"""The bundled default model for each kind ``default_model`` serves."""


DEFAULTS_FILE: Final = "defaults.json"


_MAX_DEFAULTS_BYTES: Final = 1024 * 1024


def _defaults_file() -> Path:
    return store_root() / DEFAULTS_FILE


def _user_defaults(*, strict: bool = True) -> dict[str, str]:
    """The user's chosen default per kind, from ``defaults.json`` (kind -> model name).

    A missing file (or store) means no choice. A file that is not a small regular JSON
    object of valid model names raises StoreError when ``strict``; otherwise it counts as
    empty (``models default`` then rewrites it). Values are names, never paths.
    """
    path = _defaults_file()

    def broken(why: str) -> dict[str, str]:
        if strict:
            raise StoreError(
                f"{path} is unusable ({why}); fix or delete it, or run "
                "'rhythmcan models default --clear KIND'"
            )
        return {}

    try:
        raw = read_inside(store_root(), DEFAULTS_FILE, _MAX_DEFAULTS_BYTES, DEFAULTS_FILE)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except ModelError as error:
        return broken(str(error))
    except OSError as error:
        return broken(str(error.strerror or error))
    try:
        data = parse_json(raw, DEFAULTS_FILE)
    except ModelError as error:
        return broken(str(error))
    if not isinstance(data, dict):
        return broken("not a JSON object")
    chosen: dict[str, str] = {}
    for kind, name in data.items():
        if kind not in KINDS:
            continue  # a kind from a newer version: kept out of the way
        if not isinstance(name, str) or not paths.NAME_RE.fullmatch(name) or ".." in name:
            return broken(f"the default {kind} model {str(name)[:40]!r} is not a model name")
        chosen[kind] = name
    return chosen


def set_default_model(kind: str, name: str | None) -> None:
    """Make store model ``name`` the default for ``kind`` (None: back to the bundled one).

    Written through atomic_write (temp file + rename): a full, read-only or missing store
    is one OutputError and leaves no temp file behind.
    """
    if kind not in KINDS:
        raise ModelError(f"unknown model kind {kind!r} (expected one of {', '.join(KINDS)})")
    defaults = _user_defaults(strict=False)
    if name is None:
        defaults.pop(kind, None)
    else:
        model = open_model(validate_name(name))
        if model.kind != kind:
            raise ModelError(f"model {name!r} is a {model.kind} model, not {kind}")
        defaults[kind] = name
    atomic_write(_defaults_file(), json.dumps(defaults, indent=2) + "\n")  # OutputError


def _open_named(name: str, why: str) -> StoredModel:
    """Model ``name`` from the store or the bundled defaults: a name, never a path."""
    for folder, bundled in ((store_folder(name), False), (bundled_folder(name), True)):
        if folder is not None:
            model = load_folder(folder, name, bundled=bundled)
            model.card.name = name
            return model
    raise ModelError(
        f"no model named {name!r} ({why}); see 'rhythmcan models list' or "
        "'rhythmcan models default --clear KIND'"
    )


def default_model(kind: str) -> StoredModel:
    """The model used when none is named: the user's chosen default, else the bundled one."""
    if kind not in KINDS:
        raise ModelError(f"unknown model kind {kind!r} (expected one of {', '.join(KINDS)})")
    chosen = _user_defaults().get(kind)
    if chosen:
        return _open_named(chosen, f"the default {kind} model in {DEFAULTS_FILE}")
    bundled_name = DEFAULT_NAMES.get(kind)
    if bundled_name is not None:
        folder = bundled_folder(bundled_name)
        if folder is not None:
            return load_folder(folder, bundled_name, bundled=True)
    mode = "classifier" if kind == "classifier" else kind
    hint = (
        f"no default {kind} model is installed: train one with "
        f"'rhythmcan train DATA_DIR --mode {mode} --name NAME' and pass --model NAME"
    )
    if kind != "classifier":
        hint += (
            ", or import a TF.js model with 'rhythmcan models import PATH/model.json --name NAME'"
        )
    raise ModelError(hint)

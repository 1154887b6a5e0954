"""Writing and removing models: a temp folder inside ``models/`` renamed into place (or
swapped with the old model in one step), so a killed process never leaves a listed model that
cannot load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Final

from rhythmcan_cli.atomic import (
    fsync_folder,
    replace_folder,
)
from rhythmcan_cli.errors import ModelError, StoreError
from rhythmcan_cli.formats.card_schema import check_card
from rhythmcan_cli.formats.model_folder import (
    remove_tree,
)

if TYPE_CHECKING:
    pass
from rhythmcan_cli.store.cards import ModelCard
from rhythmcan_cli.store.paths import (
    CARD_FILE,
    bundled_folder,
    check_relpath,
    clean_leftovers,
    models_dir,
    store_folder,
    temp_name,
    validate_name,
)

_CHUNK: Final = 1 << 20


def _write_file(target: Path, source: bytes | Path) -> str:
    """Write ``source`` to ``target``, fsync it, and return its sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with target.open("xb") as out:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            digest.update(data)
            out.write(data)
        else:
            try:
                with Path(source).open("rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            except FileNotFoundError as error:
                raise ModelError(f"cannot save model: file {source} does not exist") from error
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _swap_in(temp: Path, dest: Path, name: str) -> None:
    """Put ``temp`` at ``dest``, replacing what is there; ``dest`` always holds a whole model."""
    remove_tree(replace_folder(temp, dest, dest.parent / temp_name("old", name)))


def save_model(
    name: str, card: ModelCard, files: Mapping[str, bytes | Path], *, force: bool = False
) -> Path:
    """Write a model into the store atomically and return its folder.

    ``files`` maps relative paths (e.g. ``generator/model.json``) to bytes or a file to copy.
    The card's ``name`` and ``files`` checksums are filled in, ``created`` too when empty. An
    existing name is refused unless ``force``; then the old model is replaced in one step.
    """
    validate_name(name)
    check_card({**card.to_dict(), "files": {}}, f"model {name!r}")  # nothing invalid is stored
    for rel in files:
        check_relpath(rel)
    root = models_dir()
    dest = root / name
    if dest.exists() and not force:
        raise StoreError(f"a model named {name!r} already exists; use --force to replace it")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(
            f"cannot create the model store at {root}: {error.strerror or error}"
        ) from error
    with contextlib.suppress(OSError):
        clean_leftovers()
    temp = root / temp_name("tmp", name)
    try:
        temp.mkdir()
        checksums = {rel: _write_file(temp / rel, source) for rel, source in sorted(files.items())}
        card.name = name
        card.files = checksums
        if not card.created:
            card.created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        text = json.dumps(card.to_dict(), indent=2, ensure_ascii=False) + "\n"
        _write_file(temp / CARD_FILE, text.encode("utf-8"))
        for folder in sorted({(temp / rel).parent for rel in files} | {temp}, reverse=True):
            fsync_folder(folder)
        if dest.exists():
            if not force:
                raise StoreError(
                    f"a model named {name!r} already exists; use --force to replace it"
                )
            _swap_in(temp, dest, name)
        else:
            try:
                os.rename(temp, dest)
            except OSError as error:
                if dest.exists():
                    raise StoreError(
                        f"a model named {name!r} was saved by another process meanwhile; "
                        "use --force to replace it"
                    ) from error
                raise
        fsync_folder(root)
    except BaseException as error:
        remove_tree(temp)
        if isinstance(error, OSError):
            raise StoreError(f"cannot save model {name!r}: {error.strerror or error}") from error
        raise
    return dest


def remove_model(name: str) -> Path:
    """Remove model ``name`` from the store (atomically: rename aside, then delete)."""
    validate_name(name)
    folder = store_folder(name)
    if folder is None:
        if bundled_folder(name) is not None:
            raise StoreError(f"model {name!r} is a bundled default and cannot be removed")
        raise ModelError(f"no model named {name!r}; see 'rhythmcan models list'")
    aside = folder.parent / temp_name("rm", name)
    try:
        os.rename(folder, aside)
    except FileNotFoundError as error:
        raise ModelError(f"no model named {name!r} (removed by another command?)") from error
    except OSError as error:
        raise StoreError(f"cannot remove model {name!r}: {error.strerror or error}") from error
    remove_tree(aside)
    return folder

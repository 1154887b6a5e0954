"""Stored models: opening one by name or folder (checksums verified on load), listing the
store and the bundled defaults (a broken folder is listed apart, never hides the others).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rhythmcan_cli.errors import ModelError, StoreError
from rhythmcan_cli.formats.model_folder import (
    UnsafeFileError,
    read_inside,
    sha256_inside,
    walk_tree,
)

if TYPE_CHECKING:
    from rhythmcan_cli.engine import Generator
    from rhythmcan_cli.formats.layers_model import FileReader, LayersModel
from rhythmcan_cli.store import paths
from rhythmcan_cli.store.cards import (
    GENERATOR_JSON,
    ModelCard,
    read_card,
)
from rhythmcan_cli.store.paths import (
    CARD_FILE,
    bundled_folder,
    clean_leftovers,
    models_dir,
    store_folder,
    validate_name,
)


@dataclass
class StoredModel:
    """A model folder whose card was read and whose checksums were verified."""

    path: Path
    card: ModelCard
    bundled: bool = False
    hard_links: bool = True
    """Whether files with several names are read: in the store and the bundled folder (the
    checksums are rhythmcan's own), not in a folder the user gives (formats/model_folder)."""

    @property
    def name(self) -> str:
        """The model's name (the card's)."""
        return self.card.name

    @property
    def kind(self) -> str:
        """``gan``, ``cgan``, ``can`` or ``classifier``."""
        return self.card.kind

    def size_bytes(self) -> int:
        """Total size of the model's files on disk (0 for files that vanished)."""
        total = 0
        for rel in [CARD_FILE, *self.card.files]:
            with contextlib.suppress(OSError):
                total += (self.path / rel).stat().st_size
        return total

    def generator(self) -> Generator:
        """Load the generator (numpy inference; no TensorFlow)."""
        if GENERATOR_JSON not in self.card.files:
            raise ModelError(
                f"model {self.name!r} ({self.kind}) has no generator: it cannot generate patterns"
            )
        from rhythmcan_cli.engine import Generator

        return Generator.from_layers_model(self.layers_model())

    def layers_model(self) -> LayersModel:
        """The generator's files as a LayersModel, every byte checked against the card.

        Each file is verified as it is read, so a file changed after open_model (a
        concurrent 'models rm' or --force save) cannot slip through, and model.json cannot
        make rhythmcan read a file the card does not list.
        """
        if GENERATOR_JSON not in self.card.files:
            raise ModelError(f"model {self.name!r} ({self.kind}) has no generator")
        from rhythmcan_cli.formats.layers_model import read_layers_model

        reader = _verified_reader(
            self.path, self.card, self.name, GENERATOR_JSON.split("/")[0], self.hard_links
        )
        return read_layers_model(self.path / GENERATOR_JSON, reader=reader)

    def verify(self, prefix: str = "") -> None:
        """Re-check the checksums of the files under ``prefix`` (all by default)."""
        _verify(self.path, self.card, self.name, prefix=prefix, hard_links=self.hard_links)


@dataclass(frozen=True)
class BrokenModel:
    """A model folder that cannot be used, and why."""

    name: str
    path: Path
    error: str
    bundled: bool = False


@dataclass
class StoreListing:
    """Everything in the store: usable models and broken folders, each sorted by name."""

    models: list[StoredModel]
    broken: list[BrokenModel]


def _file_error(folder: Path, label: str, rel: str, error: OSError) -> ModelError:
    """The one-line error for model file ``rel`` that could not be opened."""
    if isinstance(error, FileNotFoundError):
        if not folder.exists():
            return ModelError(f"model {label!r} vanished (removed by another command?)")
        return ModelError(f"model {label!r} is incomplete: file {rel} is missing")
    return ModelError(f"model {label!r}: cannot read {rel}: {error.strerror or error}")


def _unsafe(label: str, error: UnsafeFileError) -> ModelError:
    return ModelError(
        f"model {label!r}: {error}; the model is not used (re-train, re-import or reinstall it)"
    )


def _verify(
    folder: Path, card: ModelCard, label: str, *, prefix: str = "", hard_links: bool = True
) -> None:
    """Check every listed file's sha256, and that no unlisted file sits in the folder.

    Files are opened inside the folder without following links (model_files). With
    ``prefix`` only the listed files under it are checked (no scan for extra files). The scan
    counts hidden files and links too: every file a model could read must be listed.
    """
    for rel, expected in card.files.items():
        if not rel.startswith(prefix):
            continue
        try:
            actual = sha256_inside(folder, rel, hard_links=hard_links)
        except UnsafeFileError as error:
            raise _unsafe(label, error) from None
        except OSError as error:
            raise _file_error(folder, label, rel, error) from error
        if actual != expected.lower():
            raise ModelError(
                f"model {label!r} failed its checksum: {rel} was changed or corrupted; "
                "the model is not used (re-train, re-import or reinstall it)"
            )
    if prefix:
        return
    listed = set(card.files)
    try:
        present = walk_tree(folder)
    except ModelError as error:
        raise ModelError(f"model {label!r}: {error}; the model is not used") from None
    except OSError as error:
        raise ModelError(f"model {label!r} vanished (removed by another command?)") from error
    unlisted = sorted(rel for rel in present if rel != CARD_FILE and rel not in listed)
    if unlisted:
        raise ModelError(
            f"model {label!r} holds a file its card does not list ({unlisted[0]!r}); "
            "the model is not used"
        )


def _verified_reader(
    folder: Path, card: ModelCard, label: str, base: str, hard_links: bool = True
) -> FileReader:
    """A layers-file reader for ``folder/base``: only files the card lists, each checked
    against its sha256 on the very bytes returned (nothing read escapes the checksums)."""

    def read(name: str, cap: int) -> bytes:
        rel = f"{base}/{name}"
        expected = card.files.get(rel)
        if expected is None:
            raise ModelError(
                f"model {label!r}: {base}/model.json reads {name!r}, which its card does not "
                "list; the model is not used"
            )
        try:
            data = read_inside(folder, rel, cap, rel, hard_links=hard_links)
        except UnsafeFileError as error:
            raise _unsafe(label, error) from None
        except OSError as error:
            raise _file_error(folder, label, rel, error) from error
        if hashlib.sha256(data).hexdigest() != expected.lower():
            raise ModelError(
                f"model {label!r} failed its checksum: {rel} was changed or corrupted; "
                "the model is not used (re-train, re-import or reinstall it)"
            )
        return data

    return read


def load_folder(folder: Path, label: str, *, bundled: bool, hard_links: bool = True) -> StoredModel:
    """The model in ``folder``, checked; ``hard_links=False`` for a folder the user gives,
    whose card cannot vouch for its own files (a hard link may be any file's bytes)."""
    card = read_card(folder, label, hard_links=hard_links)
    _verify(folder, card, label, hard_links=hard_links)
    return StoredModel(path=folder, card=card, bundled=bundled, hard_links=hard_links)


def open_model(name_or_path: str | Path) -> StoredModel:
    """Open a model by store name, bundled default name, or folder path; checksums verified."""
    text = str(name_or_path)
    is_name = False
    if not isinstance(name_or_path, Path):
        try:
            validate_name(text)
            is_name = True
        except StoreError:
            is_name = False
    if is_name:
        for folder, bundled in ((store_folder(text), False), (bundled_folder(text), True)):
            if folder is not None:
                model = load_folder(folder, text, bundled=bundled)
                model.card.name = text  # the folder name is the name users type
                return model
    path = Path(text).expanduser()
    if path.is_file() and path.name == CARD_FILE:
        path = path.parent
    if path.is_dir() and (is_name is False or (path / CARD_FILE).is_file()):
        return load_folder(path, str(path), bundled=False, hard_links=False)
    if is_name:
        raise ModelError(
            f"no model named {text!r}; see 'rhythmcan models list' "
            "(train one with 'rhythmcan train DATA_DIR --name NAME')"
        )
    raise ModelError(
        f"no model folder at {text}; give a model name or a folder holding {CARD_FILE}"
    )


def scan_models() -> StoreListing:
    """Store models, then bundled defaults not shadowed by a store model; broken ones apart."""
    with contextlib.suppress(OSError):
        clean_leftovers()
    models: list[StoredModel] = []
    broken: list[BrokenModel] = []
    seen: set[str] = set()
    for root, bundled in ((models_dir(), False), (paths.BUNDLED_DIR, True)):
        try:
            entries = sorted(root.iterdir(), key=lambda p: p.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name in seen or not entry.is_dir():
                continue
            if bundled and not (entry / CARD_FILE).is_file():
                continue  # e.g. __pycache__ or an empty placeholder
            try:
                validate_name(entry.name)
                model = load_folder(entry, entry.name, bundled=bundled)
            except (ModelError, OSError, ValueError, RecursionError) as error:
                # One bad folder is listed as broken; it never hides the other models.
                if not entry.exists():
                    continue  # removed while we listed: simply gone
                reason = (
                    error if isinstance(error, ModelError) else f"model {entry.name!r}: {error!r}"
                )
                broken.append(BrokenModel(entry.name, entry, str(reason)[:500], bundled))
                seen.add(entry.name)
                continue
            if model.card.name != entry.name:
                model.card.name = entry.name  # the folder name is the name users type
            models.append(model)
            seen.add(entry.name)
    return StoreListing(models=models, broken=broken)


def list_models() -> list[StoredModel]:
    """Every usable model: the store's, then bundled defaults (broken folders left out)."""
    return scan_models().models

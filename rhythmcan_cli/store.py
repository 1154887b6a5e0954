"""The model store: named model folders with a JSON card, sha256 checksums and atomic writes.

Layout under the store root (``RHYTHMCAN_HOME``, else ``platformdirs.user_data_dir("rhythmcan")``)::

    models/<name>/card.json              the ModelCard (JSON; data only, never pickle)
    models/<name>/generator/model.json   the generator as a TF.js layers model (see layers.py)
    models/<name>/generator/group1-shard1of1.bin
    models/.tmp-<pid>-<token>-<name>/     a write in progress (dot-prefixed: never listed)
    runs/<name>/                         training runs (checkpoints, metrics, the run lock)

Writes go to a temporary folder inside ``models/`` and are renamed into place, so a killed
process never leaves a listed model that cannot load. Every file's sha256 is kept in the card
and verified on load: a changed or missing file makes the model unusable with a clear error.
Default models shipped in the wheel live in ``rhythmcan_cli/bundled/<name>/`` with the same
layout.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar, Final

from rhythmcan_cli.atomic import (
    atomic_write,
    fsync_folder,
    output_error,
    pid_alive,
    replace_folder,
)
from rhythmcan_cli.errors import ModelError, StoreError
from rhythmcan_cli.formats.card_schema import KINDS, check_card
from rhythmcan_cli.formats.model_folder import (
    UnsafeFileError,
    parse_json,
    read_inside,
    remove_tree,
    sha256_inside,
    walk_tree,
)
from rhythmcan_cli.grid import CLASS_NAMES, DEFAULT_THRESHOLD, OUTPUT_PITCHES, STEPS

if TYPE_CHECKING:
    from rhythmcan_cli.engine import Generator
    from rhythmcan_cli.formats.layers_model import FileReader, LayersModel


DEFAULT_NAMES: Final[dict[str, str]] = {
    "can": "default-can",
    "cgan": "default-cgan",
    "classifier": "default-classifier",
}
"""The bundled default model for each kind ``default_model`` serves."""

CARD_FILE: Final = "card.json"
GENERATOR_JSON: Final = "generator/model.json"
BUNDLED_DIR: Path = Path(__file__).resolve().parent / "bundled"
"""Default models shipped in the wheel (a module global so tests can point it elsewhere)."""

_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LEFTOVER_RE: Final = re.compile(r"\.(tmp|old|rm)-(\d+)-")
_LEFTOVER_MAX_AGE_S: Final = 24 * 3600.0
_MAX_CARD_BYTES: Final = 4 * 1024 * 1024
_CHUNK: Final = 1 << 20


# --------------------------------------------------------------------------- paths


def store_root() -> Path:
    """The store root: ``RHYTHMCAN_HOME`` when set, else the user data dir."""
    home = os.environ.get("RHYTHMCAN_HOME")
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("rhythmcan"))


def models_dir() -> Path:
    """Folder holding one sub-folder per stored model."""
    return store_root() / "models"


def runs_dir() -> Path:
    """Folder holding one sub-folder per training run."""
    return store_root() / "runs"


def run_path(name: str) -> Path:
    """The run folder of training run ``name`` (not created)."""
    return runs_dir() / validate_name(name)


def validate_name(name: str) -> str:
    """Return ``name`` if it is a safe model name, else raise StoreError.

    1-64 characters from ``[A-Za-z0-9._-]``, starting with a letter or digit, without
    ``..``: a name can never be a path, hidden, or escape the store.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or ".." in name:
        raise StoreError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (no '/', no '..')"
        )
    return name


def _check_relpath(rel: str) -> str:
    """Return ``rel`` if it is a safe relative file path inside a model folder."""
    pure = PurePosixPath(rel)
    if (
        not rel
        or "\\" in rel
        or "\x00" in rel
        or pure.is_absolute()
        or any(part in ("", ".", "..") for part in rel.split("/"))
        or rel == CARD_FILE
    ):
        raise ModelError(
            f"invalid file name {rel!r} in a model: use a relative path inside the model"
        )
    return rel


# --------------------------------------------------------------------------- the card


@dataclass
class ModelCard:
    """What a stored model is: kind, genres in order, grid, sampling defaults, provenance.

    Serialised as ``card.json``. Unknown fields from newer versions are kept in ``extra`` and
    written back unchanged. ``files`` maps each file (relative path) to its sha256; save_model
    fills it in.
    """

    name: str
    kind: str
    genres: list[str] = field(default_factory=list)
    class_names: list[str] = field(default_factory=lambda: list(CLASS_NAMES))
    output_pitches: list[int] = field(default_factory=lambda: list(OUTPUT_PITCHES))
    steps: int = STEPS
    z_dim: int = 100
    z_sigma_train: float | None = 0.5
    """The z spread the generator was trained with; None: unknown (an imported file that
    does not say)."""
    z_sigma_sample: float = 1.0
    threshold: float = DEFAULT_THRESHOLD
    data_fingerprint: str = ""
    epochs: int | None = 0
    """Epochs trained; None: unknown (an imported file that does not say)."""
    final_losses: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    description: str = ""
    attribution: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    """How it was trained (TrainConfig, the seed and the held-out share): reproducibility,
    and the held-out files ``evaluate`` compares against."""
    files: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    REQUIRED: ClassVar[tuple[str, ...]] = ("name", "kind", "genres", "files")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; unknown fields from ``extra`` come last."""
        data: dict[str, Any] = {}
        for f in fields(self):
            if f.name != "extra":
                value = getattr(self, f.name)
                data[f.name] = (
                    dict(value)
                    if isinstance(value, dict)
                    else list(value)
                    if isinstance(value, list)
                    else value
                )
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        """Build a card from parsed JSON; ModelError when required fields are missing or
        any field breaks the one schema (card_schema.py: types and ranges)."""
        if not isinstance(data, Mapping):
            raise ModelError("model card is not a JSON object")
        missing = [key for key in cls.REQUIRED if key not in data]
        if missing:
            raise ModelError(f"model card lacks required field(s): {', '.join(missing)}")
        known = {f.name for f in fields(cls)} - {"extra"}
        values = check_card({key: data[key] for key in known if key in data})
        extra = {key: value for key, value in data.items() if key not in known}
        card = cls(**values, extra=extra)
        for rel in card.files:
            _check_relpath(rel)
        return card


# --------------------------------------------------------------------------- stored models


@dataclass
class StoredModel:
    """A model folder whose card was read and whose checksums were verified."""

    path: Path
    card: ModelCard
    bundled: bool = False

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

        reader = _verified_reader(self.path, self.card, self.name, GENERATOR_JSON.split("/")[0])
        return read_layers_model(self.path / GENERATOR_JSON, reader=reader)

    def verify(self, prefix: str = "") -> None:
        """Re-check the checksums of the files under ``prefix`` (all by default)."""
        _verify(self.path, self.card, self.name, prefix=prefix)


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


def _read_card(folder: Path, label: str) -> ModelCard:
    """The folder's card: a regular file (no link, FIFO or device), at most 4 MB, JSON
    nested at most MAX_JSON_DEPTH levels; ModelError for anything else."""
    try:
        raw = read_inside(folder, CARD_FILE, _MAX_CARD_BYTES, CARD_FILE)
    except FileNotFoundError as error:
        if not folder.exists():
            raise ModelError(f"model {label!r} vanished (removed by another command?)") from error
        raise ModelError(f"model {label!r} has no {CARD_FILE}: it is not a model folder") from error
    except UnsafeFileError as error:
        raise ModelError(f"model {label!r}: {error}") from None
    except OSError as error:
        raise ModelError(f"cannot read {folder / CARD_FILE}: {error.strerror or error}") from error
    try:
        return ModelCard.from_dict(parse_json(raw, CARD_FILE))
    except ModelError as error:
        raise ModelError(f"model {label!r}: {error}") from error


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


def _verify(folder: Path, card: ModelCard, label: str, *, prefix: str = "") -> None:
    """Check every listed file's sha256, and that no unlisted file sits in the folder.

    Files are opened inside the folder without following links (model_files). With
    ``prefix`` only the listed files under it are checked (no scan for extra files). The scan
    counts hidden files and links too: every file a model could read must be listed.
    """
    for rel, expected in card.files.items():
        if not rel.startswith(prefix):
            continue
        try:
            actual = sha256_inside(folder, rel)
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


def _verified_reader(folder: Path, card: ModelCard, label: str, base: str) -> FileReader:
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
            data = read_inside(folder, rel, cap, rel)
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


def _load(folder: Path, label: str, *, bundled: bool) -> StoredModel:
    card = _read_card(folder, label)
    _verify(folder, card, label)
    return StoredModel(path=folder, card=card, bundled=bundled)


def _store_folder(name: str) -> Path | None:
    folder = models_dir() / name
    return folder if folder.is_dir() else None


def _bundled_folder(name: str) -> Path | None:
    folder = BUNDLED_DIR / name
    return folder if (folder / CARD_FILE).is_file() else None


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
        for folder, bundled in ((_store_folder(text), False), (_bundled_folder(text), True)):
            if folder is not None:
                model = _load(folder, text, bundled=bundled)
                model.card.name = text  # the folder name is the name users type
                return model
    path = Path(text).expanduser()
    if path.is_file() and path.name == CARD_FILE:
        path = path.parent
    if path.is_dir() and (is_name is False or (path / CARD_FILE).is_file()):
        return _load(path, str(path), bundled=False)
    if is_name:
        raise ModelError(
            f"no model named {text!r}; see 'rhythmcan models list' "
            "(train one with 'rhythmcan train DATA_DIR --name NAME')"
        )
    raise ModelError(
        f"no model folder at {text}; give a model name or a folder holding {CARD_FILE}"
    )


def model_path(name: str) -> Path:
    """Folder of model ``name`` (store first, then bundled); ModelError when there is none."""
    validate_name(name)
    folder = _store_folder(name) or _bundled_folder(name)
    if folder is None:
        raise ModelError(f"no model named {name!r}; see 'rhythmcan models list'")
    return folder


def clean_leftovers() -> list[Path]:
    """Delete temp folders left in ``models/`` by killed processes; returns what was removed.

    A leftover belongs to a dead process (its pid is in the name) or is older than a day.
    Best effort: errors are ignored (another process may be cleaning at the same time).
    """
    root = models_dir()
    removed: list[Path] = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _LEFTOVER_RE.match(entry.name)
        if not match:
            continue
        try:
            age = now - entry.lstat().st_mtime
        except OSError:
            continue
        if pid_alive(int(match.group(2))) and age < _LEFTOVER_MAX_AGE_S:
            continue
        if entry.is_dir() and not entry.is_symlink():
            remove_tree(entry)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
        if not entry.exists():
            removed.append(entry)
    return removed


def scan_models() -> StoreListing:
    """Store models, then bundled defaults not shadowed by a store model; broken ones apart."""
    with contextlib.suppress(OSError):
        clean_leftovers()
    models: list[StoredModel] = []
    broken: list[BrokenModel] = []
    seen: set[str] = set()
    for root, bundled in ((models_dir(), False), (BUNDLED_DIR, True)):
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
                model = _load(entry, entry.name, bundled=bundled)
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


# --------------------------------------------------------------------------- writing


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


def _temp_name(kind: str, name: str) -> str:
    return f".{kind}-{os.getpid()}-{secrets.token_hex(4)}-{name}"


def _swap_in(temp: Path, dest: Path, name: str) -> None:
    """Put ``temp`` at ``dest``, replacing what is there; ``dest`` always holds a whole model."""
    remove_tree(replace_folder(temp, dest, dest.parent / _temp_name("old", name)))


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
        _check_relpath(rel)
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
    temp = root / _temp_name("tmp", name)
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
    folder = _store_folder(name)
    if folder is None:
        if _bundled_folder(name) is not None:
            raise StoreError(f"model {name!r} is a bundled default and cannot be removed")
        raise ModelError(f"no model named {name!r}; see 'rhythmcan models list'")
    aside = folder.parent / _temp_name("rm", name)
    try:
        os.rename(folder, aside)
    except FileNotFoundError as error:
        raise ModelError(f"no model named {name!r} (removed by another command?)") from error
    except OSError as error:
        raise StoreError(f"cannot remove model {name!r}: {error.strerror or error}") from error
    remove_tree(aside)
    return folder


# --------------------------------------------------------------------------- defaults


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
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or ".." in name:
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
    for folder, bundled in ((_store_folder(name), False), (_bundled_folder(name), True)):
        if folder is not None:
            model = _load(folder, name, bundled=bundled)
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
        folder = _bundled_folder(bundled_name)
        if folder is not None:
            return _load(folder, bundled_name, bundled=True)
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


# --------------------------------------------------------------------------- locks, versions


@contextlib.contextmanager
def run_lock(name: str) -> Iterator[Path]:
    """Hold the exclusive lock of training run ``name``; yields the run folder.

    A second holder (another process) gets StoreError at once instead of waiting.
    """
    import fcntl

    folder = run_path(name)
    lock_file = folder / ".lock"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise output_error(lock_file, error) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            try:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            except OSError:
                holder = "unknown"
            raise StoreError(
                f"a training run named {name!r} is already running (pid {holder}); "
                "wait for it or choose another --name"
            ) from error
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield folder
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


_VERSION_PACKAGES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("rhythmcan", ("rhythmcan",)),
    ("numpy", ("numpy",)),
    ("tensorflow", ("tensorflow", "tensorflow-cpu", "tensorflow-macos")),
    ("keras", ("keras",)),
    ("mido", ("mido",)),
)


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a model depends on (metadata only; no imports)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": ".".join(str(x) for x in sys.version_info[:3])}
    for label, dists in _VERSION_PACKAGES:
        for dist in dists:
            try:
                versions[label] = version(dist)
                break
            except PackageNotFoundError:
                continue
    return versions


__all__ = [
    "BUNDLED_DIR",
    "CARD_FILE",
    "DEFAULT_NAMES",
    "GENERATOR_JSON",
    "KINDS",
    "BrokenModel",
    "ModelCard",
    "StoreListing",
    "StoredModel",
    "clean_leftovers",
    "default_model",
    "list_models",
    "model_path",
    "models_dir",
    "open_model",
    "package_versions",
    "remove_model",
    "run_lock",
    "run_path",
    "runs_dir",
    "save_model",
    "scan_models",
    "set_default_model",
    "store_root",
    "validate_name",
]

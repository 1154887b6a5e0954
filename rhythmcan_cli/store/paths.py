"""Where the store lives and what its names may be: the store root (``RHYTHMCAN_HOME``, else
the platform's user data folder), ``models/``, ``runs/``, the bundled defaults, valid names,
and the temp folders killed writers leave behind (``.tmp-PID-…``, cleaned on the next listing).

``BUNDLED_DIR`` is read through this module at call time (tests point it elsewhere).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Final

from rhythmcan_cli.atomic import (
    pid_alive,
)
from rhythmcan_cli.errors import ModelError, StoreError
from rhythmcan_cli.formats.model_folder import (
    remove_tree,
)

if TYPE_CHECKING:
    pass


CARD_FILE: Final = "card.json"
BUNDLED_DIR: Path = Path(__file__).resolve().parent.parent / "bundled"
"""Default models shipped in the wheel (a module global so tests can point it elsewhere)."""


NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


_LEFTOVER_RE: Final = re.compile(r"\.(tmp|old|rm)-(\d+)-")


_LEFTOVER_MAX_AGE_S: Final = 24 * 3600.0


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
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name:
        raise StoreError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (no '/', no '..')"
        )
    return name


def check_relpath(rel: str) -> str:
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


def store_folder(name: str) -> Path | None:
    folder = models_dir() / name
    return folder if folder.is_dir() else None


def bundled_folder(name: str) -> Path | None:
    folder = BUNDLED_DIR / name
    return folder if (folder / CARD_FILE).is_file() else None


def model_path(name: str) -> Path:
    """Folder of model ``name`` (store first, then bundled); ModelError when there is none."""
    validate_name(name)
    folder = store_folder(name) or bundled_folder(name)
    if folder is None:
        raise ModelError(f"no model named {name!r}; see 'rhythmcan models list'")
    return folder


def temp_name(kind: str, name: str) -> str:
    return f".{kind}-{os.getpid()}-{secrets.token_hex(4)}-{name}"


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

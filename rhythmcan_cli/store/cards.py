"""The model card (``card.json``): what a stored model is, how it was trained, the sha256 of
every file; read with a bounded reader and checked against the one schema
(``formats/card_schema.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final

from rhythmcan_cli.errors import ModelError
from rhythmcan_cli.formats.card_schema import check_card
from rhythmcan_cli.formats.model_folder import (
    UnsafeFileError,
    parse_json,
    read_inside,
)
from rhythmcan_cli.grid import CLASS_NAMES, DEFAULT_THRESHOLD, OUTPUT_PITCHES, STEPS

if TYPE_CHECKING:
    pass
from rhythmcan_cli.store.paths import CARD_FILE, check_relpath
from rhythmcan_cli.vocabulary import ModelKind

GENERATOR_JSON: Final = "generator/model.json"


_MAX_CARD_BYTES: Final = 4 * 1024 * 1024


@dataclass
class ModelCard:
    """What a stored model is: kind, genres in order, grid, sampling defaults, provenance.

    Serialised as ``card.json``. Unknown fields from newer versions are kept in ``extra`` and
    written back unchanged. ``files`` maps each file (relative path) to its sha256; save_model
    fills it in.
    """

    name: str
    kind: ModelKind
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
            check_relpath(rel)
        return card


def read_card(folder: Path, label: str, *, hard_links: bool = True) -> ModelCard:
    """The folder's card: a regular file (no link, FIFO or device), at most 4 MB, JSON
    nested at most MAX_JSON_DEPTH levels; ModelError for anything else."""
    try:
        raw = read_inside(folder, CARD_FILE, _MAX_CARD_BYTES, CARD_FILE, hard_links=hard_links)
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

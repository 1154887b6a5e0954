"""One schema for what a model says about itself: ``card.json`` fields and export metadata.

A card or a TF.js export's metadata comes from anywhere, and every later command trusts it:
``"z_sigma": "nan"`` made every ``sample`` crash, ``"threshold": 5`` made every ``sample``
blame the user, ``"genres": "rock"`` became the genres ``r, o, c, k``. So each field is
checked here, once, for type *and* range (finite numbers, pitches 0..127, unique names)
before a card is built, stored or imported, wherever the values come from: ``ModelCard``
(store/cards.py), ``save_model``, and ``models import`` (the metadata inside ``model.json`` or an
older ``rhythmcan.json``). Errors are one-line ``ModelError``s naming the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from rhythmcan_cli.errors import ModelError
from rhythmcan_cli.grid import N_CLASSES, STEPS
from rhythmcan_cli.vocabulary import GENERATOR_KINDS, KINDS

MAX_GENRES: Final = 1000
MAX_LABEL_CHARS: Final = 200
"""Longest genre or drum-class name."""
MAX_TEXT_CHARS: Final = 10_000
"""Longest free text (description, attribution, created, fingerprint)."""
MAX_Z_DIM: Final = 4096
MAX_Z_SIGMA: Final = 100.0

_SHA256: Final = re.compile(r"[0-9a-fA-F]{64}")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(limit: int) -> tuple[str, Callable[[Any], bool]]:
    return (
        f"a string of at most {limit:,} characters",
        lambda v: isinstance(v, str) and len(v) <= limit,
    )


def _labels(value: Any, count: int | None) -> bool:
    """A list of distinct, non-empty, short names without control characters."""
    if not isinstance(value, list) or (count is not None and len(value) != count):
        return False
    if len(value) > MAX_GENRES or len(set(map(str, value))) != len(value):
        return False
    return all(
        isinstance(v, str) and v.strip() and len(v) <= MAX_LABEL_CHARS and not _CONTROL.search(v)
        for v in value
    )


def _positive_sigma(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value) and 0.0 < value <= MAX_Z_SIGMA


def _map_of(value: Any, ok: Callable[[Any], bool]) -> bool:
    return (
        isinstance(value, dict)
        and all(isinstance(k, str) and len(k) <= MAX_LABEL_CHARS for k in value)
        and all(ok(v) for v in value.values())
    )


_FIELDS: Final[dict[str, tuple[str, Callable[[Any], bool]]]] = {
    "name": _text(MAX_LABEL_CHARS),
    "kind": (f"one of {', '.join(KINDS)}", lambda v: v in KINDS),
    "genres": (
        f"a list of at most {MAX_GENRES} distinct genre names (no control characters)",
        lambda v: _labels(v, None),
    ),
    "class_names": (
        f"a list of {N_CLASSES} distinct drum names",
        lambda v: _labels(v, N_CLASSES),
    ),
    "output_pitches": (
        f"a list of {N_CLASSES} MIDI pitches (integers 0-127)",
        lambda v: (
            isinstance(v, list)
            and len(v) == N_CLASSES
            and all(_is_int(p) and 0 <= p <= 127 for p in v)
        ),
    ),
    "steps": (f"{STEPS} (the grid's steps)", lambda v: _is_int(v) and v == STEPS),
    "z_dim": (f"an integer from 1 to {MAX_Z_DIM}", lambda v: _is_int(v) and 1 <= v <= MAX_Z_DIM),
    "z_sigma_train": (
        f"a number in (0, {MAX_Z_SIGMA:g}] or null (unknown)",
        lambda v: v is None or _positive_sigma(v),
    ),
    "z_sigma_sample": (f"a number in (0, {MAX_Z_SIGMA:g}]", _positive_sigma),
    "threshold": (
        "a number from 0 to 1 (as grid.check_threshold)",
        lambda v: _is_number(v) and math.isfinite(v) and 0.0 <= v <= 1.0,
    ),
    "data_fingerprint": _text(MAX_TEXT_CHARS),
    "epochs": (
        "a non-negative integer or null (unknown)",
        lambda v: v is None or (_is_int(v) and v >= 0),
    ),
    "final_losses": (
        "an object of numbers (or null)",
        lambda v: _map_of(v, lambda x: x is None or _is_number(x)),
    ),
    "versions": (
        "an object of strings",
        lambda v: _map_of(v, lambda x: isinstance(x, str) and len(x) <= MAX_TEXT_CHARS),
    ),
    "created": _text(MAX_TEXT_CHARS),
    "description": _text(MAX_TEXT_CHARS),
    "attribution": _text(MAX_TEXT_CHARS),
    "training": ("an object", lambda v: isinstance(v, dict)),
    "files": (
        "an object of sha256 strings",
        lambda v: _map_of(v, lambda x: isinstance(x, str) and bool(_SHA256.fullmatch(x))),
    ),
}
"""Every card field: what it must be (for the message) and the check."""

CARD_FIELDS: Final = tuple(_FIELDS)

METADATA_FIELDS: Final[dict[str, str]] = {
    "name": "name",
    "kind": "kind",
    "genres": "genres",
    "class_names": "class_names",
    "output_pitches": "output_pitches",
    "steps": "steps",
    "z_dim": "z_dim",
    "z_sigma": "z_sigma_sample",
    "z_sigma_train": "z_sigma_train",
    "epochs": "epochs",
    "threshold": "threshold",
    "description": "description",
    "attribution": "attribution",
}
"""Export metadata key -> the card field it fills (the export calls z_sigma_sample z_sigma)."""


def check_field(field: str, value: Any, where: str = "model card") -> Any:
    """``value`` for card field ``field`` (numbers as float where the card keeps floats), or
    a one-line ModelError naming the field and what it must be."""
    what, ok = _FIELDS[field]
    if not ok(value):
        raise ModelError(f"{where}: field {field!r} must be {what}, got {_short(value)}")
    if field in ("z_sigma_train", "z_sigma_sample", "threshold"):
        return None if value is None else float(value)
    if field == "final_losses":
        return {k: (math.nan if x is None else float(x)) for k, x in value.items()}
    return value


def check_options(values: Mapping[str, Any]) -> None:
    """Check card facts given as command options (``train``) before any work starts, so a
    run is never refused when its model is saved; UsageError names the field."""
    from rhythmcan_cli.errors import UsageError

    for field, value in values.items():
        try:
            check_field(field, value, "option")
        except ModelError as error:
            raise UsageError(str(error)) from None


def check_card(data: Mapping[str, Any], where: str = "model card") -> dict[str, Any]:
    """The known card fields of ``data``, each checked; unknown keys are left out."""
    return {key: check_field(key, data[key], where) for key in CARD_FIELDS if key in data}


def check_metadata(meta: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Export metadata (``userDefinedMetadata.rhythmcan`` or ``rhythmcan.json``) as checked
    card fields (``z_sigma`` -> ``z_sigma_sample``); other keys (format, inputs, device
    menu...) are not card facts and are left out. ``null`` counts as absent."""
    checked: dict[str, Any] = {}
    for key, field in METADATA_FIELDS.items():
        if meta.get(key) is not None:
            checked[field] = check_field(field, meta[key], where)
    if meta.get("kind") is not None and checked["kind"] not in GENERATOR_KINDS:
        raise ModelError(
            f"{where}: field 'kind' must be one of {', '.join(GENERATOR_KINDS)} for a "
            f"generator, got {_short(meta['kind'])}"
        )
    return checked

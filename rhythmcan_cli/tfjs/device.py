"""The Max for Live RhythmCAN device's fixed facts, and fitting a conditional export to them.

The released device (naotokui/M4L-CreativeGAN-Rhythm) has a genre menu fixed to the 2020
model's seven genres: its items send ids 0..6, and "None" sends -1, which passes z alone
(a conditional model then fails to run, and the device stops generating). A rhythmcan
conditional model has its own genres, so an export chooses which of them sit behind the
seven menu items ("device genre slots"): the genre embedding is re-sliced so that row ``i``
is the genre behind menu item ``i``. Its drum rows 4-8 play MIDI notes 41, 45, 48, 39 (clap)
and 37 (rim) where rhythmcan writes toms 45, 47, 50, crash 49 and ride 51.

Pure data and numpy; no TensorFlow.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Final

from rhythmcan_cli.errors import ModelError, UsageError
from rhythmcan_cli.formats.layers_model import LayersModel

DEVICE_MENU: Final[tuple[str, ...]] = (
    "Old Skool",
    "DnB",
    "Jungle",
    "House",
    "Breakbeat",
    "Garage",
    "Techno",
)
"""The device's genre menu, in id order (item ``i`` sends genre id ``i``)."""
DEVICE_NONE: Final = "None"
"""The menu item that sends id -1 (z only): it stops the device with a conditional model."""
DEVICE_Z_DIM: Final = 100
"""The device draws z of this size (N(0, 1)); other z sizes do not run there."""


def device_slots(genres: Sequence[str], chosen: Sequence[str] | None) -> list[int]:
    """Indices into ``genres`` of the genres behind menu items 0, 1, ...

    ``chosen`` (at most 7 distinct names of ``genres``) puts them in the menu's order;
    ``None`` keeps the model's own order (its first 7 genres reach the menu).
    Raises UsageError naming what is wrong.
    """
    if chosen is None:
        return list(range(min(len(genres), len(DEVICE_MENU))))
    names = [name.strip() for name in chosen]
    if not names or any(not name for name in names):
        raise UsageError("--device-genres needs genre names separated by commas, e.g. rock,funk")
    if len(names) > len(DEVICE_MENU):
        raise UsageError(
            f"--device-genres takes at most {len(DEVICE_MENU)} genres (the device's menu has "
            f"{len(DEVICE_MENU)} items), got {len(names)}"
        )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UsageError(f"--device-genres names {', '.join(duplicates)} more than once")
    unknown = [name for name in names if name not in genres]
    if unknown:
        raise UsageError(
            f"--device-genres: {', '.join(unknown)} is not a genre of this model "
            f"(its genres: {', '.join(genres)})"
        )
    return [list(genres).index(name) for name in names]


def device_menu(slot_genres: Sequence[str]) -> list[dict[str, Any]]:
    """Menu item -> genre rows: ``{"item", "id", "genre"}``; ``genre`` None where unused.

    The last row is "None" (id -1), which has no genre.
    """
    rows: list[dict[str, Any]] = [
        {"item": item, "id": i, "genre": slot_genres[i] if i < len(slot_genres) else None}
        for i, item in enumerate(DEVICE_MENU)
    ]
    rows.append({"item": DEVICE_NONE, "id": -1, "genre": None})
    return rows


def select_genres(lm: LayersModel, indices: Sequence[int]) -> LayersModel:
    """A copy of a conditional generator whose genre ids ``0..len(indices)-1`` are the
    genres ``indices`` of ``lm`` (the embedding rows re-sliced; everything else shared).

    Raises ModelError when ``lm`` has not exactly one Embedding layer.
    """
    embeddings = [entry for entry in lm.layers if entry.get("class_name") == "Embedding"]
    if len(embeddings) != 1:
        raise ModelError(
            f"cannot choose device genres: the model has {len(embeddings)} genre embeddings, "
            "rhythmcan handles exactly one"
        )
    layer_name = str(embeddings[0]["name"])
    key = f"{layer_name}/embeddings"
    table = lm.weights.get(key)
    if table is None or table.ndim != 2:
        raise ModelError(f"cannot choose device genres: weight {key} is missing")
    topology = copy.deepcopy(lm.topology)
    for entry in topology["config"]["layers"]:
        if entry.get("name") == layer_name:
            entry["config"]["input_dim"] = len(indices)
    weights = dict(lm.weights)
    weights[key] = table[list(indices)].copy()
    return LayersModel(topology=topology, weights=weights, user_metadata=dict(lm.user_metadata))

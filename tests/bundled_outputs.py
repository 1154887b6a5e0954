"""Stored outputs of the bundled generators: fixed z (and genres) -> the numpy engine's patterns.

``tests/engine/test_bundled_outputs.py`` compares the engine's output for every generator bundled in
the package with ``tests/data/bundled_outputs.json`` at ``TOLERANCE``, so a silent change to a
shipped model (or to how the engine runs it) fails. When a model is re-bundled on purpose,
regenerate the file from the repository root and commit it with the model::

    .venv/bin/python -m tests.bundled_outputs

Each model's entry keeps the sha256 of its files (from its card), so a failure can tell a
re-bundled model from a changed engine. z is drawn from ``SEED`` at the card's sampling
sigma and stored rounded (the stored z is the input, not the seed); a conditional model gets
one row per genre, a plain one ``ROWS`` rows. The JSON holds numbers only (no pickle).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rhythmcan_cli import store
from rhythmcan_cli.store import paths as store_paths

PATH = Path(__file__).resolve().parent / "data" / "bundled_outputs.json"
TOLERANCE = 1e-5
SEED = 2020
ROWS = 4
UPDATE = "python -m tests.bundled_outputs"


def bundled_generators() -> list[store.StoredModel]:
    """Every model bundled in the package that has a generator, by name (checksums verified)."""
    found = []
    for folder in sorted(store_paths.BUNDLED_DIR.iterdir()):
        if (folder / store.CARD_FILE).is_file():
            model = store.open_model(folder)
            if store.GENERATOR_JSON in model.card.files:
                found.append(model)
    return found


def run(model: store.StoredModel, z: np.ndarray, genres: list[int] | None) -> np.ndarray:
    """The numpy engine's patterns for ``z`` (and genre ids), as ``sample`` computes them."""
    return model.generator().generate(z, genres=genres)


def entry(model: store.StoredModel) -> dict[str, Any]:
    """A fresh stored entry for ``model``: its file digests, z, genres and output values."""
    rng = np.random.default_rng(SEED)
    n_genres = len(model.card.genres) if model.card.kind == "cgan" else 0
    rows = n_genres or ROWS
    z = np.round(rng.normal(0.0, model.card.z_sigma_sample, (rows, model.card.z_dim)), 4)
    genres = list(range(n_genres)) if n_genres else None
    values = run(model, z.astype(np.float32), genres)
    return {
        "kind": model.card.kind,
        "files": dict(sorted(model.card.files.items())),
        "z": z.tolist(),
        "genres": genres,
        "values": np.round(values.astype(np.float64), 6).tolist(),
    }


def read() -> dict[str, dict[str, Any]]:
    """The stored entries by model name."""
    data: dict[str, dict[str, Any]] = json.loads(PATH.read_text(encoding="utf-8"))["models"]
    return data


def write(models: list[store.StoredModel]) -> Path:
    """Store fresh entries for ``models`` (replacing the file) and return its path."""
    data = {
        "about": f"numpy-engine outputs of the bundled generators; regenerate: {UPDATE}",
        "tolerance": TOLERANCE,
        "models": {model.name: entry(model) for model in models},
    }
    PATH.parent.mkdir(parents=True, exist_ok=True)
    PATH.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    return PATH


if __name__ == "__main__":
    print(f"wrote {write(bundled_generators())}")

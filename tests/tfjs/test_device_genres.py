"""export-tfjs --device-genres: which genre each Max for Live menu item plays.

The device's genre menu is fixed (Old Skool, DnB, Jungle, House, Breakbeat, Garage, Techno =
ids 0-6, None = -1); an export re-slices the genre embedding so ids 0.. are the chosen genres.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rhythmcan_cli.cli.app import app
from rhythmcan_cli.engine import Generator
from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.formats.layers_model import read_layers_model
from rhythmcan_cli.tfjs.device import DEVICE_MENU, device_menu, device_slots
from rhythmcan_cli.tfjs.exchange import (
    export_metadata,
    export_tfjs,
    import_model,
    menu_lines,
)
from tests.helpers import make_stored_model

NINE = ("afrobeat", "afrocuban", "funk", "hiphop", "jazz", "latin", "neworleans", "rock", "soul")


def test_device_genre_ids_play_the_chosen_genres(tmp_path: Path) -> None:
    model = make_stored_model("nine", kind="cgan", genres=NINE, seed=4)
    chosen = ["rock", "soul", "funk"]
    export_tfjs(model, tmp_path, device_genres=chosen)
    exported = Generator.from_layers_model(read_layers_model(tmp_path / "model.json"))
    assert exported.n_genres == 3
    original = model.generator()
    z = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    np.testing.assert_array_equal(
        exported.generate(z, genres=[0, 1, 2]),
        original.generate(z, genres=[NINE.index(g) for g in chosen]),
    )
    meta = export_metadata(tmp_path / "model.json")
    assert meta is not None and meta["genres"] == chosen and meta["n_genres"] == 3
    menu = {row["item"]: row["genre"] for row in meta["device_menu"]}
    assert menu == {
        "Old Skool": "rock",
        "DnB": "soul",
        "Jungle": "funk",
        "House": None,
        "Breakbeat": None,
        "Garage": None,
        "Techno": None,
        "None": None,
    }
    # Importing the export gives back a model whose genre ids are the device's.
    copy = import_model(tmp_path, name="copy")
    assert copy.card.genres == chosen


def test_without_device_genres_the_first_seven_reach_the_menu() -> None:
    model = make_stored_model("nine", kind="cgan", genres=NINE)
    assert device_slots(NINE, None) == list(range(7))
    rows = device_menu(NINE[:7])
    assert [row["item"] for row in rows] == [*DEVICE_MENU, "None"]
    assert [row["id"] for row in rows] == [0, 1, 2, 3, 4, 5, 6, -1]
    assert model.card.genres == list(NINE)


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        (["rock", "pop"], "pop is not a genre of this model"),
        (["rock", "rock"], "names rock more than once"),
        (list(NINE[:8]), "at most 7 genres"),
        (["rock", ""], "needs genre names"),
    ],
)
def test_bad_device_genres_are_usage_errors(chosen: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        device_slots(NINE, chosen)


def test_device_genres_need_a_conditional_model(tmp_path: Path) -> None:
    model = make_stored_model("plain")
    with pytest.raises(UsageError, match="needs a conditional"):
        export_tfjs(model, tmp_path, device_genres=["funk"])
    assert not any(tmp_path.iterdir())


def test_cli_prints_the_menu_table_for_conditional_models(tmp_path: Path) -> None:
    make_stored_model("nine", kind="cgan", genres=NINE)
    make_stored_model("plain")
    runner = CliRunner()
    result = runner.invoke(app, ["export-tfjs", "nine", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert any(line.split() == ["Old", "Skool", "id", "0", "afrobeat"] for line in lines)
    assert any(line.split() == ["Techno", "id", "6", "neworleans"] for line in lines)
    assert any("None" in line and "stops the released device" in line for line in lines)
    assert any("not on the menu: rock, soul" in line for line in lines)
    chosen = runner.invoke(
        app, ["export-tfjs", "nine", str(tmp_path / "b"), "--device-genres", "soul, rock"]
    )
    assert chosen.exit_code == 0, chosen.output
    assert any(
        line.split() == ["Old", "Skool", "id", "0", "soul"] for line in chosen.stderr.splitlines()
    )
    assert any(line.split() == ["DnB", "id", "1", "rock"] for line in chosen.stderr.splitlines())
    assert "not on the menu: afrobeat, afrocuban, funk, hiphop, jazz, latin, neworleans" in (
        chosen.stderr
    )
    meta = json.loads((tmp_path / "b" / "model.json").read_text())["userDefinedMetadata"]
    assert meta["rhythmcan"]["genres"] == ["soul", "rock"]
    plain = runner.invoke(app, ["export-tfjs", "plain", str(tmp_path / "c")])
    assert plain.exit_code == 0 and "genre menu" not in plain.stderr
    assert "device draws z of size 100; this model takes 8" in plain.stderr
    bad = runner.invoke(app, ["export-tfjs", "nine", str(tmp_path / "d"), "--device-genres", "pop"])
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1
    assert not (tmp_path / "d").exists()
    assert menu_lines({}) == [] and menu_lines({"z_dim": 100}) == []

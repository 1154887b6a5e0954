"""The Max for Live device's side, without Max: a device-style script under Node + TF.js 1.5.2.

``tests/tfjs/device_generator.js`` is written from the device's documented message protocol
(``loadmodel``, ``generate threshold genre``, ``generate_with_last_z noise threshold genre``;
``matrix_output step drum 1`` and ``seq_output drum "v1 ... v32"`` out) and runs with a
stand-in ``max-api`` that records what it sends (``tests/tfjs/modules/max-api``). The messages
for exports of the bundled models must equal what the numpy engine gives for the same z.
Skips with the reason when node or TF.js 1.5.2 (``scripts/test`` installs both) is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rhythmcan_cli import store
from rhythmcan_cli.engine import Generator
from rhythmcan_cli.formats.layers_model import read_layers_model
from rhythmcan_cli.tfjs.device import DEVICE_Z_DIM
from rhythmcan_cli.tfjs.exchange import export_tfjs
from tests.conftest import ROOT
from tests.helpers import make_stored_model

TFJS = ROOT / ".tfjs" / "1.5.2" / "node_modules"
DRIVER = ROOT / "tests" / "tfjs" / "run_device.js"
STANDIN = ROOT / "tests" / "tfjs" / "modules"
NEAR = 1e-4  # float32 differences between TF.js and numpy stay far below this


def run_device(messages: list[dict[str, Any]], tmp: Path) -> dict[str, Any]:
    """Send ``messages`` to the device-style script; its replies (outlet calls) per message."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (scripts/test installs nodejs)")
    if not (TFJS / "@tensorflow" / "tfjs").is_dir():
        pytest.skip(f"TF.js 1.5.2 is not installed in {TFJS} (run scripts/test)")
    script = tmp / "messages.json"
    script.write_text(json.dumps({"messages": messages}))
    env = dict(os.environ, NODE_PATH=f"{STANDIN}{os.pathsep}{TFJS}")
    done = subprocess.run(
        [node, str(DRIVER), str(script)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    assert result["version"] == "1.5.2"
    return result


def decode(replies: list[list[Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(hits from matrix_output, velocities from seq_output), both (32, 9)."""
    hits = np.zeros((32, 9), dtype=bool)
    velocities = np.full((32, 9), -1, dtype=int)
    for message in replies:
        if message[0] == "matrix_output":
            step, drum, on = message[1:]
            assert on == 1
            hits[step, drum] = True
        elif message[0] == "seq_output":
            drum, text = message[1:]
            row = [int(v) for v in text.split(" ")]
            assert len(row) == 32
            velocities[:, drum] = row
    assert (velocities >= 0).all(), "a drum row had no seq_output"
    return hits, velocities


def assert_messages_match(replies: list[list[Any]], values: np.ndarray, threshold: float) -> None:
    """The device messages for one pattern equal the numpy engine's ``values`` (32, 9)."""
    assert [m[0] for m in replies].count("seq_output") == 9
    hits, velocities = decode(replies)
    np.testing.assert_array_equal(hits, velocities > 0)  # the two outputs agree
    sure = np.abs(values - threshold) > NEAR
    np.testing.assert_array_equal(hits[sure], (values > threshold)[sure])
    expected = np.where(values > threshold, np.floor(values * 127), 0).astype(int)
    scaled = values * 127
    exact = sure & (np.abs(scaled - np.round(scaled)) > NEAR * 127)
    np.testing.assert_array_equal(velocities[exact], expected[exact])
    assert np.abs(velocities - expected).max() <= 1
    assert hits.sum() > 0


def _normals(seed: int, count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=DEVICE_Z_DIM).astype(np.float32) for _ in range(count)]


@pytest.mark.bundled
@pytest.mark.parametrize(
    ("name", "device_genres", "genre"),
    [
        ("default-can", None, -1),  # z only: the menu's "None"
        ("default-cgan", None, 3),  # the model's own order: id 3 = hiphop
        ("default-cgan", ["rock", "soul", "funk"], 1),  # DnB plays soul
    ],
)
def test_device_script_sends_the_numpy_engines_pattern(
    tmp_path: Path, name: str, device_genres: list[str] | None, genre: int
) -> None:
    model = store.open_model(name)
    export_tfjs(model, tmp_path / "export", device_genres=device_genres)
    model_json = tmp_path / "export" / "model.json"
    z1, z2, noise = _normals(21, 3)
    threshold, amount = 0.2, 0.3
    result = run_device(
        [
            {"send": ["loadmodel", str(model_json)]},
            {"send": ["generate", threshold, genre], "normals": [z1.tolist()]},
            {"send": ["generate", 0.35, genre], "normals": [z2.tolist()]},
            {
                "send": ["generate_with_last_z", amount, threshold, genre],
                "normals": [noise.tolist()],
            },
        ],
        tmp_path,
    )
    loaded, first, second, varied = result["replies"]
    assert loaded == [["model_loaded", 1]], result["posts"]
    # The numpy engine on the stored model, with the genre the menu id stands for.
    genres = None
    if genre >= 0:
        chosen = device_genres or model.card.genres
        genres = [model.card.genres.index(chosen[genre])]
    engine = model.generator()
    z_varied = z2 + np.float32(amount) * noise  # around the last z, which stays put
    values = engine.generate(np.stack([z1, z2, z_varied]), None if genres is None else genres * 3)
    assert_messages_match(first, values[0], threshold)
    assert_messages_match(second, values[1], 0.35)
    assert_messages_match(varied, values[2], threshold)
    assert result["posts"] == []
    # And the export itself maps the ids the same way.
    exported = Generator.from_layers_model(read_layers_model(model_json))
    np.testing.assert_allclose(
        exported.generate(z1[None], None if genre < 0 else [genre])[0], values[0], atol=1e-6
    )


def test_device_script_reports_what_the_device_cannot_do(tmp_path: Path) -> None:
    """ "None" (-1) with a conditional model, a genre with a z-only model, a bad file: errors
    the script reports (the released device stops there), never a crash."""
    cond = make_stored_model("c", kind="cgan", genres=("a", "b"))
    plain = make_stored_model("p")
    export_tfjs(cond, tmp_path / "c")
    export_tfjs(plain, tmp_path / "p")
    (tmp_path / "bad.json").write_text('{"format": "rhythmcan-generator"}')
    z = [0.0] * DEVICE_Z_DIM
    result = run_device(
        [
            {"send": ["generate", 0.2, 0]},
            {"send": ["loadmodel", str(tmp_path / "bad.json")]},
            {"send": ["loadmodel", str(tmp_path / "c" / "model.json")]},
            {"send": ["generate", 0.2, -1], "normals": [z]},
            {"send": ["loadmodel", str(tmp_path / "p" / "model.json")]},
            {"send": ["generate", 0.2, 2], "normals": [z]},
        ],
        tmp_path,
    )
    replies = result["replies"]
    assert replies[0] == [["error", "no model loaded"]]
    assert replies[1][-1] == ["model_loaded", 0] and replies[1][0][0] == "error"
    assert replies[2] == [["model_loaded", 1]]
    assert len(replies[3]) == 1 and replies[3][0][0] == "error"  # None + conditional model
    assert replies[4] == [["model_loaded", 1]]
    assert len(replies[5]) == 1 and replies[5][0][0] == "error"  # a genre + z-only model
    assert len(result["posts"]) == 4

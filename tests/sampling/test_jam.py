"""`rhythmcan jam`: the rules (keys, bar-line switches, locks, undo, saving), the looping
player, and the real thing driven through tmux (keys sent, pane captured)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rhythmcan_cli.cli.jam import Loop, grid_lines
from rhythmcan_cli.errors import DataError
from rhythmcan_cli.sampling.jam import Jam
from rhythmcan_cli.sampling.patterns import read_patterns
from rhythmcan_cli.sampling.sample import sample
from rhythmcan_cli.store import StoredModel
from tests.conftest import subprocess_env
from tests.helpers import make_stored_model, need_sounddevice

NULL_SINK = 'pcm.!default { type plug; slave.pcm "null" }\n'


@pytest.fixture
def model() -> StoredModel:
    return make_stored_model("tiny-can", kind="can")


def test_keys_queue_changes_that_start_when_the_player_switches(model: StoredModel) -> None:
    jam = Jam(model, seed=5, threshold=0.3)
    first = jam.playing
    assert jam.press("n") == "new" and jam.playing is first  # queued, not playing yet
    assert jam.press(">") == "tempo up"  # builds on the queued state
    newest = jam.latest
    assert newest.bpm == first.bpm + 5 and newest.pattern is not first.pattern
    assert not jam.now_playing(first.version)
    assert jam.now_playing(newest.version) and jam.playing is newest and not jam.pending
    assert jam.press("-") == "threshold down"
    jam.now_playing(jam.latest.version)
    assert jam.playing.threshold == pytest.approx(0.25)
    jam.press("u")  # undo: back to the state before the threshold change
    jam.now_playing(jam.latest.version)
    assert jam.playing.threshold == pytest.approx(0.3) and jam.playing.pattern is newest.pattern
    assert jam.press("x") is None and jam.press("q") == "quit"


def test_locked_voices_stay_exactly_through_new_patterns_and_variations(model: StoredModel) -> None:
    jam = Jam(model, seed=9, threshold=0.3)
    jam.press("1")
    jam.press("2")
    jam.now_playing(jam.latest.version)
    before = jam.playing.pattern.values
    for key in "nv":
        jam.press(key)
        jam.now_playing(jam.latest.version)
        after = jam.playing.pattern.values
        assert np.array_equal(after[:, :2], before[:, :2])
        assert not np.array_equal(after[:, 2:], before[:, 2:])
    assert "*kick" in grid_lines(jam.playing, 0)[0].replace("1*", "*")


def test_genre_steps_through_a_conditional_models_genres(tmp_path: Path) -> None:
    cgan = make_stored_model("tiny-cgan", kind="cgan", genres=("funk", "rock"))
    jam = Jam(cgan, seed=2)
    assert jam.playing.genre == "funk"
    jam.press("g")
    jam.now_playing(jam.latest.version)
    assert jam.playing.genre == "rock" and jam.playing.pattern.genre == "rock"
    assert jam.playing.previous is not None
    assert np.array_equal(jam.playing.pattern.z, jam.playing.previous.pattern.z)


def test_save_numbers_files_never_overwrites_and_records_z(
    model: StoredModel, tmp_path: Path
) -> None:
    jam = Jam(model, seed=4, threshold=0.25)
    (tmp_path / "jam-001.mid").write_bytes(b"mine")
    path, line = jam.save(tmp_path)
    assert path.name == "jam-002.mid" and (tmp_path / "jam-001.mid").read_bytes() == b"mine"
    assert "seed 4" in line and "jam-002.json" in line
    assert jam.save(tmp_path)[0].name == "jam-003.mid"
    saved = read_patterns(tmp_path / "jam-002.json")[0]
    again = sample(model, n=1, vary=saved, noise=0.0, threshold=0.25)[0]
    assert np.allclose(again.values, saved.values, atol=5e-5)  # the z makes the same pattern
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(DataError, match="cannot save into"):  # the jam shows it and plays on
        jam.save(blocker)


def test_the_player_switches_only_at_a_bar_line() -> None:
    first = np.full((1000, 2), 1, dtype=np.int16)
    loop = Loop(first, 0)
    loop.advance(100)
    loop.queue(np.full((800, 2), 2, dtype=np.int16), 1)
    out = np.zeros((500, 2), dtype=np.int16)
    loop.advance(500, out)  # frames 100..499 of the old loop, then the new one from 0
    assert loop.version == 1
    assert np.all(out[:400] == 1) and np.all(out[400:] == 2)
    assert loop.position == 100 and loop.step == 4


def tmux_run(tmp_path: Path, args: list[str], keys: list[str], env: dict[str, str]) -> str:
    """Run ``rhythmcan jam ARGS`` in a private tmux server, send ``keys``, return the pane."""
    socket = f"rhythmcan-test-{tmp_path.name}"
    tmux = ["tmux", "-L", socket]
    env_args = " ".join(
        f"{k}={v}"
        for k, v in env.items()
        if k in ("RHYTHMCAN_HOME", "PYTHONPATH", "HOME", "RHYTHMCAN_SYNTH")
    )
    jam = f"{sys.executable} -m rhythmcan_cli jam {' '.join(args)}"
    command = f"env {env_args} {jam}; echo EXIT=$?; sleep 60"
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "t", "-x", "110", "-y", "30", command], check=True
    )
    try:
        pane = ""
        for _ in range(120):  # wait for the first screen (model load, first render)
            pane = subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True
            ).stdout
            if "rhythmcan jam" in pane:
                break
            time.sleep(0.25)
        assert "rhythmcan jam" in pane, pane
        for key in keys:
            if key.startswith("wait:"):
                time.sleep(float(key[5:]))
                continue
            subprocess.run([*tmux, "send-keys", "-t", "t", key], check=True)
            time.sleep(0.6)
        for _ in range(40):
            pane = subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True
            ).stdout
            if "EXIT=" in pane:
                break
            time.sleep(0.25)
        flags = subprocess.run(
            [*tmux, "display", "-p", "-t", "t", "#{alternate_on} #{cursor_flag}"],
            capture_output=True,
            text=True,
        ).stdout.split()
        return pane + f"\nFLAGS={' '.join(flags)}"
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)


needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


@needs_tmux
def test_jam_in_tmux_keys_grid_save_and_a_clean_quit(model: StoredModel, tmp_path: Path) -> None:
    out = tmp_path / "jams"
    pane = tmux_run(
        tmp_path,
        [
            "-m",
            "tiny-can",
            "--seed",
            "7",
            "--no-audio",
            "--bpm",
            "240",
            "-t",
            "0.3",
            "-o",
            str(out),
        ],
        ["1", "wait:1.5", "s", "n", "wait:1.5", "s", "q"],
        subprocess_env(),
    )
    assert "EXIT=0" in pane, pane
    assert "FLAGS=0 1" in pane  # alternate screen left, cursor visible again
    assert sorted(p.name for p in out.iterdir()) == [
        "jam-001.json",
        "jam-001.mid",
        "jam-002.json",
        "jam-002.mid",
    ]
    assert "saved jam-001.mid: model tiny-can seed 7" in pane
    assert "saved jam-002.mid: model tiny-can seed 8" in pane
    first = read_patterns(out / "jam-001.json")[0]
    second = read_patterns(out / "jam-002.json")[0]
    assert np.array_equal(first.values[:, 0], second.values[:, 0])  # the kick was locked
    assert "jam over: last pattern seed 8 (2 saved)" in pane


@needs_tmux
def test_jam_plays_into_a_null_sink_and_ctrl_c_leaves_a_clean_terminal(
    model: StoredModel, tmp_path: Path
) -> None:
    need_sounddevice()
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(NULL_SINK)
    env = subprocess_env(HOME=str(home), RHYTHMCAN_SYNTH="builtin")
    pane = tmux_run(
        tmp_path, ["-m", "tiny-can", "--seed", "3", "--bpm", "200"], ["v", "wait:3", "C-c"], env
    )
    assert "EXIT=130" in pane, pane
    assert "FLAGS=0 1" in pane
    assert "jam over: last pattern seed 4 (0 saved); sounddevice: 0 audio underruns" in pane

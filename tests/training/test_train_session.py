"""Training and evaluating as a user runs them: from a terminal or into a log file.

Subprocesses of the real entry point on small synthetic MIDI folders: progress that a log
shows while the run goes on and a terminal shows at 80 columns, Ctrl-C printing the command
that continues the run as it was started, default names, and TensorFlow's C++ log lines kept
off stderr. Every test here trains TensorFlow models, so all are slow.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shlex
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest

from rhythmcan_cli import store
from rhythmcan_cli.midi import write_midi
from tests.cli.test_train_cli import TINY_ARGS, _write_genre
from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow

ABSL_LINE = re.compile(r"^[EWIF]\d{4} ", re.M)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two genres x 4 files x 4 patterns, as MIDI files in genre folders."""
    root = tmp_path_factory.mktemp("midi")
    rng = np.random.default_rng(0)
    for genre in ("rock", "jazz"):
        _write_genre(root, genre, 4, rng)
    return root


@pytest.fixture(scope="module")
def bigger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough windows for an epoch of many steps: Ctrl-C lands long before the run ends."""
    root = tmp_path_factory.mktemp("groove")
    rng = np.random.default_rng(1)
    for genre in ("rock", "jazz"):
        (root / genre).mkdir()
        for i in range(24):
            patterns = (rng.random((8, 32, 9)) > 0.8).astype(np.float32) * 0.7
            write_midi(patterns, root / genre / f"{i}.mid")
    return root


SIZES = [a for a in TINY_ARGS if a not in ("--quiet",)][2:]  # TINY_ARGS less --epochs 2


def _user_env(**extra: str) -> dict[str, str]:
    """The environment of a user who never heard of TF_CPP_MIN_LOG_LEVEL."""
    env = subprocess_env(**extra)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def _rhythmcan(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rhythmcan_cli", *args],
        capture_output=True,
        text=True,
        env=_user_env(**env),
        check=False,
        timeout=600,
    )


def test_tensorflow_log_lines_never_reach_stderr(data_dir: Path) -> None:
    """A saved classifier predicting printed two absl 'E0000 ... node_def_util' lines."""
    trained = _rhythmcan("train", str(data_dir), "--mode", "classifier", "--name", "c", *TINY_ARGS)
    assert trained.returncode == 0, trained.stderr
    assert not ABSL_LINE.search(trained.stderr), trained.stderr
    # the MIDI folder itself as the "generated" set: judged by the stored classifier
    judged = _rhythmcan("evaluate", str(data_dir), str(data_dir), "--classifier", "c")
    assert judged.returncode == 0, judged.stderr
    assert "ambiguity" in judged.stdout.lower()
    assert not ABSL_LINE.search(judged.stderr), judged.stderr


def _continue(hint_line: str) -> list[str]:
    """The printed 'continue with: rhythmcan train ...' command as an argv for this checkout."""
    command = shlex.split(hint_line.split("continue with:", 1)[1])
    assert command[:2] == ["rhythmcan", "train"]
    return [sys.executable, "-m", "rhythmcan_cli", *command[1:]]


def test_a_log_shows_progress_and_ctrl_c_prints_the_command_that_continues(
    bigger_dir: Path,
) -> None:
    """stderr to a pipe: a progress line arrives while training runs; Ctrl-C then prints the
    exact command that continues, and that command (no --epochs) stops at the epochs the run
    was started with, with the sizes it was started with."""
    assert SIZES[:2] == ["--batch-size", "8"]
    started = time.monotonic()
    command = ["train", str(bigger_dir), "--epochs", "2", *SIZES, "--checkpoint-every", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rhythmcan_cli", *command, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_user_env(COLUMNS="80"),
    )
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        while True:
            line = proc.stderr.readline()
            assert line, f"stderr ended without a training line: {lines}"
            lines.append(line.rstrip("\n"))
            if line.startswith("train ") and "epoch 1/2" in line:
                assert proc.poll() is None  # the run is still going
                proc.send_signal(signal.SIGINT)
                break
        rest, err_rest = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines += err_rest.splitlines()
    assert proc.returncode == 130, lines
    assert lines[0] == f"no --name given: the model is named '{bigger_dir.name}-can'"
    progress = [line for line in lines if line.startswith("train ")]
    assert re.search(r"\b\d+/\d+\b", progress[0]) and "eta " in progress[0]
    assert json.loads(rest)["interrupted"] is True
    [hint] = [line for line in lines if line.startswith("continue with:")]
    assert hint == (
        f"continue with: rhythmcan train {shlex.quote(str(bigger_dir))} "
        f"--name {bigger_dir.name}-can --resume"
    )
    assert time.monotonic() - started < 600

    resumed = subprocess.run(
        [*_continue(hint), "--json"],
        capture_output=True,
        text=True,
        env=_user_env(),
        check=False,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["resumed_from_epoch"] == 0 and summary["epochs"] == 2
    card = store.open_model(f"{bigger_dir.name}-can").card
    assert card.epochs == 2
    run = json.loads((store.runs_dir() / f"{bigger_dir.name}-can" / "run.json").read_text())
    assert run["epochs"] == 2 and run["command"]["batch_size"] == 8


def test_a_terminal_at_80_columns_shows_the_step_count_and_eta(data_dir: Path) -> None:
    """On an 80-column terminal the live line keeps the counts and the time remaining."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    command = ["train", str(data_dir), "--name", "tty", *SIZES, "--epochs", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rhythmcan_cli", *command],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=_user_env(COLUMNS="80", TERM="xterm"),
    )
    os.close(follower)
    screen = b""
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 300)
            if not ready:
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process ended
                break
            if not chunk:
                break
            screen += chunk
    finally:
        proc.wait(timeout=300)
        os.close(leader)
    assert proc.returncode == 0, screen.decode(errors="replace")
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", screen.decode("utf-8", errors="replace"))
    train_lines = [line.strip() for line in text.splitlines() if line.strip().startswith("train")]
    assert train_lines, text
    last = train_lines[-1]
    assert len(last) <= 80
    assert re.search(r"\b(\d+)/\1\b", last), last  # e.g. 12/12: the step count, whole
    assert "eta 0:00:00" in last and "epoch 2/2" in last
    assert "…" not in last


def test_resume_refuses_a_changed_option_in_one_line(data_dir: Path) -> None:
    """Training with other sizes than the checkpoint's would fail or silently differ."""
    trained = _rhythmcan("train", str(data_dir), "--name", "r", *SIZES, "--epochs", "1", "-q")
    assert trained.returncode == 0, trained.stderr
    refused = _rhythmcan("train", str(data_dir), "--name", "r", "--resume", "--batch-size", "16")
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        "error: run 'r' was started with --batch-size 8: resume it without --batch-size (it "
        "continues as started), or start over with --force"
    ]
    extended = _rhythmcan("train", str(data_dir), "--name", "r", "--resume", "-e", "2", "--json")
    assert extended.returncode == 0, extended.stderr
    assert json.loads(extended.stdout)["epochs"] == 2
    again = _rhythmcan("train", str(data_dir), "--name", "r", "--resume", "--json")
    assert json.loads(again.stdout)["epochs"] == 2  # the extended target is the run's now

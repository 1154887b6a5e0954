"""Progress lines: fitted to 80 columns on a terminal, plain and periodic in a log."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from rhythmcan_cli.cli import progress_display as pd
from rhythmcan_cli.cli.app import app
from rhythmcan_cli.midi import write_midi
from rhythmcan_cli.progress import ProgressEvent

INFO: dict[str, float | str] = {
    "epoch": "1/3",
    "d": 2.1571234,
    "g": 1.1934,
    "genre_acc": 0.475,
    "steps/s": 0.06883,
}


@pytest.mark.parametrize("width", [40, 60, 80, 100, 200])
def test_a_status_line_fits_and_keeps_the_counts_and_eta(width: int) -> None:
    line = pd.status_line("train", 56, 120, INFO, 31.2, 40.4, width)
    assert len(line) < width
    assert "56/120" in line.split() and "eta 0:00:40" in line
    assert "…" not in line
    words = line.split()
    for part in ("2.157", "1.193", "0.475", "0.06883"):  # a number is whole or absent
        assert part in words or not any(w.startswith(part[:3]) and w != part for w in words)


def test_the_bar_is_the_first_thing_dropped() -> None:
    wide = pd.status_line("train", 56, 120, INFO, 31.2, 40.4, 200)
    assert "━" in wide and "steps/s 0.06883" in wide
    narrow = pd.status_line("train", 56, 120, INFO, 31.2, 40.4, 80)
    assert "━" not in narrow and "epoch 1/3" in narrow and "0:00:31" in narrow
    plain = pd.status_line("reading MIDI", 3, 40, {}, 1.0, 12.0, 100, ascii_only=True)
    assert re.search(r"#+-+", plain)


def test_clock() -> None:
    assert pd.clock(0) == "0:00:00"
    assert pd.clock(3725.4) == "1:02:05"
    assert pd.clock(None) == "-:--:--"


def test_plain_lines_at_start_per_epoch_periodically_and_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    stream = io.StringIO()
    plain = pd.PlainProgress("training", stream=stream, every_s=4.0)
    for step in range(1, 21):  # 10 steps per epoch, one second each
        now[0] += 1.0
        epoch = f"{(step - 1) // 10 + 1}/2"
        plain(ProgressEvent("train", step, 20, {"epoch": epoch, "d": 1.5}))
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("train  epoch 1/2  1/20  0:00:00  eta -:--:--")
    assert any("epoch 2/2  11/20" in line for line in lines)  # a new epoch: a line at once
    counts = [line.split()[3] for line in lines]  # every 4 s, at once for a new epoch
    assert counts == ["1/20", "5/20", "9/20", "11/20", "15/20", "19/20", "20/20"]
    assert lines[-1].startswith("train  epoch 2/2  20/20") and "eta 0:00:00" in lines[-1]
    assert "eta 0:00:09" in next(line for line in lines if "11/20" in line)  # 10 steps, 10 s


def test_a_terminal_shows_one_fitted_live_line_per_task() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=80, color_system=None)
    with pd.live_progress(console, "training") as callback:
        callback(ProgressEvent("reading MIDI", 40, 40))
        for step in range(1, 121):
            callback(ProgressEvent("train", step, 240, dict(INFO, epoch="1/2")))
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", buffer.getvalue())
    final = [line for line in text.splitlines() if line.startswith("train")][-1]
    assert len(final) <= 80
    assert "120/240" in final.split() and "eta " in final and "epoch 1/2" in final
    assert any(line.startswith("reading MIDI") and "40/40" in line for line in text.splitlines())


def test_dataset_builds_and_evaluate_print_plain_lines_into_a_log(tmp_path: Path) -> None:
    """stderr not a terminal (CliRunner): every task leaves plain lines with counts and ETA."""
    rng = np.random.default_rng(0)
    for genre in ("rock", "jazz"):
        (tmp_path / genre).mkdir()
        for i in range(3):
            write_midi(
                (rng.random((4, 32, 9)) > 0.8).astype(np.float32), tmp_path / genre / f"{i}.mid"
            )
    runner = CliRunner()
    inspected = runner.invoke(app, ["data", "inspect", str(tmp_path)], env={"COLUMNS": "80"})
    assert inspected.exit_code == 0, inspected.stderr
    evaluated = runner.invoke(
        app, ["evaluate", str(tmp_path), str(tmp_path), "--no-classifier", "-n", "4"]
    )
    assert evaluated.exit_code == 0, evaluated.stderr
    for stderr in (inspected.stderr, evaluated.stderr):
        lines = [line for line in stderr.splitlines() if re.search(r"\b(\d+)/\1\b", line)]
        assert lines, stderr
        assert all("eta 0:00:00" in line for line in lines)
    assert any(line.startswith("reading MIDI") for line in inspected.stderr.splitlines())

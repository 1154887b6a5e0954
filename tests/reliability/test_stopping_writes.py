"""Ctrl-C, SIGTERM, SIGKILL and a second writer while rhythmcan writes files; the terminal after.

Real processes and real signals. What is reported must be true: exit 130 ("interrupted") or
143 ("terminated (SIGTERM)") means nothing of the batch was written; exit 0 means all of it.
Signals are sent once the batch's hidden partial folder exists, i.e. during the writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from rhythmcan_cli.atomic import PARTIAL_PREFIX
from rhythmcan_cli.midi import write_midi
from tests.conftest import subprocess_env
from tests.helpers import make_stored_model
from tests.reliability.disks import leftovers
from tests.reliability.procs import cli, error_lines, start, wait_for, write_drum_folder

BIG = 30000  # the batch: long enough to be stopped mid-way on any machine
PROMPT_S = 10.0  # a stopped batch must exit within this (it took 1-13 s, once > 120 s)


def partials(folder: Path) -> list[Path]:
    return list(folder.glob(f"{PARTIAL_PREFIX}*")) if folder.is_dir() else []


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_mid_batch(out: Path, signum: int, *extra: str) -> tuple[int, str, float]:
    """Start ``sample -n BIG -o out/``, send ``signum`` during the writes; (exit, stderr, s)."""
    proc = subprocess.Popen(
        cli("sample", "-m", "m", "-n", str(BIG), "--seed", "1", "-o", f"{out}/", *extra),
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,  # a background runner may have SIGINT ignored
    )
    wait_for(lambda: bool(partials(out)), 120, "the batch's partial folder", proc)
    proc.send_signal(signum)
    sent = time.monotonic()
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("still running 60 s after the signal") from None
    return proc.returncode, err, time.monotonic() - sent


@pytest.mark.parametrize(
    ("signum", "code", "line"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated (SIGTERM)")],
)
def test_a_stopped_batch_leaves_nothing_and_says_so(
    tmp_path: Path, signum: int, code: int, line: str
) -> None:
    make_stored_model("m")
    out = tmp_path / "s"
    returncode, err, seconds = stop_mid_batch(out, signum)
    assert "Traceback" not in err, err
    # sent as the writes begin: 30,000 files take seconds, so the stop always lands
    assert (returncode, error_lines(err)) == (code, [line]), err
    assert seconds < PROMPT_S, f"took {seconds:.1f} s to stop"
    assert not out.exists(), leftovers(out)  # it created the folder: it removed it


def test_a_stopped_batch_keeps_the_users_files(tmp_path: Path) -> None:
    make_stored_model("m")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "song.mid").write_bytes(b"MThd")
    returncode, err, _ = stop_mid_batch(out, signal.SIGINT, "-f", "json")
    assert returncode == 130 and "Traceback" not in err, err
    assert leftovers(out) == ["song.mid"]


def test_a_killed_batch_is_invisible_and_cleaned_by_the_next(tmp_path: Path) -> None:
    make_stored_model("m")
    out = tmp_path / "s"
    proc = start(cli("sample", "-m", "m", "-n", str(BIG), "-o", f"{out}/"))
    wait_for(lambda: bool(partials(out)), 120, "the batch's partial folder", proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    visible = [p.name for p in out.iterdir() if not p.name.startswith(".")]
    assert visible == []  # half a batch never looks like a result
    done = subprocess.run(
        cli("sample", "-m", "m", "-n", "2", "-o", f"{out}/"),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert leftovers(out) == ["pattern-001.mid", "pattern-002.mid"]  # the dead one's removed


@pytest.mark.parametrize("force", [False, True])
def test_two_writers_into_one_folder_never_mix(tmp_path: Path, force: bool) -> None:
    make_stored_model("m")
    out = tmp_path / "same"
    tail = ["-f", "json", "--force"] if force else ["-f", "json"]
    procs = [
        start(cli("sample", "-m", "m", "-n", "3000", "--seed", str(seed), "-o", f"{out}/", *tail))
        for seed in (1, 2)
    ]
    results = [(proc.wait(timeout=180), proc.communicate()[1]) for proc in procs]
    codes = sorted(code for code, _ in results)
    assert all("Traceback" not in err for _, err in results), results
    if force:
        assert codes == [0, 0], results
    else:
        assert codes == [0, 1], results
        (refused,) = [err for code, err in results if code == 1]
        assert "already exists; use --force" in error_lines(refused)[0]
    files = sorted(out.iterdir())
    assert len(files) == 3000 and not partials(out)
    seeds = {json.loads(path.read_text())["seed"] for path in files}
    assert len(seeds) == 1, f"a mix of seeds {seeds}"


def test_sigterm_during_play_wav_leaves_no_temp(tmp_path: Path) -> None:
    """SIGTERM at spread-out moments: 143 and no file, or 0 and a whole WAV; never a temp."""
    groove = tmp_path / "groove.mid"
    rng = np.random.default_rng(0)
    write_midi((rng.random((8, 32, 9)) > 0.6).astype(np.float32), groove)
    outcomes = []
    for delay in (0.3, 1.0, 2.0, 4.0):
        wav = tmp_path / "x.wav"
        wav.unlink(missing_ok=True)
        proc = start(cli("play", str(groove), "--wav", str(wav), "--loops", "64", "-q"))
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert "Traceback" not in err, err
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
        if proc.returncode == 0:
            with wave.open(str(wav)) as done:
                assert done.getnframes() > 0
        elif proc.returncode == -signal.SIGTERM:  # still starting Python: the default action
            assert not wav.exists()
        else:
            assert proc.returncode == 143 and error_lines(err) == ["terminated (SIGTERM)"], err
            assert not wav.exists()
        outcomes.append(proc.returncode)
    assert 143 in outcomes, outcomes  # at least one stop landed before the end


# ------------------------------------------------------------------ the terminal


def test_sigterm_during_a_progress_bar_shows_the_cursor_again(tmp_path: Path) -> None:
    data = write_drum_folder(tmp_path / "data", genres=("a", "b"), files=150, patterns=8)
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        cli("data", "inspect", str(data), "--no-cache"),
        env=subprocess_env(COLUMNS="100", TERM="xterm"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    )
    os.close(terminal)
    seen = b""
    try:
        deadline = time.monotonic() + 120
        while b"\x1b[?25l" not in seen and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.1)[0]:
                with contextlib.suppress(OSError):
                    seen += os.read(controller, 65536)
            if proc.poll() is not None:
                break
        if b"\x1b[?25l" not in seen:
            pytest.skip("the progress bar never hid the cursor (finished first?)")
        proc.send_signal(signal.SIGTERM)
        while True:
            ready = select.select([controller], [], [], 0.5)[0]
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        code = proc.wait(timeout=30)
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
    hidden_at = seen.rindex(b"\x1b[?25l")
    assert b"\x1b[?25h" in seen[hidden_at:], seen[-300:]
    assert code == 143 and b"Traceback" not in seen, seen[-500:]
    assert b"terminated (SIGTERM)" in seen


def ascii_env() -> dict[str, str]:
    env = subprocess_env(LC_ALL="C", LANG="C", PYTHONUTF8="0")
    env.pop("PYTHONIOENCODING", None)
    return env


def test_ascii_only_output_falls_back_instead_of_crashing(tmp_path: Path) -> None:
    make_stored_model("m", kind="cgan", genres=("forró", "música", "rock"))
    for args in (
        ["sample", "-m", "m", "--seed", "7", "-f", "grid"],
        ["sample", "-m", "m", "--seed", "7", "-n", "2", "-o", f"{tmp_path}/s/"],
        ["models", "list"],
        ["models", "show", "m"],
    ):
        done = subprocess.run(
            cli(*args), env=ascii_env(), capture_output=True, timeout=120, check=False
        )
        assert done.returncode == 0, (args, done.stderr.decode("ascii", "replace"))
        assert b"Traceback" not in done.stderr
        assert max(done.stdout + done.stderr, default=0) < 128, args  # plain ASCII
    shown = subprocess.run(
        cli("models", "show", "m"), env=ascii_env(), capture_output=True, timeout=120, check=False
    )
    assert b"forro" in shown.stdout and b"musica" in shown.stdout, shown.stdout

"""Running the real CLI in subprocesses and judging how it ended (exit code, one-line errors)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tests.conftest import subprocess_env


def cli(*args: str) -> list[str]:
    """argv for ``rhythmcan ARGS`` with this checkout's interpreter."""
    return [sys.executable, "-m", "rhythmcan_cli", *args]


def start(args: Sequence[str], *, session: bool = False) -> subprocess.Popen[str]:
    """Start ``args`` with the test's isolated store; stdout/stderr captured as text.

    ``session``: in a new process group, so ``os.killpg`` reaches its workers too.
    """
    return subprocess.Popen(
        list(args),
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=session,
    )


def children(pid: int) -> list[int]:
    """Direct child process ids of ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``rhythmcan ARGS`` to the end."""
    return subprocess.run(
        cli(*args),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    proc: subprocess.Popen[str] | None = None,
) -> None:
    """Poll ``condition`` every 50 ms; fail with ``what`` (and the process's stderr) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"process ended ({proc.returncode}) before {what}: {err[-2000:]}")
        time.sleep(0.05)
    if proc is not None:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"timed out waiting for {what}: {err[-2000:]}")
    raise AssertionError(f"timed out waiting for {what}")


def error_lines(stderr: str) -> list[str]:
    """Non-empty stderr lines (rich may wrap long lines: callers use soft_wrap, NO_COLOR set)."""
    return [line for line in stderr.splitlines() if line.strip()]


def assert_clean_failure(
    done: subprocess.CompletedProcess[str] | tuple[int, str], code: int = 1
) -> str:
    """Exit ``code`` with one ``error:`` line on stderr and no traceback; returns the line."""
    if isinstance(done, tuple):
        returncode, stderr = done
    else:
        returncode, stderr = done.returncode, done.stderr
    assert "Traceback" not in stderr, stderr
    assert returncode == code, (returncode, stderr)
    lines = error_lines(stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def write_drum_folder(
    root: Path,
    genres: Sequence[str] = ("funk", "rock"),
    files: int = 3,
    patterns: int = 4,
    seed: int = 0,
) -> Path:
    """``root/<genre>/<i>.mid``: files of random 2-bar patterns (written by the project)."""
    from rhythmcan_cli.midi import write_midi

    rng = np.random.default_rng(seed)
    for g, genre in enumerate(genres):
        (root / genre).mkdir(parents=True, exist_ok=True)
        for i in range(files):
            grid = (rng.random((patterns, 32, 9)) > 0.8).astype(np.float32) * 0.9
            grid[:, ::4, g] = 1.0  # every file has enough hits, genres differ
            write_midi(grid, root / genre / f"{i}.mid")
    return root

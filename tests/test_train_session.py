"""Training and evaluating as a user runs them: from a terminal or into a log file.

Subprocesses of the real entry point on a tiny synthetic MIDI folder: TensorFlow's C++ log
lines stay off stderr. Every test here trains TensorFlow models, so all are slow.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import subprocess_env
from tests.test_train_cli import TINY_ARGS, _write_genre

pytest.importorskip("tensorflow")
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

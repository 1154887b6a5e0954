"""Shared fixtures: an isolated store per test, the shared data paths, a CLI runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rhythmcan_cli.dataset import groove as groove_recipe

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
GROOVE = SHARED / groove_recipe.SHARED_PATH
TOKUI_MODEL = SHARED / "models" / "tokui-2020-creative-gan" / "model.json"


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own empty RHYTHMCAN_HOME and cache, so nothing leaks between tests."""
    home = tmp_path_factory.mktemp("rhythmcan-home")
    monkeypatch.setenv("RHYTHMCAN_HOME", str(home))
    monkeypatch.setenv("RHYTHMCAN_CACHE", str(home / "cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    return home


@pytest.fixture(autouse=True)
def no_bundled_models(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tests see an empty bundled-models folder, unless marked ``bundled`` (the real ones)."""
    if request.node.get_closest_marker("bundled") is None:
        from rhythmcan_cli.store import paths as store_paths

        monkeypatch.setattr(store_paths, "BUNDLED_DIR", tmp_path_factory.mktemp("no-bundled"))


@pytest.fixture
def groove_dir() -> Path:
    """The shared Groove MIDI Dataset; skips the test when ../shared is absent."""
    if not (GROOVE / "info.csv").is_file():
        pytest.skip(
            f"integration data missing: {GROOVE} (the ../shared folder beside the checkout)"
        )
    return GROOVE


@pytest.fixture
def tokui_model() -> Path:
    """The 2020 release Creative-GAN (TF.js); skips when ../shared is absent."""
    if not TOKUI_MODEL.is_file():
        pytest.skip(f"integration model missing: {TOKUI_MODEL}")
    return TOKUI_MODEL


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for running the CLI in a subprocess from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@pytest.fixture
def cli_env() -> Iterator[dict[str, str]]:
    """Environment for CLI subprocesses (inherits the isolated RHYTHMCAN_HOME)."""
    yield subprocess_env()

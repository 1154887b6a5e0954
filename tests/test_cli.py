"""The command table, versions, help texts and exit codes."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from rhythmcan_cli import __version__
from rhythmcan_cli.cli.app import app
from tests.conftest import subprocess_env

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("train", "sample", "play", "export-tfjs", "evaluate", "models", "data"):
        assert command in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = runner.invoke(app, ["no-such-command"])
    assert result.exit_code == 2


def test_python_dash_m_works() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rhythmcan_cli", "--version"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"rhythmcan {__version__}"

"""The fast commands must never import TensorFlow (it costs seconds at every call)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import subprocess_env

HEAVY = ("tensorflow", "keras", "fluidsynth", "sounddevice", "matplotlib")

PROBE = """
import sys
from typer.testing import CliRunner
from rhythmcan_cli.cli.app import app
result = CliRunner().invoke(app, {args!r})
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})
print('HEAVY=' + ','.join(heavy))
print('EXIT=' + str(result.exit_code))
"""


def loaded_heavy_modules(args: list[str]) -> set[str]:
    code = PROBE.format(args=args, heavy=set(HEAVY))
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("HEAVY="))
    return {m.split(".")[0] for m in line[len("HEAVY=") :].split(",") if m}


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["sample", "--help"],
        ["play", "--help"],
        ["models", "--help"],
        ["models", "list"],
        ["train", "--help"],
        ["evaluate", "--help"],
    ],
)
def test_fast_commands_import_no_tensorflow(args: list[str]) -> None:
    assert "tensorflow" not in loaded_heavy_modules(args)
    assert "keras" not in loaded_heavy_modules(args)


def test_importing_the_package_stays_light() -> None:
    code = (
        "import sys, rhythmcan_cli.cli.app\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=True,
    )
    assert done.stdout.strip() == "[]"

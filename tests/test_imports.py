"""The fast commands must never import TensorFlow (it costs seconds at every call)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import subprocess_env
from tests.helpers import make_stored_model

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


def test_sample_imports_only_what_it_needs(tmp_path: Path) -> None:
    """Cold start: `sample` loads its own command module, not the other commands' (lazy
    registry), and not pydantic (Typer 0.29+ builds pydantic adapters for every option)."""
    make_stored_model("quick", kind="can")
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['rhythmcan', 'sample', '-m', 'quick', '-o', {str(tmp_path / 'x.mid')!r}]\n"
        "try:\n"
        "    runpy.run_module('rhythmcan_cli', run_name='__main__')\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        "print(sorted(m for m in sys.modules if m.startswith(('rhythmcan_cli.cli.', 'pydantic'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=True,
    )
    loaded = set(ast.literal_eval(done.stdout.strip().splitlines()[-1]))
    assert (tmp_path / "x.mid").is_file()
    assert not {m for m in loaded if m.startswith("pydantic")}
    others = {"train", "evaluate", "export", "models", "data", "run_options", "progress_display"}
    assert not {m.rsplit(".", 1)[1] for m in loaded} & others, loaded
    assert "rhythmcan_cli.cli.sample" in loaded

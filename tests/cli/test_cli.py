"""The command table, versions, help texts and exit codes."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

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


def test_a_short_option_means_one_thing_in_every_command() -> None:
    """`-m` is always --model, `-n` always a count, `-o` always the output, `-q` --quiet:
    a musician who learnt `sample -n 4 -m x` must not get a surprise from another command."""
    import typer.main

    meanings: dict[str, set[str]] = {}

    def walk(command: Any) -> None:  # typer's own click: duck-typed on purpose
        for param in command.params:
            if param.param_type_name == "option":
                shorts = [o for o in param.opts + param.secondary_opts if len(o) == 2]
                longs = sorted(o for o in param.opts if o.startswith("--")) or [param.name]
                for short in shorts:
                    meanings.setdefault(short, set()).add(longs[0])
        for sub in (getattr(command, "commands", None) or {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    assert meanings.get("-m", {"--model"}) == {"--model"}
    assert meanings.get("-n", {"--count"}) <= {"--count", "n"}
    ambiguous = {short: longs for short, longs in meanings.items() if len(longs) > 1}
    assert ambiguous == {} or set(ambiguous) <= {"-n"}, ambiguous


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in (getattr(command, "commands", None) or {}).items():
        found += _commands(sub, (*path, name))
    return found


def test_usage_errors_are_one_line_and_exit_2() -> None:
    """The README promises one line per error: no usage block, no boxed panel."""
    for args in (
        ["sample", "--bogus"],
        ["sample", "-n", "many"],
        ["train"],
        ["models", "show"],
        ["no-such-command"],
    ):
        result = runner.invoke(app, args, env={"COLUMNS": "80"})
        assert result.exit_code == 2, args
        lines = result.stderr.splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith("error: ") and "-h'" in lines[0]
        assert result.stdout == ""
    done = subprocess.run(
        [sys.executable, "-m", "rhythmcan_cli", "sample", "--no-such-flag"],
        capture_output=True,
        text=True,
        env=subprocess_env(COLUMNS="80"),
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: No such option: --no-such-flag (see 'python -m rhythmcan_cli sample -h')"
    ]


def test_help_shows_no_bool_metavar_for_flags() -> None:
    """Flags take no value, so --help must not label them <bool>."""
    import typer.main

    for path in _commands(typer.main.get_command(app)):
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0, path
        assert "--help" in result.output
        assert "<bool>" not in result.output, path

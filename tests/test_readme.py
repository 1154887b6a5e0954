"""The README's first steps work as written: the install line as root and as a user."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

STUB = """#!/bin/sh
echo "{name} $*" >> "$STUB_LOG"
{tail}
"""


def _install_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README's install block is missing"
    return match.group(1)


def _run_block(tmp_path: Path, *, with_sudo: bool) -> list[str]:
    """Run the install block with stub apt-get/pipx/rhythmcan (and sudo when asked) on PATH."""
    bin_dir, home = tmp_path / "bin", tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    bin_dir.mkdir()
    stubs = {bin_dir / "apt-get": "", bin_dir / "pipx": ""}
    stubs[home / ".local" / "bin" / "rhythmcan"] = ""
    if with_sudo:
        stubs[bin_dir / "sudo"] = 'exec "$@"'
    for path, tail in stubs.items():
        path.write_text(STUB.format(name=path.name, tail=tail))
        path.chmod(0o755)
    log = tmp_path / "log"
    env = {"PATH": str(bin_dir), "HOME": str(home), "STUB_LOG": str(log)}
    done = subprocess.run(
        ["/bin/sh", "-e", "-c", _install_block()],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return log.read_text().splitlines()


@pytest.mark.skipif(not os.path.exists("/bin/sh"), reason="needs a POSIX shell")
def test_install_line_works_as_root_without_sudo(tmp_path: Path) -> None:
    calls = _run_block(tmp_path, with_sudo=False)
    assert calls == [
        "apt-get update",
        "apt-get install -y libfluidsynth3 libportaudio2 pipx",
        "pipx install .",
        "rhythmcan sample --genre-ambiguous",
    ]


@pytest.mark.skipif(not os.path.exists("/bin/sh"), reason="needs a POSIX shell")
def test_install_line_uses_sudo_when_there_is_one(tmp_path: Path) -> None:
    calls = _run_block(tmp_path, with_sudo=True)
    assert calls[:4] == [
        "sudo apt-get update",
        "apt-get update",
        "sudo apt-get install -y libfluidsynth3 libportaudio2 pipx",
        "apt-get install -y libfluidsynth3 libportaudio2 pipx",
    ]
    assert calls[-1] == "rhythmcan sample --genre-ambiguous"


def test_the_plain_install_includes_matplotlib_for_evaluate_plot() -> None:
    """The README installs '.' without extras, so --plot's matplotlib must be a dependency."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert any(re.match(r"matplotlib\b", dep) for dep in project["dependencies"])
    assert "pipx install . " in _install_block()

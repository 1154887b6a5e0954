"""The Python scripts in scripts/ are linted like the package: ruff sees each one.

They are commands without a ``.py`` suffix, so ruff finds them only through the
``extend-include`` list in pyproject.toml; a new script missing from it would go unchecked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def python_scripts() -> set[str]:
    """``scripts/NAME`` of every file in scripts/ whose first line runs Python."""
    found = set()
    for path in (ROOT / "scripts").iterdir():
        if path.is_file() and path.suffix != ".py":
            first = path.read_text(encoding="utf-8").split("\n", 1)[0]
            if first.startswith("#!") and "python" in first:
                found.add(f"scripts/{path.name}")
    return found


def test_every_python_script_is_in_ruffs_extend_include() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]
    scripts = python_scripts()
    assert "scripts/results-tables" in scripts  # the shebang test finds them at all
    assert set(ruff["extend-include"]) == scripts

"""docs/architecture.md lists every module of the package (a new module must be described)."""

from __future__ import annotations

from pathlib import Path

import rhythmcan_cli

PACKAGE = Path(rhythmcan_cli.__file__).parent
DOC = PACKAGE.parent / "docs" / "architecture.md"


def test_every_module_is_in_the_architecture_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.name == "__init__.py" and relative.parent != Path("."):
            continue  # a package's __init__ is its folder
        name = relative.as_posix()
        short = relative.name
        folder = relative.parent.as_posix()
        listed = name in text or (folder != "." and f"{folder}/" in text and short in text)
        if not listed:
            missing.append(name)
    assert missing == []

"""The package's layers: no module imports a higher stage (docs/architecture.md).

Stages in dependency order (data flows MIDI -> grid -> dataset -> training -> store -> engine
-> sample -> MIDI / audio / TF.js; imports go the other way where the store runs models
through the engine and training writes through the store). A module may import its own
stage and any stage before it; every import counts, including those inside functions. The
evaluation's measures (distance, descriptors, texture, calibration) depend on the foundation
only, so any stage may use them; the rest of evaluation sits above the pipeline.
"""

from __future__ import annotations

import ast
from pathlib import Path

import rhythmcan_cli

PACKAGE = Path(rhythmcan_cli.__file__).parent
FOUNDATION = ("errors", "progress", "signals", "atomic", "inputs", "grid", "vocabulary")
MEASURES = (
    "evaluation.distance",
    "evaluation.descriptors",
    "evaluation.texture",
    "evaluation.calibration",
)
STAGES = (
    "midi",
    "dataset",
    "formats",
    "engine",
    "store",
    "training",
    "sampling",
    "audio",
    "tfjs",
    "evaluation",
    "cli",
)


def module_names() -> list[str]:
    """Every module of the package, dotted, without the ``rhythmcan_cli.`` prefix."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            names.append(".".join(parts))
    return names


def rank(module: str) -> int:
    """0: foundation; 1: the measures; 2.. the stages in order; the package entry points last."""
    if module in FOUNDATION:
        return 0
    if module in MEASURES:
        return 1
    top = module.split(".")[0]
    if top in STAGES:
        return 2 + STAGES.index(top)
    assert module == "__main__", f"{module} belongs to no stage: add it to tests/test_layering.py"
    return 2 + len(STAGES)


def imports_of(module: str) -> set[str]:
    """The package modules ``module`` imports (module level and inside functions)."""
    path = PACKAGE / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE / module.replace(".", "/") / "__init__.py"
    found: set[str] = set()
    known = set(module_names())
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "rhythmcan_cli":
                found.update(a.name for a in node.names if a.name in known)
            elif node.module.startswith("rhythmcan_cli."):
                base = node.module.removeprefix("rhythmcan_cli.")
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known)
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("rhythmcan_cli.")
                for a in node.names
                if a.name.startswith("rhythmcan_cli.")
            )
    return found


def test_every_module_belongs_to_a_stage() -> None:
    for module in module_names():
        rank(module)


def test_no_module_imports_a_higher_stage() -> None:
    violations = [
        f"{module} imports {imported}"
        for module in module_names()
        for imported in sorted(imports_of(module))
        if rank(imported) > rank(module)
    ]
    assert violations == []


def test_the_measures_use_the_foundation_only() -> None:
    for module in MEASURES:
        assert {rank(m) for m in imports_of(module)} <= {0, 1}, module


def test_tensorflow_is_imported_only_inside_training() -> None:
    """'All TensorFlow lives in training/': no other module imports tensorflow or keras."""
    outside = []
    for module in module_names():
        if module.startswith("training"):
            continue
        path = PACKAGE / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = PACKAGE / module.replace(".", "/") / "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            outside += [
                f"{module}: {n}" for n in names if n.split(".")[0] in ("tensorflow", "keras")
            ]
    assert outside == []

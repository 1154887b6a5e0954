"""How ``rhythmcan train`` names a run and continues it exactly as it was started.

A run records the options of the command that started it (``run.json``'s ``command``, see
``rhythmcan_cli.training.runs.read_run``). ``--resume`` takes every option the user does not give
again from that record, so ``rhythmcan train DATA --name NAME --resume`` continues the run
as started; an option given again with another value is refused in one line, since it would
silently train a different model. The exceptions are options that change how the run is
watched or stored, not what it learns: ``--epochs`` (``--epochs N --resume`` extends the run;
the target is recorded by the library), checkpoints, TensorBoard, the strategy and the cache.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import typer

from rhythmcan_cli.errors import UsageError

NOT_RECORDED: Final = frozenset(
    {"name", "resume", "force", "quiet", "as_json", "data_dir", "epochs"}
)
"""Options that say which run and how to report it, not how it trains."""
CHANGEABLE_ON_RESUME: Final = frozenset({"checkpoint_every", "tensorboard", "strategy", "no_cache"})
"""Options a resumed run may change: they do not change what the model learns."""
PATH_OPTIONS: Final = frozenset({"labels"})


def jsonable(value: Any) -> Any:
    """An option's value as JSON keeps it (paths as text, tuples as lists)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def given(ctx: typer.Context) -> set[str]:
    """Names of the options the user gave (on the command line or through the environment)."""
    names = set()
    for key in ctx.params:
        source = ctx.get_parameter_source(key)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            names.add(key)
    return names


def command_record(params: Mapping[str, Any]) -> dict[str, Any]:
    """The options to keep in the run record (JSON-ready)."""
    return {k: jsonable(v) for k, v in params.items() if k not in NOT_RECORDED}


def _flag(ctx: typer.Context, key: str) -> str:
    for param in ctx.command.params:
        if param.name == key:
            longs = [o for o in param.opts if o.startswith("--")]
            return longs[0] if longs else param.opts[0]
    return "--" + key.replace("_", "-")


def _restore(key: str, value: Any, current: Any) -> Any:
    """A recorded value as the command's parameter holds it."""
    if value is None:
        return None
    if key in PATH_OPTIONS:
        return Path(value)
    return value


def continue_as_started(
    ctx: typer.Context,
    values: Mapping[str, Any],
    name: str,
    recorded: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The command's arguments ``values``, with every option not given now taken from
    ``recorded``.

    Raises UsageError when an option that shapes the model is given with another value.
    Without a record (a fresh run, or a run from an older version) the arguments as given.
    """
    params = dict(values)
    if not recorded:
        return params
    explicit = given(ctx)
    for key in sorted(explicit - NOT_RECORDED - CHANGEABLE_ON_RESUME):
        if key not in recorded or jsonable(params[key]) == recorded[key]:
            continue
        flag, was = _flag(ctx, key), recorded[key]
        started = (
            f"{'with' if was else 'without'} {flag}"
            if isinstance(was, bool)
            else f"with {flag} {','.join(map(str, was)) if isinstance(was, list) else was}"
        )
        raise UsageError(
            f"run {name!r} was started {started}: resume it without {flag} (it continues as "
            "started), or start over with --force"
        )
    for key, value in recorded.items():
        if key in params and key not in explicit and key not in NOT_RECORDED:
            params[key] = _restore(key, value, params[key])
    return params


def default_name(data_dir: Path, mode: str, *, reuse: bool) -> str:
    """``FOLDER-MODE`` from the data folder's name (``groove-can``); a fresh run that would
    meet an existing model or run takes the first free ``FOLDER-MODE-2``, ``-3``..."""
    from rhythmcan_cli import store

    folder = Path(data_dir).expanduser().resolve().name.lower()
    slug = re.sub(r"[^a-z0-9._-]+", "-", folder).strip("-._") or "model"
    base = f"{slug[: 63 - len(mode) - 4]}-{mode}"
    if reuse:
        return base
    number = 1
    name = base
    while (store.models_dir() / name).exists() or (store.runs_dir() / name).exists():
        number += 1
        name = f"{base}-{number}"
    return name


def continue_command(data_dir: Path, name: str) -> str:
    """The command line that continues the run ``name`` as it was started."""
    return f"rhythmcan train {shlex.quote(str(data_dir))} --name {shlex.quote(name)} --resume"


__all__ = [
    "command_record",
    "continue_as_started",
    "continue_command",
    "default_name",
    "given",
    "jsonable",
]

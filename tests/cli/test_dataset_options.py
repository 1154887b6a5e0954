"""The commands that read a MIDI folder take the same dataset options, with the same defaults."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from rhythmcan_cli.cli.data import inspect as data_inspect
from rhythmcan_cli.cli.evaluate import evaluate
from rhythmcan_cli.cli.options import DATASET_OPTIONS
from rhythmcan_cli.cli.train import train
from rhythmcan_cli.dataset import build_dataset

COMMANDS: tuple[Callable[..., Any], ...] = (train, evaluate, data_inspect)


def defaults(command: Callable[..., Any]) -> dict[str, Any]:
    params = inspect.signature(command).parameters
    return {name: params[name].default for name in DATASET_OPTIONS if name in params}


def test_every_command_takes_every_dataset_option_with_one_default() -> None:
    found = [defaults(command) for command in COMMANDS]
    assert all(set(d) == set(DATASET_OPTIONS) for d in found)
    assert found[0] == found[1] == found[2]


def test_the_cli_defaults_are_the_library_defaults() -> None:
    library = inspect.signature(build_dataset).parameters
    cli = defaults(train)
    for cli_name, library_name in (
        ("path_column", "path_column"),
        ("label_column", "label_column"),
        ("channel", "channel"),
        ("hop", "hop"),
        ("min_onsets", "min_onsets"),
    ):
        assert cli[cli_name] == library[library_name].default, cli_name

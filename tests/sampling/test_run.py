"""``sample`` as one library call (sampling/run.py): destinations, plain and steered runs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from rhythmcan_cli.errors import DataError, UsageError
from rhythmcan_cli.sampling.patterns import SampledPattern, load_last
from rhythmcan_cli.sampling.run import (
    Destination,
    SampleRequest,
    destination,
    parse_steering,
    run_sample,
)
from tests.helpers import make_stored_model


@pytest.mark.parametrize(
    ("output", "fmt", "terminal", "expected"),
    [
        (None, None, True, Destination("terminal", "grid")),
        (None, "json", True, Destination("terminal", "json")),
        (None, None, False, Destination("stdout", "json")),
        (None, "mid", False, Destination("stdout", "mid")),
        ("-", None, True, Destination("stdout", "mid")),
        ("-", "json", False, Destination("stdout", "json")),
        ("-", "grid", False, Destination("terminal", "grid")),
        ("out.json", None, True, Destination("file", "json", Path("out.json"))),
        ("out.mid", None, False, Destination("file", "mid", Path("out.mid"))),
        ("grooves/", None, True, Destination("dir", "mid", Path("grooves"))),
    ],
)
def test_destination_follows_output_format_and_terminal(
    output: str | None, fmt: str | None, terminal: bool, expected: Destination
) -> None:
    assert destination(output, fmt, terminal=terminal) == expected


@pytest.mark.parametrize(
    ("output", "fmt", "terminal", "words"),
    [
        (None, "mid", True, "MIDI is binary"),
        ("x.wav", None, True, "not audio"),
        ("x.mid", "grid", True, "only prints to the terminal"),
        (None, "csv", True, "unknown --format"),
    ],
)
def test_impossible_destinations_are_one_usage_line(
    output: str | None, fmt: str | None, terminal: bool, words: str
) -> None:
    with pytest.raises(UsageError, match=words):
        destination(output, fmt, terminal=terminal)


def request(**options: object) -> SampleRequest:
    return SampleRequest(steer=parse_steering(), model="m", **options)  # type: ignore[arg-type]


def test_a_plain_run_streams_json_lines_and_keeps_last() -> None:
    make_stored_model("m")
    text = io.StringIO()
    shown: list[list[SampledPattern]] = []
    run = run_sample(
        request(n=5, seed=3),
        terminal=False,
        text_out=text,
        binary_out=io.BytesIO(),
        show_grids=shown.append,
    )
    lines = [json.loads(line) for line in text.getvalue().splitlines()]
    assert len(lines) == run.count == 5
    assert run.first is not None and run.last is not None and run.dest.where == "stdout"
    assert [line["seed"] for line in lines] == [3] * 5
    assert shown == [] and run.kept == []  # not a terminal: nothing drawn, nothing kept
    assert np.allclose(load_last().values, run.last.values, atol=1e-4)  # JSON keeps 4 places
    assert run.store_problem is None


def test_grids_on_a_terminal_come_chunk_by_chunk_to_the_caller() -> None:
    make_stored_model("m")
    shown: list[list[SampledPattern]] = []
    run = run_sample(
        request(n=3, seed=1),
        terminal=True,
        text_out=io.StringIO(),
        binary_out=io.BytesIO(),
        show_grids=shown.append,
    )
    assert sum(len(chunk) for chunk in shown) == run.count == 3


def test_a_file_run_writes_midi_and_refuses_to_overwrite(tmp_path: Path) -> None:
    make_stored_model("m")
    target = tmp_path / "a.mid"
    run = run_sample(
        request(n=2, output=str(target), grids_after_files=16),
        terminal=True,
        text_out=io.StringIO(),
        binary_out=io.BytesIO(),
    )
    assert list(run.written) == [target] and target.read_bytes().startswith(b"MThd")
    assert len(run.kept) == 2  # few enough to show as grids after writing
    with pytest.raises(DataError, match="already exists"):
        run_sample(
            request(n=2, output=str(target)),
            terminal=True,
            text_out=io.StringIO(),
            binary_out=io.BytesIO(),
        )


def test_steering_and_plain_sampling_refuse_mixed_requests() -> None:
    make_stored_model("m")
    with pytest.raises(UsageError, match="--genre or --genre-ambiguous"):
        run_sample(
            request(genre="rock", ambiguous=True),
            terminal=False,
            text_out=io.StringIO(),
            binary_out=io.BytesIO(),
        )
    steered = SampleRequest(steer=parse_steering(threshold="0.2,kick=0.5"), model="m", n=2, seed=4)
    run = run_sample(steered, terminal=False, text_out=io.StringIO(), binary_out=io.BytesIO())
    assert run.steered is not None and run.count == 2

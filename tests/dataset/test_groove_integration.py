"""The Groove MIDI Dataset as it is (../shared): window counts, labels, TD-11 pitches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rhythmcan_cli.dataset import build_dataset, split_by_file
from rhythmcan_cli.midi import read as midi_read
from rhythmcan_cli.midi import read_midi_windows

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WINDOWS_1_BAR_HOP = 20_671  # method.md section 9: 4/4 files, 1-bar hop, at least one note
TD11_PITCHES = (22, 26, 58, 43, 59, 53, 55, 52)


def test_groove_dataset_matches_the_published_count(groove_dir: Path, tmp_path: Path) -> None:
    data = build_dataset(
        groove_dir, labels_csv=groove_dir / "info.csv", hop=16, min_onsets=1, cache_dir=tmp_path
    )
    report = data.report
    assert report.files_found == 1150
    assert abs(len(data) - WINDOWS_1_BAR_HOP) / WINDOWS_1_BAR_HOP < 0.03
    assert not set(report.unmapped) & set(TD11_PITCHES)
    assert report.unmapped == {}  # every Groove pitch maps to one of the 9 classes
    assert {"rock", "funk", "jazz", "latin", "hiphop"} <= set(data.genres)
    assert max(report.windows_per_genre, key=report.windows_per_genre.__getitem__) == "rock"
    # the 12 files in other metres (3/4, 6/8, 5/4...) give no windows: their MIDI says so
    assert report.skip_reasons().get("no 4/4 stretch of 2 bars", 0) >= 12
    assert data.x.min() >= 0 and data.x.max() <= 1 and data.x.dtype == np.float32
    assert build_dataset(
        groove_dir, labels_csv=groove_dir / "info.csv", hop=16, min_onsets=1, cache_dir=tmp_path
    ).report.from_cache

    train, val = split_by_file(data, validation=0.1, seed=0)
    assert not set(train.file_ids.tolist()) & set(val.file_ids.tolist())
    assert 0.05 < len(val) / len(data) < 0.2


def test_groove_filters_and_time_signatures(groove_dir: Path) -> None:
    rows = (groove_dir / "info.csv").read_text(encoding="utf-8").splitlines()
    waltz = next(r.split(",")[7] for r in rows if ",3-4," in r)
    read = read_midi_windows(groove_dir / waltz, min_onsets=1)
    assert read.windows.shape[0] == 0 and read.steps_other > 0  # the MIDI meta says 3/4
    fills = build_dataset(
        groove_dir,
        labels_csv=groove_dir / "info.csv",
        where=(("beat_type", "fill"),),
        cache_dir=False,
    )
    assert 0 < len(fills) < 2_000
    assert all("fill" in f for f in fills.files)


def test_fast_reader_agrees_with_mido_on_groove_files(groove_dir: Path) -> None:
    """The byte-level reader sees the same notes, signatures and ends as mido (every 10th file)."""
    import io

    import mido

    files = sorted(groove_dir.rglob("*.mid"))[::10]
    assert len(files) > 100
    for path in files:
        data = path.read_bytes()
        scan = midi_read._scan_smf(data, 9)
        parsed = mido.MidiFile(file=io.BytesIO(data))
        notes, signatures, end = [], [], 0
        for track in parsed.tracks:
            tick = 0
            for msg in track:
                tick += msg.time
                if msg.type == "note_on" and msg.channel == 9 and msg.velocity > 0:
                    notes.append((tick, msg.note, msg.velocity))
                elif msg.type == "time_signature":
                    signatures.append((tick, msg.numerator, msg.denominator))
            end = max(end, tick)
        assert sorted(scan.notes) == sorted(notes), path
        assert [(t, n, d) for t, _, n, d in scan.signatures] == signatures, path
        assert (scan.end, scan.ticks_per_beat) == (end, parsed.ticks_per_beat), path

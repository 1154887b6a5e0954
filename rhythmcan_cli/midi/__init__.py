"""MIDI in and out: drum tracks -> 2-bar windows (read.py), patterns -> type-1 files (write.py).

The package names the stage's public API; the modules hold it.
"""

from rhythmcan_cli.midi.read import (
    MAX_EVENTS,
    MAX_FILE_BYTES,
    MAX_STEPS,
    MAX_WINDOWS,
    MidiWindows,
    parse_midi,
    read_midi_windows,
)
from rhythmcan_cli.midi.write import (
    MAX_BPM,
    MAX_LOOPS,
    MAX_SWING,
    MIN_BPM,
    WRITE_PPQ,
    midi_bytes,
    midi_files,
    write_midi,
    write_midi_files,
)

__all__ = [
    "MAX_BPM",
    "MAX_EVENTS",
    "MAX_FILE_BYTES",
    "MAX_LOOPS",
    "MAX_STEPS",
    "MAX_SWING",
    "MAX_WINDOWS",
    "MIN_BPM",
    "WRITE_PPQ",
    "MidiWindows",
    "midi_bytes",
    "midi_files",
    "parse_midi",
    "read_midi_windows",
    "write_midi",
    "write_midi_files",
]

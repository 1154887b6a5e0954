"""The one exception family of rhythmcan.

The library raises these; the CLI prints ``str(error)`` as one line and exits with
``error.exit_code``. A message says what happened and, where it can, what to do.
"""

from __future__ import annotations


class RhythmcanError(Exception):
    """Base of every error a user can cause or fix. Runtime failures exit 1."""

    exit_code: int = 1


class UsageError(RhythmcanError):
    """The command line asked for something impossible (bad option value, missing file argument)."""

    exit_code = 2


class DataError(RhythmcanError):
    """Input data (MIDI, CSV, dataset folder, pattern JSON) is missing, unreadable or unusable."""


class MidiError(DataError):
    """One MIDI file cannot be parsed. Dataset builds catch it per file and count it."""


class ModelError(RhythmcanError):
    """A model is missing, corrupt, fails its checksum, or does not fit the request."""


class StoreError(ModelError):
    """The model store refused an operation (bad name, name exists, locked by another run)."""


class AudioError(RhythmcanError):
    """Audio could not be rendered or played."""


class NotAvailableError(RhythmcanError):
    """A capability that this version does not provide yet (or an optional extra is missing)."""


class OutputError(RhythmcanError):
    """A file or folder could not be written: permissions, a full disk, a folder in the way.

    The message names the path the user asked for (never a temp file) and the cause.
    """

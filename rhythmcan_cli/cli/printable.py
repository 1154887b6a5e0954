"""Text from model files, made safe to print on a terminal.

A card's description, a genre name or an error message quoting a file can hold terminal
escape sequences (clear the screen, set the window title, fake a prompt) or line breaks that
turn one error line into several. Everything the CLI prints that came from a file goes
through :func:`printable` first: escape sequences are removed, other control characters
(C0, C1, DEL) and Unicode direction overrides become ``?``, line breaks and tabs a space.
"""

from __future__ import annotations

import re
from typing import Final

_ESCAPE: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, clear screen
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window title, hyperlinks
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]?"  # two-byte escapes (and a lone ESC)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_SPACE: Final = re.compile(r"[\t\n\r\x0b\x0c]+")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """``text`` as one line without escape sequences or control characters."""
    value = _ESCAPE.sub("", str(text))
    value = _SPACE.sub(" ", value)
    return _CONTROL.sub("?", value)

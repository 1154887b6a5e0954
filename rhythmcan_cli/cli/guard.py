"""What every command runs inside: safe text on any locale, SIGTERM like Ctrl-C, one line.

- **Encoding.** With an ASCII-only stdout (``LC_ALL=C PYTHONUTF8=0``, a serial console) a
  ``·`` in a grid title or an accented genre name raised ``UnicodeEncodeError``. Streams
  that cannot encode all of Unicode get the ``rhythmcan-ascii`` error handler: look-alikes
  (``·`` -> ``-``, ``…`` -> ``...``, ``é`` -> ``e``), ``?`` otherwise, and bytes that came
  in undecodable (``surrogateescape``) go out unchanged.
- **Signals.** SIGTERM and SIGHUP raise like Ctrl-C (:mod:`rhythmcan_cli.signals`), so temp
  files are removed and the cursor comes back; the exit status is 128 + the signal
  (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
- **Stray OS errors.** Writers raise ``OutputError`` themselves; an ``OSError`` that still
  escapes a command is printed as one line (its path and cause), never a traceback.
"""

from __future__ import annotations

import codecs
import signal
import sys
import unicodedata
from collections.abc import Callable
from typing import Final

from rhythmcan_cli import signals

ERROR_HANDLER: Final = "rhythmcan-ascii"
LOOKALIKES: Final = {
    "\u00b7": "-",  # middle dot (grid titles)
    "\u2022": "*",  # bullet
    "\u2026": "...",  # ellipsis (rich's truncation)
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u00d7": "x",  # multiplication sign
    "\u2192": "->",
    "\u2190": "<-",
    "\u2265": ">=",
    "\u2264": "<=",
    "\u00b1": "+-",
    "\u00b5": "u",
    "\u00a0": " ",
}


def _ascii_lookalike(char: str) -> str | bytes:
    if "\udc80" <= char <= "\udcff":  # an undecodable byte kept by surrogateescape
        return bytes([ord(char) - 0xDC00])
    if char in LOOKALIKES:
        return LOOKALIKES[char]
    plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
    return plain or "?"


def _fallback(error: UnicodeError) -> tuple[str | bytes, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    parts = [_ascii_lookalike(char) for char in error.object[error.start : error.end]]
    if all(isinstance(part, str) for part in parts):
        return "".join(str(part) for part in parts), error.end
    return b"".join(p if isinstance(p, bytes) else p.encode("ascii") for p in parts), error.end


def _encodes_everything(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name in ("utf-8", "utf-16", "utf-32", "gb18030")
    except LookupError:
        return False


def make_streams_safe() -> None:
    """Give stdout and stderr the ``rhythmcan-ascii`` handler unless they encode everything."""
    try:
        codecs.lookup_error(ERROR_HANDLER)
    except LookupError:
        codecs.register_error(ERROR_HANDLER, _fallback)
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or "ascii"
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and not _encodes_everything(encoding):
            reconfigure(errors=ERROR_HANDLER)


def stray_os_error(error: OSError) -> str:
    """One line for an OSError nothing else explained: ``PATH: cause``."""
    from rhythmcan_cli.atomic import cause

    text = cause(error)
    return f"{error.filename}: {text}" if error.filename else text


def run_guarded(app: Callable[[], object]) -> None:
    """Run the Typer ``app`` with safe streams, termination signals and the one-line rule."""
    signals.install_termination_handlers()
    make_streams_safe()
    try:
        app()
    except SystemExit as done:
        # Typer turns a KeyboardInterrupt outside console.run (start-up, printing results)
        # into a silent exit 130: say what stopped the command, with that signal's code.
        if done.code == 128 + signal.SIGINT and signals.unannounced_stop():
            print(signals.stop_message(), file=sys.stderr)
            raise SystemExit(signals.exit_code()) from None
        raise
    except KeyboardInterrupt as interrupt:  # before Typer took over
        print(signals.stop_message(interrupt), file=sys.stderr)
        raise SystemExit(signals.exit_code(interrupt)) from None
    except OSError as error:
        print(f"error: {stray_os_error(error)}", file=sys.stderr)
        raise SystemExit(1) from None


__all__ = ["ERROR_HANDLER", "make_streams_safe", "run_guarded", "stray_os_error"]

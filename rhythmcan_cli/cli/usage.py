"""The root command group: usage errors as one line, and flags without a ``<bool>`` metavar.

Typer renders a bad option as a usage line, a hint line and a 3-line boxed panel; the README
promises one line, like every other rhythmcan error. Typer also labels every on/off flag
``<bool>`` in ``--help``, although a flag takes no value. Both are fixed here, once, for the
whole command tree, without touching how commands declare their options.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup


def _plain_flags(command: Any, help_names: Sequence[str]) -> None:
    """Give every flag of ``command`` and its subcommands an empty metavar (no ``<bool>``).

    The help option is made (and cached by the command) here too, so that it is plain as well.
    """
    ctx = typer.Context(command, help_option_names=list(help_names))
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _plain_flags(sub, help_names)


def usage_line(error: typer.TyperException) -> str:
    """One line for a command-line error: what is wrong and where the help is."""
    message = " ".join(error.format_message().split()).rstrip(".")
    ctx = getattr(error, "ctx", None)
    if ctx is not None:
        names = ctx.help_option_names
        message += f" (see '{ctx.command_path} {names[0] if names else '--help'}')"
    return f"error: {message}"


def _exit_usage(error: typer.TyperException) -> NoReturn:
    if type(error).__name__ == "NoArgsIsHelpError":
        # the help text is the message (already printed by rich's formatter, or plain here)
        text = error.format_message()
        if text.strip():
            sys.stdout.write(text + "\n")
        sys.exit(error.exit_code)
    sys.stderr.write(usage_line(error) + "\n")
    sys.exit(error.exit_code)


class RhythmcanGroup(TyperGroup):
    """The ``rhythmcan`` command group: Typer's, with one-line usage errors and plain flags."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; in standalone mode errors become one line and an exit code."""
        _plain_flags(self, self.context_settings.get("help_option_names", ["--help"]))
        if not standalone_mode:
            return super().main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        try:
            result = super().main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )
        except typer.TyperException as error:
            _exit_usage(error)
        except typer.Abort:
            sys.stderr.write("aborted\n")
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


__all__ = ["RhythmcanGroup", "usage_line"]

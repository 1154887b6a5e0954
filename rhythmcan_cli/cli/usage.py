"""The root command group: lazy subcommands, one-line usage errors, flags without ``<bool>``.

- Subcommands are imported when they are run (or listed by ``--help``), not at start-up:
  ``rhythmcan sample`` imports the sample command's module, not the training or evaluation
  ones (:class:`LazyCommands`).
- Typer renders a bad option as a usage line, a hint line and a 3-line boxed panel; the
  README promises one line, like every other rhythmcan error.
- Typer labels every on/off flag ``<bool>`` in ``--help``, although a flag takes no value.

All three are done here, once, for the whole command tree, without touching how commands
declare their options.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Any, ClassVar, NoReturn

import typer
from typer.core import TyperGroup

HELP_NAMES: tuple[str, ...] = ("-h", "--help")


def _plain_flags(command: Any, help_names: Sequence[str] = HELP_NAMES) -> None:
    """Give every flag of ``command`` (not its subcommands) an empty metavar (no ``<bool>``).

    The help option is made (and cached by the command) here too, so that it is plain as well.
    """
    ctx = typer.Context(command, help_option_names=list(help_names))
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


def build_command(name: str, target: str) -> Any:
    """The Typer command for ``target`` (``module:attribute``): a command function, or a
    ``typer.Typer`` sub-application (a group such as ``models``)."""
    module, _, attribute = target.partition(":")
    obj = getattr(importlib.import_module(module), attribute)
    holder = typer.Typer()  # two entries, so that Typer builds a group holding them
    if isinstance(obj, typer.Typer):
        holder.add_typer(obj, name=name)  # a group even when it has a single command
    else:
        holder.command(name)(obj)
    holder.command("-")(lambda: None)
    group: Any = typer.main.get_command(holder)
    command = group.commands[name]
    _plain_flags(command)
    for sub in getattr(command, "commands", {}).values():
        _plain_flags(sub)
    return command


class LazyCommands(MutableMapping[str, Any]):
    """A group's commands, each built (its module imported) on first use."""

    def __init__(self, built: Mapping[str, Any], lazy: Mapping[str, str]) -> None:
        self._targets = dict(lazy)
        self._built = dict(built)
        self._order = [*self._targets, *(n for n in self._built if n not in self._targets)]

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in self._targets:
                raise KeyError(name)
            self._built[name] = build_command(name, self._targets[name])
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        if name not in self._order:
            self._order.append(name)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        self._built.pop(name, None)
        self._targets.pop(name, None)
        self._order.remove(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._order


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
    """The ``rhythmcan`` command group: Typer's, with lazy subcommands (``lazy``: name ->
    ``module:attribute``), one-line usage errors and plain flags."""

    lazy: ClassVar[dict[str, str]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(self.commands, self.lazy)

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
        _plain_flags(self, self.context_settings.get("help_option_names", HELP_NAMES))
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


def lazy_group(commands: Mapping[str, str]) -> type[RhythmcanGroup]:
    """A RhythmcanGroup class whose subcommands are ``commands`` (name -> module:attribute)."""
    return type("LazyRhythmcanGroup", (RhythmcanGroup,), {"lazy": dict(commands)})


__all__ = ["LazyCommands", "RhythmcanGroup", "build_command", "lazy_group", "usage_line"]

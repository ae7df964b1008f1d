"""Help that reads as words: ``--seed NUMBER`` rather than Typer's ``<int>``, no ``<bool>``."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, get_args, get_origin

WORDS: dict[Any, str] = {int: "NUMBER", float: "NUMBER", str: "TEXT", Path: "PATH",
                         date: "DATE", datetime: "TIME"}


def word_for(annotation: Any) -> str:
    if get_origin(annotation) is list:
        (inner,) = get_args(annotation) or (str,)
        return f"{word_for(inner)}..."
    return WORDS.get(annotation, "VALUE")


def humanise_metavars(command: Any) -> None:
    """Give every option of ``command`` (and its subcommands) a word as metavar, unless the
    command set one; flags show none. Arguments keep their own upper-case name and show a
    word as their type."""
    for sub in getattr(command, "commands", {}).values():
        humanise_metavars(sub)
    _quiet_help_option(command)
    for param in getattr(command, "params", []):
        if param.metavar is not None or not hasattr(param, "type_descriptor"):
            continue
        if getattr(param, "is_flag", False) or param.type_descriptor.annotation is bool:
            param.metavar = ""
        elif param.param_type_name == "argument":  # the name column already says PATHS...
            word = word_for(param.type_descriptor.annotation).removesuffix("...")
            param.display_type = lambda ctx, word=word: word
        else:
            param.metavar = word_for(param.type_descriptor.annotation)


def _quiet_help_option(command: Any) -> None:
    """``--help`` is made on demand (and cached) by the command: make it show no type."""
    original = getattr(command, "get_help_option", None)
    if original is None or getattr(original, "humanised", False):
        return

    def get_help_option(ctx: Any) -> Any:
        option = original(ctx)
        if option is not None:
            option.metavar = ""
        return option

    get_help_option.humanised = True  # type: ignore[attr-defined]
    command.get_help_option = get_help_option

"""The ``rumi-xarray`` command line: the parser, error and warning lines, exit codes.

Each subcommand is one module of this package (``demo``, ``convert``, ``info``,
``header``, ``refs``, ``mosaic``, ``catalog``) with two functions: ``register(commands)``
adds its parser (and sets ``run``), ``run(args) -> int`` runs it and imports what it
needs only then. Options the subcommands share are in :mod:`.options`. A new
subcommand is one more module and one more entry in :data:`COMMANDS`.

Exit codes: 0 success, 1 bad data or files (one ``rumi-xarray: error: ...`` line on
stderr, no traceback), 2 bad usage (argparse), 130 interrupted. Warnings are one
``rumi-xarray: warning: ...`` line each; messages of the library that name a keyword
(``variable=``, ``time=[...]``) name the subcommand's flag instead (``--variable``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any

from . import catalog, convert, demo, header, info, mosaic, refs
from .options import PROG, cli_text

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from types import ModuleType

COMMANDS: tuple[ModuleType, ...] = (demo, convert, info, header, refs, mosaic, catalog)
"""The subcommands' modules, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The ``rumi-xarray`` parser with every subcommand of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Read, write and inspect rumi rasters with xarray.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    for sub in commands.choices.values():
        sub.set_defaults(flags=_flags(sub))
    return parser


def _flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each option's destination and its long flag: ``{"fill_value": "--fill-value"}``."""
    return {
        action.dest: max(action.option_strings, key=len)
        for action in parser._actions
        if action.option_strings and action.dest != "help"
    }


def _error_text(exc: BaseException, args: argparse.Namespace) -> str:
    """One line for an error and its notes: a remote object that is missing is "not found: URL"."""
    if isinstance(exc, FileNotFoundError) and exc.errno is None:  # fsspec: the bare path
        name = str(exc.filename if exc.filename is not None else (exc.args or ("",))[0])
        urls = [v for v in vars(args).values() if isinstance(v, str) and "://" in v]
        for url in urls if name else ():
            if url.endswith(name.lstrip("/")):
                return f"not found: {url}"
        if name and not any(c.isspace() for c in name):
            return f"not found: {name}"
    parts = [str(exc), *getattr(exc, "__notes__", ())]  # notes name the source
    text = "; ".join(part for part in parts if part)
    return cli_text(text, args.flags) or type(exc).__name__


@contextlib.contextmanager
def _one_line_warnings(flags: dict[str, str]) -> Iterator[None]:
    """Show warnings as ``rumi-xarray: warning: ...`` lines; data-loss warnings always."""
    from ..errors import RumiDataLossWarning

    def show(message: Warning | str, *_: Any, **__: Any) -> None:
        print(f"{PROG}: warning: {cli_text(str(message), flags)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", RumiDataLossWarning)
        warnings.showwarning = show
        yield


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rumi-xarray")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if hasattr(args, "check"):
            args.check(args)
    except SystemExit as exc:  # argparse: --help, --version (0) or bad usage (2)
        return exc.code if isinstance(exc.code, int) else 0
    try:
        with _one_line_warnings(args.flags):
            return int(args.run(args))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `rumi-xarray info --json f.rumi | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, TypeError, OSError, ImportError) as exc:
        print(f"{PROG}: error: {_error_text(exc, args)}", file=sys.stderr)
        return 1

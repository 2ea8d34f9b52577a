"""What the subcommands share: the program name, common options, paths, messages.

``--quiet`` and ``--storage-option`` are registered here (:func:`add_quiet`,
:func:`add_storage_options`) and read back with :func:`storage_options`; :func:`cli_text`
turns a library message's keywords (``variable=``) into the subcommand's flags
(``--variable``).
"""

from __future__ import annotations

import argparse
import json
import posixpath
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

PROG = "rumi-xarray"


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """``-q/--quiet``: no progress bars (``args.quiet``)."""
    parser.add_argument("-q", "--quiet", action="store_true", help="hide progress bars")


def add_storage_options(parser: argparse.ArgumentParser) -> None:
    """``--storage-option KEY=VALUE``, repeatable; read with :func:`storage_options`."""
    parser.add_argument(
        "--storage-option",
        dest="storage_options",
        metavar="KEY=VALUE",
        action="append",
        type=_key_value,
        default=[],
        help="fsspec option for URLs, repeatable (e.g. anon=true); VALUE is JSON or text",
    )


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def storage_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """The ``--storage-option`` pairs as a dict, or ``None`` when none were given."""
    return dict(args.storage_options) or None


def beside(path: str, suffix: str) -> str:
    """``path`` (a local path or a URL) with its suffix replaced, e.g. ``.header``."""
    return posixpath.splitext(path)[0] + suffix


def write_bytes(target: str, data: bytes, options: dict[str, Any] | None) -> None:
    """Write ``data`` to a local path or an fsspec URL."""
    if "://" in target and not target.startswith("file://"):
        import fsspec

        with fsspec.open(target, "wb", **(options or {})) as f:
            f.write(data)
    else:
        Path(target.removeprefix("file://")).write_bytes(data)


def glob_paths(pattern: str, options: dict[str, Any] | None) -> list[str]:
    """The files matching a glob (local or URL), sorted; URLs keep their protocol."""
    import fsspec

    fs, _ = fsspec.core.url_to_fs(pattern, **(options or {}))
    found = sorted(fs.glob(pattern))
    if not found:
        raise FileNotFoundError(f"no files match {pattern!r}")
    if "://" in pattern:
        return [fs.unstrip_protocol(p) for p in found]
    return found


def cli_text(text: str, flags: dict[str, str]) -> str:
    """A library message on one line, its keywords (``time=[...]``) as the flags (``--time``)."""
    if flags:
        names = "|".join(re.escape(name) for name in sorted(flags, key=len, reverse=True))
        text = re.sub(
            rf"\b({names})=(True\b|\[[^\]]*\]|\.\.\.)?",
            lambda m: flags[m[1]] + ("" if m[2] else " "),
            text,
        )
    return " ".join(text.split())

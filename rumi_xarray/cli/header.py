"""``rumi-xarray header``: write a file's header blob, with which readers skip its index."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .options import add_storage_options, beside, storage_options, write_bytes

if TYPE_CHECKING:
    import argparse

    from .options import Commands


def register(commands: Commands) -> None:
    """Add the ``header`` subcommand to ``commands``."""
    header = commands.add_parser(
        "header",
        help="write a file's header blob, with which readers skip its index",
        description="Write the canonical external header blob of a rumi file (any "
        "generation); xr.open_dataset(path, engine='rumi', header=blob) then reads "
        "no index.",
    )
    header.add_argument("source", help="rumi path or URL")
    header.add_argument(
        "-o", "--output", metavar="BLOB", help="output path or URL (default: SOURCE.header)"
    )
    add_storage_options(header)
    header.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``header``; returns the exit code."""
    from ..decode import header_blob

    blob = header_blob(args.source, storage_options=storage_options(args))
    target = args.output or beside(args.source, ".header")
    write_bytes(target, blob, storage_options(args))
    print(f"wrote {target} ({len(blob)} bytes)")
    return 0

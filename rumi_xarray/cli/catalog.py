"""``rumi-xarray catalog``: scan files into a Parquet catalog of header blobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .options import add_quiet, add_storage_options, glob_paths, storage_options

if TYPE_CHECKING:
    import argparse

    from .options import Commands


def register(commands: Commands) -> None:
    """Add the ``catalog`` subcommand to ``commands``."""
    catalog = commands.add_parser(
        "catalog",
        help="scan files into a Parquet catalog of header blobs",
        description="Scan the rumi files under DIR into a Parquet catalog (path, header blob, "
        "shape, dtype, crs, bounds, ...) from which mosaics build without file I/O.",
    )
    catalog.add_argument("directory", help="directory (or URL) to scan, recursively")
    catalog.add_argument("-o", "--output", required=True, help="output .parquet")
    catalog.add_argument("--glob", default="**/*.rumi", help="files to take (%(default)s)")
    add_quiet(catalog)
    add_storage_options(catalog)
    catalog.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``catalog``; returns the exit code."""
    from ..virtual.catalog import catalog, write_catalog

    paths = glob_paths(args.directory.rstrip("/") + "/" + args.glob, storage_options(args))
    table = catalog(
        paths, storage_options=storage_options(args), progress=False if args.quiet else None
    )
    write_catalog(table, args.output)
    print(f"wrote {args.output}: {table.num_rows} files")
    return 0

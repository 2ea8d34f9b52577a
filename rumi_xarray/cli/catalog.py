"""``rumi-xarray catalog``: scan files into a Parquet catalog of header blobs."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Literal

from .options import add_quiet, add_storage_options, glob_paths, storage_options

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from distributed import Client

    from .options import Commands


def register(commands: Commands) -> None:
    """Add the ``catalog`` subcommand to ``commands``."""
    catalog = commands.add_parser(
        "catalog",
        help="scan files into a Parquet catalog of header blobs",
        description="Scan the rumi files under DIR into a Parquet catalog (path, header blob, "
        "shape, dtype, crs, bounds, ...) from which mosaics build without file I/O. Files "
        "that cannot be read become rows with an error (a warning names them).",
    )
    catalog.add_argument("directory", help="directory (or URL) to scan, recursively")
    catalog.add_argument("-o", "--output", required=True, help="output .parquet")
    catalog.add_argument("--glob", default="**/*.rumi", help="files to take (%(default)s)")
    catalog.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="read the headers on this Dask cluster (e.g. tcp://host:8786); default: here",
    )
    catalog.add_argument(
        "--batch-size", type=int, metavar="N", help="files per cluster task (default: automatic)"
    )
    add_quiet(catalog)
    add_storage_options(catalog)
    catalog.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``catalog``; returns the exit code."""
    from ..virtual.catalog import catalog, write_catalog

    paths = glob_paths(args.directory.rstrip("/") + "/" + args.glob, storage_options(args))
    with _client(args.scheduler) as client:
        table = catalog(
            paths,
            storage_options=storage_options(args),
            client=client,
            batch_size=args.batch_size,
            progress=False if args.quiet else None,
        )
    write_catalog(table, args.output)
    failed = table.num_rows - table.column("error").null_count
    note = f" ({failed} could not be read: error rows)" if failed else ""
    print(f"wrote {args.output}: {table.num_rows} files{note}")
    return 0


@contextlib.contextmanager
def _client(address: str | None) -> Iterator[Client | Literal[False]]:
    """A client of the scheduler at ``address``, or ``False`` (scan here) without one."""
    if address is None:
        yield False
        return
    from distributed import Client

    with Client(address) as client:  # type: ignore[no-untyped-call]
        yield client
